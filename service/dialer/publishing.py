"""Publishing stored messages through the backend, with retries and claims.

Two paths lead here: the API publishes a message right after committing it
(unless DIALER_BATCH_SENDING is on), and the worker publishes messages that
are due (WAITING, or ERROR_RETRY whose back-off has passed). A message being
published carries a lease in `next_attempt_at`, so no other process takes it
until the lease runs out; a publisher that dies mid-way only delays it.
"""
from __future__ import annotations

import logging
import random
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Optional, Sequence

from sqlalchemy import and_, or_, select, update

from config import BatchConfig, Config
from service.backends.base import DialerBackend
from service.dialer.runtime import current_backend, dialer_config
from service.errors import exception_origin
from service.extensions import db
from service.infrastructure.transactions import end_transaction
from service.models.message import DialerMessage
from service.models.state_machine import transition
from service.models.states import DialerMessageState
from service.models.types import utcnow

logger = logging.getLogger(__name__)

PUBLISHABLE_STATES = (DialerMessageState.WAITING, DialerMessageState.ERROR_RETRY)
PUBLISH_ORDER = (DialerMessage.priority, DialerMessage.created_at, DialerMessage.id)


@dataclass
class PublishReport:
    claimed: int = 0
    states: dict[str, int] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return self.claimed > 0

    def __str__(self) -> str:
        states = ", ".join(f"{state}: {count}" for state, count in sorted(self.states.items()))
        return f"published {self.claimed} messages" + (f" ({states})" if states else "")

    def add(self, messages: Sequence[DialerMessage]) -> None:
        self.claimed += len(messages)
        for message in messages:
            self.states[message.state.value] = self.states.get(message.state.value, 0) + 1


def lease_until(now: datetime) -> datetime:
    return now + timedelta(seconds=dialer_config().batch.publish_lease_seconds)


def retry_delay(attempts: int, batch: BatchConfig) -> float:
    """Exponential back-off with jitter: half the delay fixed, half random."""
    delay = min(batch.retry_max_seconds, batch.retry_base_seconds * 2 ** max(attempts - 1, 0))
    return random.uniform(delay / 2, delay)


def _past_limits(message: DialerMessage, attempts: int, now: datetime, batch: BatchConfig) -> Optional[str]:
    """Why no publish attempt may follow the `attempts` made ("5 attempts", "3600 seconds"), or None."""
    if attempts >= batch.max_number_of_send_attempts:
        return f"{batch.max_number_of_send_attempts} attempts"
    if (now - message.created_at).total_seconds() >= batch.max_seconds_to_send:
        return f"{batch.max_seconds_to_send} seconds"
    return None


def must_confirm(message: DialerMessage, now: datetime, batch: BatchConfig, backend: DialerBackend) -> bool:
    """Attempts are used up, and an earlier one may have reached the provider: ask it
    instead of publishing again (attempts are counted as they start, so this is one more)."""
    if not backend.can_confirm_published() or message.number_of_send_attempts <= 1:
        return False
    return _past_limits(message, message.number_of_send_attempts - 1, now, batch) is not None


def _schedule_retry(message: DialerMessage, now: datetime, batch: BatchConfig) -> None:
    backoff = now + timedelta(seconds=retry_delay(message.number_of_send_attempts, batch))
    # A backend may ask for a later time (e.g. the provider's Retry-After).
    asked = message.next_attempt_at
    message.next_attempt_at = max(backoff, asked) if asked and asked > now else backoff


def _settle_published(message: DialerMessage, now: datetime, config: Config) -> None:
    message.next_attempt_at = None
    if not message.is_final_state:
        message.next_check_at = now + timedelta(seconds=config.status.interval_seconds)


def settle_after_publish(message: DialerMessage, now: datetime, config: Config, can_confirm: bool = False) -> None:
    """Apply the retry policy to what the backend recorded on `message`.

    A failed attempt may still have reached the provider (its answer lost or
    unreadable), so when the backend can confirm, a message past its limits
    stays in retry and its next turn asks the provider instead (see `settle_after_confirming`).
    """
    if message.state == DialerMessageState.WAITING:
        transition(message, DialerMessageState.ERROR_RETRY, source="publish",
                   error="The dialer backend returned without publishing the message.")
    if message.state != DialerMessageState.ERROR_RETRY:
        _settle_published(message, now, config)
        return
    reason = _past_limits(message, message.number_of_send_attempts, now, config.batch)
    if reason is not None and not can_confirm:
        message.next_attempt_at = None
        transition(message, DialerMessageState.ERROR, source="publish", final=True,
                   error=f"Gave up after {reason}: {message.error or 'unknown error'}")
        return
    _schedule_retry(message, now, config.batch)


def settle_after_confirming(message: DialerMessage, held: Optional[bool], now: datetime, config: Config) -> None:
    """Give up only when the provider says it holds no trace of the message; while it cannot
    be asked, ask again on the retry schedule, until the idle timeout says the truth: unknown."""
    if held:
        _settle_published(message, now, config)
        return
    reason = _past_limits(message, message.number_of_send_attempts - 1, now, config.batch) or "its limits"
    if held is False:
        message.next_attempt_at = None
        transition(message, DialerMessageState.ERROR, source="publish", final=True,
                   error=f"Gave up after {reason}: {message.error or 'unknown error'} "
                         "(the provider confirmed it holds no record of the message)")
        return
    minutes = config.status.idle_timeout_minutes
    if now - message.created_at >= timedelta(minutes=minutes):
        message.next_attempt_at = None
        transition(message, DialerMessageState.ERROR_UPDATE, source="publish", final=True,
                   error=f"Unknown outcome: publishing failed ({message.error or 'unknown error'}) and for "
                         f"{minutes} minutes the provider could not be asked whether an attempt reached it. "
                         "The record may exist, and the call may still be made.")
        return
    transition(message, DialerMessageState.ERROR_RETRY, source="publish", error=message.error,
               note="Gave up publishing; the provider could not be asked yet whether it holds the message.")
    _schedule_retry(message, now, config.batch)


def _publish(backend: DialerBackend, messages: Sequence[DialerMessage]) -> None:
    try:
        if len(messages) == 1:
            backend.publish_message(messages[0])
        else:
            backend.publish_messages(messages)
    except Exception as exc:
        # Only the type and place: provider errors can quote secrets or personal data.
        logger.error("dialer backend %s raised %s", backend.dotted_path(), exception_origin(exc))
        for message in messages:
            if message.state in PUBLISHABLE_STATES:
                transition(message, DialerMessageState.ERROR_RETRY, source="publish",
                           error=f"The dialer backend failed ({type(exc).__name__}).")


def _confirm(backend: DialerBackend, messages: Sequence[DialerMessage]) -> dict[int, Optional[bool]]:
    try:
        return backend.confirm_published(messages)
    except Exception as exc:
        logger.error("dialer backend %s raised %s", backend.dotted_path(), exception_origin(exc))
        return {}


def publish_stored_messages(messages: Sequence[DialerMessage]) -> None:
    """Hand committed messages to the backend with no transaction open, then commit the outcome.

    Their attempt is counted already (when it was claimed, or stored to be published now).
    """
    end_transaction()
    if not messages:
        return
    backend = current_backend()
    config = dialer_config()
    now = utcnow()
    confirming = [m for m in messages if must_confirm(m, now, config.batch, backend)]
    publishing = [m for m in messages if m not in confirming]
    for message in messages:
        message.next_attempt_at = None
    if publishing:
        _publish(backend, publishing)
    held = _confirm(backend, confirming) if confirming else {}
    now = utcnow()
    can_confirm = backend.can_confirm_published()
    for message in publishing:
        settle_after_publish(message, now, config, can_confirm)
    for message in confirming:
        settle_after_confirming(message, held.get(message.id), now, config)
    db.session.commit()


def _due(now: datetime):
    return and_(
        DialerMessage.state.in_(PUBLISHABLE_STATES),
        or_(DialerMessage.next_attempt_at.is_(None), DialerMessage.next_attempt_at <= now),
    )


def claim_due_messages(limit: int) -> list[DialerMessage]:
    """Lease up to `limit` due messages, highest priority then oldest first.

    PostgreSQL skips rows another worker has locked; on both databases the
    conditional UPDATE takes only rows that are still due, so two workers
    never lease the same message.
    """
    now = utcnow()
    candidates = (
        select(DialerMessage.id)
        .where(_due(now))
        .order_by(*PUBLISH_ORDER)
        .limit(limit)
    )
    if db.session.get_bind().dialect.name == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    ids = list(db.session.scalars(candidates))
    claimed: list[int] = []
    if ids:
        claimed = list(db.session.scalars(
            update(DialerMessage)
            .where(DialerMessage.id.in_(ids), _due(now))
            # The attempt counts as it starts: one that kills the process still counts.
            .values(next_attempt_at=lease_until(now), changed_at=now,
                    number_of_send_attempts=DialerMessage.number_of_send_attempts + 1)
            .returning(DialerMessage.id)
            .execution_options(synchronize_session=False)
        ))
    db.session.commit()
    if not claimed:
        return []
    messages = list(db.session.scalars(
        select(DialerMessage)
        .where(DialerMessage.id.in_(claimed))
        .order_by(*PUBLISH_ORDER)
        .execution_options(populate_existing=True)
    ))
    end_transaction()
    return messages


def publish_due_messages(max_batches: Optional[int] = None, stop: Optional[threading.Event] = None) -> PublishReport:
    """Publish due messages in batches of DIALER_BATCH_SIZE until none are due.

    `stop`, once set, ends the run before the next batch is claimed: a worker
    shutting down finishes the batch it holds and leases no more.
    """
    report = PublishReport()
    size = dialer_config().batch.size
    batches = 0
    while (max_batches is None or batches < max_batches) and not (stop is not None and stop.is_set()):
        messages = claim_due_messages(size)
        if not messages:
            break
        publish_stored_messages(messages)
        report.add(messages)
        batches += 1
        if len(messages) < size:
            break
    return report
