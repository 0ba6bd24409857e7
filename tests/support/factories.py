"""One way for tests to get a message that is already out: stored as the Daktela backend
leaves it after publishing, without publishing through the simulator."""
from __future__ import annotations

from service.extensions import db
from service.models import DialerMessage, DialerMessageState
from service.models.types import utcnow


def sent_message(recipient: str = "+420777123456", content: str = "Hello", **fields) -> DialerMessage:
    """A committed READY message whose record (`test_<id>`) Daktela took; `fields` override columns."""
    now = utcnow()
    values = dict(recipient=recipient, content=content, state=DialerMessageState.READY, is_final_state=False,
                  extra_data={}, extra_sender_data={}, priority=3, is_autodialer=True, number_of_send_attempts=1,
                  number_of_status_check_attempts=0, sent_at=now, backend="daktela")
    message = DialerMessage(**{**values, **fields})
    db.session.add(message)
    db.session.commit()
    message.extra_sender_data = {"record_name": f"test_{message.id}", **(fields.get("extra_sender_data") or {})}
    db.session.commit()
    return message
