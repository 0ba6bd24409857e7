"""Templates: list, create, edit with a preview (live with JavaScript), delete with confirmation."""
from __future__ import annotations

import json
import re

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from service.console.access import requires
from service.console.blueprint import bp
from service.console.forms import MAX_BODY_LENGTH, MAX_CONTEXT_LENGTH, ConfirmForm, TemplateForm
from service.dialer import templates as template_service
from service.errors import InvalidInputError

_LINE = re.compile(r"line (\d+): (.*)")
TEMPLATE_PAGE = 100


def syntax_error_line(errors: dict) -> tuple[int | None, str | None]:
    """(line number, message) of a body syntax error among `errors`, if there is one."""
    for text in errors.get("body", []):
        found = _LINE.search(text)
        if found:
            return int(found.group(1)), found.group(2)
    return None, None


def _context(text: str | None) -> dict:
    try:
        value = json.loads(text or "{}")
    except ValueError:
        raise InvalidInputError(errors={"sample_context": [_("Not valid JSON.")]}) from None
    if not isinstance(value, dict):
        raise InvalidInputError(errors={"sample_context": [_("A JSON object, such as {\"name\": \"Jana\"}.")]})
    return value


def render_preview(body: str, context_text: str | None) -> dict:
    """{"content": …} or {"errors": …, "line": n, "line_error": …}: what the preview panel shows."""
    try:
        return {"content": template_service.preview_body(body, _context(context_text))}
    except InvalidInputError as exc:
        errors = exc.errors or {}
        line, message = syntax_error_line(errors)
        return {"errors": errors, "line": line, "line_error": message}


def _page(form, template=None, preview=None, errors=None, status=200):
    preview = preview or {}
    errors = {**(errors or {}), **preview.get("errors", {})}
    line, message = syntax_error_line(errors)
    return render_template("console/template_edit.html", form=form, template=template, preview=preview,
                           errors=errors, error_line=line, error_message=message), status


@bp.route("/templates")
def template_list():
    page = template_service.list_templates(request.args.get("cursor") or None, TEMPLATE_PAGE)
    return render_template("console/templates.html", page=page)


@bp.route("/templates/new", methods=["GET", "POST"])
@requires("operator")
def template_create():
    form = TemplateForm()
    if not form.validate_on_submit():
        return _page(form, errors=form.errors, status=422 if request.method == "POST" else 200)
    if request.form.get("action") == "preview":
        return _page(form, preview=render_preview(form.body.data, form.sample_context.data))
    try:
        template_service.create_template(form.slug.data, form.body.data, form.is_active.data)
    except InvalidInputError as exc:
        return _page(form, errors=exc.errors, status=422)
    flash(_("Template %(slug)s created.", slug=form.slug.data), "info")
    return redirect(url_for("console.template_edit", slug=form.slug.data), code=303)


@bp.route("/templates/<slug>", methods=["GET", "POST"])
def template_edit(slug):
    template = template_service.get_template(slug)
    form = TemplateForm(obj=template if request.method == "GET" else None, slug=template.slug)
    if request.method == "GET":
        return _page(form, template, preview=render_preview(template.body, form.sample_context.data))
    if not current_user.may("operator"):
        abort(403)
    if not form.validate_on_submit():
        return _page(form, template, errors=form.errors, status=422)
    preview = render_preview(form.body.data, form.sample_context.data)
    if request.form.get("action") == "preview":
        return _page(form, template, preview=preview)
    try:
        template_service.update_template(slug, form.body.data, form.is_active.data)
    except InvalidInputError as exc:
        return _page(form, template, preview=preview, errors=exc.errors, status=422)
    flash(_("Template %(slug)s saved.", slug=slug), "info")
    return redirect(url_for("console.template_edit", slug=slug), code=303)


@bp.route("/templates/preview", methods=["POST"])
@requires("operator")
def template_preview():
    """The live preview's data (JSON) for the body and context being typed."""
    body, context = request.form.get("body", ""), request.form.get("sample_context", "")
    if len(body) > MAX_BODY_LENGTH or len(context) > MAX_CONTEXT_LENGTH:
        return jsonify({"errors": {"body": [_("Too long to preview.")]}}), 413
    return jsonify(render_preview(body, context))


@bp.route("/templates/<slug>/delete", methods=["GET", "POST"])
@requires("operator")
def template_delete(slug):
    template = template_service.get_template(slug)
    form = ConfirmForm()
    if form.validate_on_submit():
        template_service.delete_template(slug)
        flash(_("Template %(slug)s deleted.", slug=slug), "info")
        return redirect(url_for("console.template_list"), code=303)
    return render_template("console/template_delete.html", template=template, form=form)

