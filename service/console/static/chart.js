// Live "calls per hour" chart: redraws the server-rendered SVG bars every 30 seconds.
(function () {
  "use strict";
  var chart = document.getElementById("calls-chart");
  if (!chart || !window.fetch) { return; }
  var SVG = "http://www.w3.org/2000/svg";
  function draw(hours) {
    var peak = Math.max(1, Math.max.apply(null, hours.map(function (h) { return h.calls; })));
    Array.prototype.slice.call(chart.querySelectorAll("rect")).forEach(function (bar) { bar.remove(); });
    hours.forEach(function (hour, index) {
      var height = Math.round(hour.calls / peak * 1000) / 10;
      var bar = document.createElementNS(SVG, "rect");
      bar.setAttribute("x", index * 20 + 2);
      bar.setAttribute("y", 105 - height);
      bar.setAttribute("width", 16);
      bar.setAttribute("height", height);
      bar.setAttribute("fill", "#2b6cb0");
      var title = document.createElementNS(SVG, "title");
      title.textContent = hour.hour + ": " + hour.calls;
      bar.appendChild(title);
      chart.insertBefore(bar, chart.lastElementChild);
    });
  }
  function refresh() {
    fetch(chart.dataset.source, { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (hours) { if (hours) { draw(hours); } })
      .catch(function () { /* the page keeps its last chart */ });
  }
  window.setInterval(refresh, 30000);
}());
