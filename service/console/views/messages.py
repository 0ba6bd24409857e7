"""Messages: the filtered list (the API's filters as a form, newest first) and one message's page."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import render_template, request
from flask_babel import get_timezone
from marshmallow import EXCLUDE, ValidationError

from service.console.blueprint import bp
from service.console.forms import ConfirmForm
from service.dialer.messages import MessageFilter, get_message, list_message_events, list_messages
from service.dialer.timing.cancel import is_cancellable
from service.errors import InvalidInputError
from service.infrastructure.pagination import Page
from service.models.states import DialerMessageState
from service.schemas.messages import MessageQuerySchema

FILTER_FIELDS = ("state", "tag", "recipient", "template_slug", "is_final_state", "needs_status_lookup",
                 "content_type", "object_id", "created_after", "created_before", "cursor")
PAGE_SIZE = 50
TIMELINE_LENGTH = 500
MAX_MESSAGE_ID = 2**63 - 1


def local_to_iso(value: str) -> str:
    """A `datetime-local` value read in the operator's zone, as ISO 8601 with its offset."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value  # the schema names the error
    # Flask-Babel's zone is a pytz one, whose `replace(tzinfo=…)` would use local mean time.
    return (moment if moment.tzinfo else moment.replace(tzinfo=ZoneInfo(str(get_timezone())))).isoformat()


def read_filters(args) -> tuple[dict, dict]:
    """(the form's values as typed, the query the API's schema loads from them)."""
    typed = {name: args.get(name, "").strip()[:200] for name in FILTER_FIELDS}
    query = {name: value for name, value in typed.items() if value}
    for name in ("created_after", "created_before"):
        if name in query:
            query[name] = local_to_iso(query[name])
    return typed, query


@bp.route("/messages")
def message_list():
    typed, query = read_filters(request.args)
    errors, page = {}, Page(items=[], next_cursor=None)
    try:
        loaded = MessageQuerySchema(unknown=EXCLUDE).load({**query, "limit": PAGE_SIZE})
        cursor, limit = loaded.pop("cursor"), loaded.pop("limit")
        page = list_messages(MessageFilter(**loaded), cursor, limit)
    except ValidationError as exc:
        errors = exc.messages
    except InvalidInputError as exc:
        errors = exc.errors or {"_schema": [exc.message]}
    next_args = {**{k: v for k, v in typed.items() if v}, "cursor": page.next_cursor}
    return render_template("console/messages.html", page=page, filters=typed, errors=errors,
                           states=list(DialerMessageState), next_args=next_args), 422 if errors else 200


@bp.route(f"/messages/<int(min=1, max={MAX_MESSAGE_ID}):message_id>")
def message_page(message_id):
    message = get_message(message_id)
    events = list_message_events(message_id, None, TIMELINE_LENGTH)
    return render_template("console/message.html", message=message, events=events,
                           cancellable=is_cancellable(message), cancel_form=ConfirmForm())
