// Live template preview: renders the body as it is typed; without JavaScript the Preview button does it.
(function () {
  "use strict";
  var form = document.getElementById("template-form");
  if (!form || !form.dataset.preview || !window.fetch) { return; }
  var output = document.getElementById("preview");
  var problem = document.getElementById("preview-error");
  var lines = document.getElementById("body-lines");
  var timer = null;
  function show(result) {
    output.textContent = result.content || "";
    var texts = [];
    Object.keys(result.errors || {}).forEach(function (name) { texts = texts.concat(result.errors[name]); });
    problem.textContent = texts.join(" ");
    lines.textContent = "";
    if (result.line) {
      var source = form.elements.body.value.split("\n")[result.line - 1] || "";
      var note = document.createElement("p");
      note.className = "error";
      note.id = "syntax-error";
      note.textContent = form.dataset.lineLabel.replace("{n}", result.line) + ": " + source + " — " + result.line_error;
      lines.appendChild(note);
    }
  }
  function preview() {
    var data = new FormData();
    data.append("csrf_token", form.elements.csrf_token.value);
    data.append("body", form.elements.body.value);
    data.append("sample_context", form.elements.sample_context.value);
    fetch(form.dataset.preview, { method: "POST", body: data, credentials: "same-origin" })
      .then(function (response) { return response.json(); })
      .then(show)
      .catch(function () { /* keep the last preview */ });
  }
  form.addEventListener("input", function () {
    window.clearTimeout(timer);
    timer = window.setTimeout(preview, 300);
  });
}());
