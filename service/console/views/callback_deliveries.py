"""Callback deliveries: every target's (failed ones are the dead letters), retry one, replay an
endpoint's since a time (operators and admins); what the message page and dashboard show of them."""
from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask import flash, redirect, render_template, request, url_for
from flask_babel import get_timezone
from flask_babel import gettext as _

from service.console.access import requires
from service.console.blueprint import bp
from service.console.callback_forms import ReplayForm
from service.console.forms import ConfirmForm
from service.console.views.callbacks import DELIVERY_PAGE, ENDPOINT_ID, delivery_status_filter
from service.dialer.callbacks import deliveries

DELIVERY_ID = "int(min=1, max=9223372036854775807):delivery_id"
FAILURE_WINDOW = timedelta(hours=24)


@bp.route("/callback-deliveries")
def callback_delivery_list():
    status = delivery_status_filter()
    page = deliveries.list_deliveries(status, request.args.get("cursor") or None, DELIVERY_PAGE)
    return render_template("console/callback_deliveries.html", page=page, status=status, form=ConfirmForm())


@bp.route(f"/callback-deliveries/<{DELIVERY_ID}>/retry", methods=["POST"])
@requires("operator")
def callback_delivery_retry(delivery_id):
    delivery = deliveries.retry_delivery(delivery_id)
    flash(_("Delivery %(id)s will be sent again.", id=delivery_id), "info")
    if delivery.endpoint_id is None:
        return redirect(url_for("console.message_page", message_id=delivery.dialer_message_id), code=303)
    return redirect(url_for("console.callback_endpoint_page", endpoint_id=delivery.endpoint_id), code=303)


@bp.route(f"/callbacks/<{ENDPOINT_ID}>/replay", methods=["POST"])
@requires("operator")
def callback_endpoint_replay(endpoint_id):
    form = ReplayForm()
    if form.validate_on_submit():
        # Typed in the operator's zone. Flask-Babel's zone is a pytz one, whose `replace` would use the
        # zone's first historical offset (LMT), not the offset of that date.
        since = form.since.data.replace(tzinfo=ZoneInfo(str(get_timezone())))
        queued = deliveries.replay_endpoint(endpoint_id, since)
        flash(_("%(count)s deliveries will be sent again.", count=queued), "info")
    else:
        flash(_("Give the time to replay from."), "error")
    return redirect(url_for("console.callback_endpoint_page", endpoint_id=endpoint_id), code=303)


@bp.app_template_global()
def message_callbacks(message_id: int):
    """The first callback deliveries of a message, for its page's callbacks section."""
    return deliveries.list_message_callbacks(message_id, None, DELIVERY_PAGE)


@bp.app_template_global()
def callback_dead_letters(now: datetime):
    """Dead letters whose last attempt was in the last 24 hours, and in all, for the dashboard."""
    return deliveries.count_dead_letters(now - FAILURE_WINDOW)
