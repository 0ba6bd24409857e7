"""Callback endpoints: everyone reads them; admins create, enable or disable, rotate and delete."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from service.console.access import requires
from service.console.blueprint import bp
from service.console.callback_forms import EndpointForm, ReplayForm
from service.console.forms import ConfirmForm
from service.dialer.callbacks import deliveries, endpoints
from service.errors import InvalidInputError
from service.models.callback import DELIVERY_STATUSES

ENDPOINT_ID = "int(min=1, max=9223372036854775807):endpoint_id"
ENDPOINT_PAGE = 100
DELIVERY_PAGE = 50


def delivery_status_filter() -> str | None:
    status = request.args.get("status", "")
    return status if status in DELIVERY_STATUSES else None


@bp.route("/callbacks")
def callback_endpoint_list():
    page = endpoints.list_endpoints(request.args.get("cursor") or None, ENDPOINT_PAGE)
    return render_template("console/callback_endpoints.html", page=page)


@bp.route("/callbacks/new", methods=["GET", "POST"])
@requires("admin")
def callback_endpoint_create():
    form = EndpointForm()
    if not form.validate_on_submit():
        return _form_page(form, form.errors, 422 if request.method == "POST" else 200)
    try:
        issued = endpoints.create_endpoint(form.url.data.strip(), form.description.data or "", form.event_types.data,
                                           form.tag.data or None, form.enabled.data)
    except InvalidInputError as exc:
        return _form_page(form, exc.errors or {"url": [exc.message]}, 422)
    return _secret_page(issued, _("Endpoint created."), 201)


def _form_page(form, errors, status):
    return render_template("console/callback_endpoint_new.html", form=form, errors=errors), status


def _secret_page(issued, title, status=200):
    # The only time the secret is shown: the page is not cached (the console's Cache-Control: no-store).
    return render_template("console/callback_secret.html", endpoint=issued.endpoint, secret=issued.secret,
                           title=title), status


@bp.route(f"/callbacks/<{ENDPOINT_ID}>")
def callback_endpoint_page(endpoint_id):
    endpoint = endpoints.get_endpoint(endpoint_id)
    status = delivery_status_filter()
    page = deliveries.list_endpoint_deliveries(endpoint_id, status, request.args.get("cursor") or None,
                                               DELIVERY_PAGE)
    return render_template("console/callback_endpoint.html", endpoint=endpoint, page=page, status=status,
                           form=ConfirmForm(), replay_form=ReplayForm())


@bp.route(f"/callbacks/<{ENDPOINT_ID}>/enabled", methods=["POST"])
@requires("admin")
def callback_endpoint_enable(endpoint_id):
    enabled = request.form.get("enabled") == "true"
    endpoints.update_endpoint(endpoint_id, enabled=enabled)
    flash(_("Endpoint enabled.") if enabled else _("Endpoint disabled."), "info")
    return redirect(url_for("console.callback_endpoint_page", endpoint_id=endpoint_id), code=303)


@bp.route(f"/callbacks/<{ENDPOINT_ID}>/rotate-secret", methods=["POST"])
@requires("admin")
def callback_endpoint_rotate(endpoint_id):
    return _secret_page(endpoints.rotate_secret(endpoint_id), _("New secret issued."))


@bp.route(f"/callbacks/<{ENDPOINT_ID}>/delete", methods=["GET", "POST"])
@requires("admin")
def callback_endpoint_delete(endpoint_id):
    endpoint = endpoints.get_endpoint(endpoint_id)
    form = ConfirmForm()
    if form.validate_on_submit():
        endpoints.delete_endpoint(endpoint_id)
        flash(_("Endpoint %(id)s deleted.", id=endpoint_id), "info")
        return redirect(url_for("console.callback_endpoint_list"), code=303)
    return render_template("console/callback_endpoint_delete.html", endpoint=endpoint, form=form)
