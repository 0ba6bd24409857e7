"""A backend that sends nothing: for development and tests."""
from __future__ import annotations

from service.backends.base import DialerBackend
from service.models.message import DialerMessage
from service.models.state_machine import transition
from service.models.states import DialerMessageState
from service.models.types import utcnow


class DummyDialerBackend(DialerBackend):
    """Marks every message DEBUG and final without calling anyone."""

    def publish_message(self, message: DialerMessage) -> None:
        message.sent_at = utcnow()
        transition(message, DialerMessageState.DEBUG, source="publish", final=True)
