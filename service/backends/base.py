"""The interface every dialer backend implements."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, Optional, Sequence

from service.errors import BackendNotSupportedError

if TYPE_CHECKING:
    from config import Config
    from service.models.message import DialerMessage


class DialerBackend:
    """Sends dialer messages through one provider.

    A backend changes the message objects it is given (state, sent_at,
    error, extra_sender_data, ...) and never commits: the dialer service
    commits each message before calling the backend and again after it, and
    holds no database transaction while the backend talks to its provider.
    """

    def __init__(self, config: "Config | None" = None):
        self.config = config

    @classmethod
    def dotted_path(cls) -> str:
        return f"{cls.__module__}.{cls.__qualname__}"

    def publish_message(self, message: "DialerMessage") -> None:
        """Send one message and record the outcome on it. Must be overridden."""
        raise NotImplementedError(f"{self.dotted_path()} must implement publish_message()")

    def publish_messages(self, messages: Iterable["DialerMessage"]) -> None:
        """Send several messages; by default one by one through `publish_message`."""
        for message in messages:
            self.publish_message(message)

    @classmethod
    def can_check_status(cls) -> bool:
        """True when this backend implements `bulk_check_dialer_status` (the worker then polls it)."""
        return cls.bulk_check_dialer_status is not DialerBackend.bulk_check_dialer_status

    def bulk_check_dialer_status(self) -> Any:
        """Ask the provider for the outcome of sent messages, if it can tell."""
        raise BackendNotSupportedError(
            f"The dialer backend {self.dotted_path()} cannot check message states."
        )

    @classmethod
    def can_confirm_published(cls) -> bool:
        """True when this backend implements `confirm_published`: the dialer then never gives a
        message up while an earlier attempt may have reached the provider, without asking it."""
        return cls.confirm_published is not DialerBackend.confirm_published

    def confirm_published(self, messages: Sequence["DialerMessage"]) -> dict[int, Optional[bool]]:
        """Ask the provider whether it holds each message an earlier, failed attempt may have
        published, by the message's own key (not by sending it again).

        For each message id: True when it does (the outcome is then recorded on the message as
        a successful publish would record it), False when it has no trace of it, None when the
        provider could not be asked. Must not touch the database.
        """
        raise BackendNotSupportedError(
            f"The dialer backend {self.dotted_path()} cannot look published messages up."
        )
