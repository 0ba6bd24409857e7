"""Callback bodies: the Standard Webhooks envelope around the message as the API shows it."""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Optional

from service.models.callback import CallbackDelivery
from service.models.message import DialerMessage
from service.models.states import DialerMessageState

# The message's fields as GET /api/v1/messages/<id> shows them (MessageSchema; a test keeps
# the two the same).
_PLAIN = ("id", "recipient", "content", "template_slug", "template_id", "backend", "error", "extra_data",
          "extra_sender_data", "tag", "is_final_state", "priority", "is_autodialer", "number_of_send_attempts",
          "number_of_status_check_attempts", "callback_url", "calling_hours", "schedule_note", "pending_take_back")
_TIMES = ("created_at", "changed_at", "sent_at", "send_at", "valid_until", "scheduled_until")


def _iso(value: Optional[datetime]) -> Optional[str]:
    return value.isoformat() if value is not None else None


def message_view(message: DialerMessage) -> dict[str, Any]:
    """The message's fields as the API shows them."""
    view: dict[str, Any] = {name: getattr(message, name) for name in _PLAIN}
    view.update({name: _iso(getattr(message, name)) for name in _TIMES})
    view["state"] = message.state.value if message.state else None
    view["failed"] = message.failed
    view["related_objects"] = [{"content_type": related.content_type, "object_id": related.given_object_id}
                               for related in message.related_objects]
    return view


def delivery_body(delivery: CallbackDelivery, message: DialerMessage) -> str:
    """The body of `delivery`: `{"type", "timestamp", "data"}`, `data` being the message as the
    API shows it when first sent, with the state the event reports, its `previous_state` and
    the message's `sequence` number of the event."""
    data = message_view(message)
    current = data["state"]
    if delivery.state is not None:
        data["state"] = delivery.state
        data["failed"] = delivery.state == DialerMessageState.ERROR.value
    # Final only once the event reaches the state the message ended in.
    data["is_final_state"] = bool(message.is_final_state and delivery.state == current)
    data["previous_state"] = delivery.previous_state
    data["sequence"] = delivery.sequence
    envelope = {"type": delivery.event_type, "timestamp": _iso(delivery.created_at), "data": data}
    return json.dumps(envelope, separators=(",", ":"), ensure_ascii=False)
