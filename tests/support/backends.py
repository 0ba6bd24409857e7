"""Real DialerBackend subclasses that tests configure by dotted path."""
from service.backends.base import DialerBackend
from service.extensions import db
from service.models.states import DialerMessageState
from service.models.types import utcnow


class RecordingBackend(DialerBackend):
    """Marks messages READY and records, per call, what it saw."""

    calls: list = []

    def publish_message(self, message):
        self.calls.append(
            {
                "method": "publish_message",
                "message_id": message.id,
                "connections_in_use": db.engine.pool.checkedout(),
            }
        )
        message.state = DialerMessageState.READY
        message.sent_at = utcnow()
        message.extra_sender_data = {"record": f"test-{message.id}"}

    def publish_messages(self, messages):
        self.calls.append(
            {
                "method": "publish_messages",
                "message_ids": [message.id for message in messages],
                "connections_in_use": db.engine.pool.checkedout(),
            }
        )
        for message in messages:
            message.state = DialerMessageState.READY
            message.sent_at = utcnow()


class ExplodingBackend(DialerBackend):
    """Raises with a secret in the text, which must never reach a response."""

    def publish_message(self, message):
        raise RuntimeError("provider said: token=SECRET-TOKEN-123")


class IncompleteBackend(DialerBackend):
    """Forgets to implement publish_message."""


class NotABackend:
    pass


class PollingBackend(RecordingBackend):
    """A custom backend with its own status check."""

    checks: list = []

    def bulk_check_dialer_status(self):
        self.checks.append("checked")
        return "custom check ran"
