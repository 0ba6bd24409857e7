"""The interface every dialer backend implements: publishing, and optionally tracking.

Publishing (`publish_message`) is all a backend must do. A backend whose
provider can tell what became of a call also implements the tracking methods
below; the provider-neutral tracking core (`service.dialer.tracking`) then
serves its webhook, polls its change feed and looks records up, and applies
what it learns through the one state machine. Everything that knows the
provider's wire format stays in the backend's own package.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, Iterator, Mapping, Optional, Protocol, Sequence

from service.errors import BackendNotSupportedError

if TYPE_CHECKING:
    from datetime import datetime

    from config import Config
    from service.models.message import DialerMessage
    from service.models.state_machine import Observation


class ProviderError(Exception):
    """The provider could not be asked, or answered badly; `str()` is safe to store and show."""


class ProviderRecord(Protocol):
    """What a provider holds about one message's call; opaque to the core but for its name."""

    name: str


Page = tuple[list[ProviderRecord], Optional[str]]
LOOKUP_BATCH = 100  # names per `look_up_records` call, well inside any URL length limit


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

    @classmethod
    def can_remove_records(cls) -> bool:
        """True when this backend implements `remove_record` (published calls can be taken back)."""
        return cls.remove_record is not DialerBackend.remove_record

    def remove_record(self, message: "DialerMessage") -> None:
        """Take a published message back from the provider so that it is never dialled; a record
        the provider does not hold (already gone, or never created) counts as removed. Raises
        ProviderError when the provider could not be asked or refused. Must not touch the database
        or change the message."""
        raise BackendNotSupportedError(
            f"The dialer backend {self.dotted_path()} cannot take published messages back."
        )

    # -- tracking (optional) --------------------------------------------------
    #: The path segment of the backend's webhook: POST /webhooks/<webhook_name>.
    webhook_name: Optional[str] = None
    #: How messages and errors name the provider.
    provider_name: str = "The provider"

    @classmethod
    def can_track(cls) -> bool:
        """True when this backend implements the tracking methods (the worker then polls
        through the tracking core, and its webhook is served)."""
        return cls.changed_records is not DialerBackend.changed_records

    def record_name_for(self, message_id: int) -> str:
        """The provider's name for a message's record."""
        raise NotImplementedError

    def message_id_for(self, record_name: str) -> Optional[int]:
        """The message a record name belongs to; None for records that are not ours."""
        raise NotImplementedError

    def observation_of(self, record: ProviderRecord, source: str) -> "Observation":
        """A record as the state machine's provider-neutral observation."""
        raise NotImplementedError

    def ordering_key_of(self, record: ProviderRecord) -> Optional[tuple[Optional["datetime"], str]]:
        """Optional, for speed: `(observation.edited, observation_key(observation))` of
        `observation_of(record, ...)`, computed without building the observation (see
        `service.models.state_machine.key_of`). The poller then skips a record that repeats what
        its message stores with one comparison. None (the default): no such shortcut."""
        return None

    def tracking_clock(self) -> Optional[str]:
        """The provider's clock now, as a watermark for `changed_records` (first poll)."""
        raise NotImplementedError

    def watermark_at(self, moment: "datetime") -> str:
        """A watermark for `changed_records` at `moment` (aware): the first poll follows the
        feed from the oldest pending message's sending."""
        raise NotImplementedError

    def changed_records(self, watermark: str) -> Iterator[Page]:
        """Our records changed since `watermark` (with whatever overlap the provider's clock
        needs), a page at a time, each with the watermark for the next run. Raises ProviderError."""
        raise NotImplementedError

    def look_up_records(self, names: Sequence[str]) -> dict[str, ProviderRecord]:
        """The records with these names (at most 100); absent ones are missing. Raises ProviderError."""
        raise NotImplementedError

    def webhook_secrets(self) -> tuple[str, ...]:
        """The secrets a webhook call must present (none: every call is refused)."""
        return ()

    def parse_webhook(self, values: Mapping[str, Any]) -> tuple[str, Optional["Observation"]]:
        """(record name, observation) of one webhook body; no observation when the body is only
        a hint that the record changed. Raises InvalidInputError for a malformed body."""
        raise NotImplementedError
