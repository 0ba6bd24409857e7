"""Send a test call: a recipient and content, or a template and its context; the API's validation."""
from __future__ import annotations

import json

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from marshmallow import ValidationError

from service.console.access import requires
from service.console.blueprint import bp
from service.console.forms import TestCallForm
from service.console.views.messages import local_to_iso
from service.dialer.sending import send_message
from service.dialer.templates import send_template_or_refuse
from service.errors import InvalidInputError
from service.schemas.messages import MessageCreateSchema, TemplateSendSchema

TEST_CALL_TAG = "console-test-call"
TIMING_FIELDS = ("send_at", "valid_until", "calling_hours")


def _request_body(form: TestCallForm) -> dict:
    """The API request this form stands for, so the API's schemas check it."""
    body = {"recipient": form.recipient.data, "tag": form.tag.data or TEST_CALL_TAG}
    for name in TIMING_FIELDS:
        value = (form[name].data or "").strip()
        if value:
            # The two moments are typed in the operator's zone (datetime-local inputs).
            body[name] = value if name == "calling_hours" else local_to_iso(value)
    if form.template_slug.data:
        try:
            body["context_data"] = json.loads(form.context_data.data or "{}")
        except ValueError:
            raise ValidationError({"context_data": [_("Not valid JSON.")]}) from None
    else:
        body["content"] = form.content.data or ""
    return body


def place_test_call(form: TestCallForm):
    body = _request_body(form)
    if form.template_slug.data:
        data = TemplateSendSchema().load(body)
        return send_template_or_refuse(form.template_slug.data, data.pop("recipient"), data.pop("context_data"),
                                       **data)
    data = MessageCreateSchema().load(body)
    return send_message(data.pop("recipient"), data.pop("content"), **data)


@bp.route("/test-call", methods=["GET", "POST"])
@requires("operator")
def test_call():
    form = TestCallForm()
    errors = {}
    if form.validate_on_submit():
        try:
            message = place_test_call(form)
        except ValidationError as exc:
            errors = exc.messages
        except InvalidInputError as exc:
            errors = exc.errors or {"_schema": [exc.message]}
        else:
            flash(_("Test call stored as message %(id)s.", id=message.id), "info")
            return redirect(url_for("console.message_page", message_id=message.id), code=303)
    errors = {**form.errors, **errors}
    status = 422 if request.method == "POST" else 200
    return render_template("console/test_call.html", form=form, errors=errors), status
