"""DaktelaDialerBackend: each message becomes exactly one Daktela campaign record.

The record's name is ours (DAKTELA_RECORD_NAME_PREFIX + message id), so a
retry after a lost response cannot create a second record: Daktela answers
"name already exists", and the backend reads the record an earlier attempt
created instead. HTTP runs in worker threads that never touch the database;
outcomes are recorded on the messages in the caller's thread.
"""
from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any, Optional, Sequence

from config import Config, ConfigError, DaktelaConfig
from service.backends.base import LOOKUP_BATCH, DialerBackend
from service.backends.daktela.client import (
    DaktelaClient,
    DaktelaDuplicateNameError,
    DaktelaError,
    DaktelaNotFoundError,
    DaktelaTransientError,
)
from service.backends.daktela.records import RecordSnapshot, daktela_number, parse_record
from service.backends.daktela.tracking import DaktelaTracking
from service.models.message import DialerMessage
from service.models.state_machine import apply_observation, transition
from service.models.states import DialerMessageState
from service.models.types import utcnow

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RecordRequest:
    message_id: int
    name: str
    payload: Optional[dict[str, Any]]
    problem: Optional[str] = None
    # An earlier attempt may have created the record (its answer was lost or unreadable).
    may_exist: bool = False


@dataclass(frozen=True)
class PublishOutcome:
    record: Optional[RecordSnapshot] = None
    error: Optional[DaktelaError] = None
    problem: Optional[str] = None


class DaktelaDialerBackend(DaktelaTracking, DialerBackend):
    """Publishes dialer messages as Daktela campaign records (API v6), and tracks their calls."""

    def __init__(self, config: Config):
        super().__init__(config)
        self.settings: DaktelaConfig = config.daktela
        missing = self.settings.missing_settings()
        if missing:
            raise ConfigError("The daktela backend needs " + ", ".join(missing) + " (see README.md).")
        self.client = DaktelaClient(
            self.settings.url, self.settings.access_token, self.settings.timeout_seconds,
            pool_size=self.settings.max_concurrency,
        )
        self._executor = ThreadPoolExecutor(
            max_workers=self.settings.max_concurrency, thread_name_prefix="daktela"
        )

    def record_name(self, message: DialerMessage) -> str:
        return self.record_name_for(message.id)

    def record_request(self, message: DialerMessage) -> RecordRequest:
        name = self.record_name(message)
        record_type = (
            self.settings.autodialer_record_type if message.is_autodialer
            else self.settings.predictive_record_type
        )
        if not record_type:
            return RecordRequest(message.id, name, None,
                                 problem="DAKTELA_PREDICTIVE_RECORD_TYPE is not set.")
        custom_fields: dict[str, Any] = {}
        extra = (message.extra_data or {}).get("custom_fields")
        if isinstance(extra, dict):
            custom_fields.update(
                {str(k): v if isinstance(v, list) else [v] for k, v in extra.items()}
            )
        custom_fields[self.settings.tts_field] = [message.content]
        payload = {
            "name": name,
            "record_type": record_type,
            "number": daktela_number(message.recipient),
            "customFields": custom_fields,
        }
        return RecordRequest(message.id, name, payload, may_exist=message.number_of_send_attempts > 1)

    def create_record(self, request: RecordRequest) -> PublishOutcome:
        """Create the record, or find the one an earlier attempt created. Thread-safe; no database."""
        if request.payload is None:
            return PublishOutcome(problem=request.problem)
        try:
            envelope = self.client.create_record(request.payload)
        except DaktelaDuplicateNameError:
            logger.info("record %s exists already: reading it instead of creating it", request.name)
            try:
                envelope = self.client.read_record(request.name)
            except DaktelaError as exc:
                return PublishOutcome(error=exc)
        except DaktelaError as exc:
            if not exc.transient and request.may_exist:
                return self._refused_unless_created(request.name, exc)
            return PublishOutcome(error=exc)
        return PublishOutcome(record=parse_record(envelope.result))

    def _refused_unless_created(self, name: str, refusal: DaktelaError) -> PublishOutcome:
        """Daktela refused the record, but an earlier attempt may have created it: a refusal is
        final only once Daktela says it holds no record of that name."""
        try:
            records = self.look_up_records([name])
        except DaktelaError as exc:
            return PublishOutcome(error=DaktelaTransientError(
                f"{refusal} Whether an earlier attempt created the record could not be checked: {exc}"))
        if name in records:
            return PublishOutcome(record=records[name])
        return PublishOutcome(error=refusal)

    def confirm_published(self, messages: Sequence[DialerMessage]) -> dict[int, Optional[bool]]:
        """Look the messages' records up by name (`name in […]`, 100 names a request)."""
        found: dict[int, Optional[bool]] = {}
        for start in range(0, len(messages), LOOKUP_BATCH):
            batch = {self.record_name(m): m for m in messages[start:start + LOOKUP_BATCH]}
            try:
                records = self.look_up_records(list(batch))
            except DaktelaError as exc:
                logger.warning("could not look %d records up: %s", len(batch), exc)
                found.update((message.id, None) for message in batch.values())
                continue
            for name, message in batch.items():
                if name in records:
                    self.record_outcome(message, PublishOutcome(record=records[name]))
                found[message.id] = name in records
        return found

    def record_outcome(self, message: DialerMessage, outcome: PublishOutcome) -> None:
        now = utcnow()
        if outcome.record is not None:
            record = outcome.record
            message.sent_at = message.sent_at or now
            message.extra_sender_data = {**(message.extra_sender_data or {}), "record_name": record.name}
            if record.action is None:
                # Created, but Daktela did not say how it stands: the poller will.
                record = replace(record, action=1)
            apply_observation(message, self.observation_of(record, "publish"))
            return
        error = outcome.error
        if outcome.problem is not None or (error is not None and not error.transient
                                           and not isinstance(error, DaktelaNotFoundError)):
            transition(message, DialerMessageState.ERROR, source="publish", final=True,
                       error=outcome.problem or str(error))
            return
        transition(message, DialerMessageState.ERROR_RETRY, source="publish", error=str(error))
        if error is not None and error.retry_after:
            message.next_attempt_at = now + timedelta(seconds=error.retry_after)

    def remove_record(self, message: DialerMessage) -> None:
        """DELETE campaignsRecords/{name}; a record already gone counts as removed."""
        self.client.delete_record(self.record_name(message))

    def publish_message(self, message: DialerMessage) -> None:
        self.record_outcome(message, self.create_record(self.record_request(message)))

    def publish_messages(self, messages: Sequence[DialerMessage]) -> None:
        requests = [self.record_request(message) for message in messages]
        outcomes = list(self._executor.map(self.create_record, requests))
        for message, outcome in zip(messages, outcomes, strict=True):
            self.record_outcome(message, outcome)
