"""Cancel a message from its page: operators and admins; the history records the channel "console"."""
from __future__ import annotations

from flask import flash, redirect, url_for
from flask_babel import gettext as _

from service.console.access import requires
from service.console.blueprint import bp
from service.console.views.messages import MAX_MESSAGE_ID
from service.dialer.timing.cancel import NotCancellableError, cancel_message
from service.dialer.timing.withdrawal import CancelOutcome


@bp.route(f"/messages/<int(min=1, max={MAX_MESSAGE_ID}):message_id>/cancel", methods=["POST"])
@requires("operator")
def message_cancel(message_id):
    try:
        message, outcome = cancel_message(message_id, channel="console")
    except NotCancellableError as exc:
        state = (exc.errors or {}).get("state", "")
        flash(_("Message %(id)s cannot be cancelled any more: it is %(state)s.", id=message_id,
                state=state.replace("_", " ").capitalize() or _("final")), "error")
    else:
        if outcome is CancelOutcome.CANCELLED:
            flash(_("Message %(id)s cancelled.", id=message.id), "info")
        else:
            flash(_("Cancel requested for message %(id)s: the provider's record is being taken back; "
                    "the message becomes Cancelled once it is removed.", id=message.id), "info")
    return redirect(url_for("console.message_page", message_id=message_id), code=303)
