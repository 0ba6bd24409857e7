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
from service.dialer.runtime import current_backend, dialer_config
from service.errors import exception_origin
from service.extensions import db, end_transaction
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


def settle_after_publish(message: DialerMessage, now: datetime, config: Config) -> None:
    """Apply the retry policy to what the backend recorded on `message`."""
    batch = config.batch
    if message.state == DialerMessageState.WAITING:
        transition(message, DialerMessageState.ERROR_RETRY, source="publish",
                   error="The dialer backend returned without publishing the message.")
    if message.state != DialerMessageState.ERROR_RETRY:
        message.next_attempt_at = None
        if not message.is_final_state:
            message.next_check_at = now + timedelta(seconds=config.status.interval_seconds)
        return
    too_old = (now - message.created_at).total_seconds() >= batch.max_seconds_to_send
    if message.number_of_send_attempts >= batch.max_number_of_send_attempts or too_old:
        reason = (f"{message.number_of_send_attempts} attempts" if not too_old
                  else f"{batch.max_seconds_to_send} seconds")
        message.next_attempt_at = None
        transition(message, DialerMessageState.ERROR, source="publish", final=True,
                   error=f"Gave up after {reason}: {message.error or 'unknown error'}")
        return
    backoff = now + timedelta(seconds=retry_delay(message.number_of_send_attempts, batch))
    # A backend may ask for a later time (e.g. the provider's Retry-After).
    asked = message.next_attempt_at
    message.next_attempt_at = max(backoff, asked) if asked and asked > now else backoff


def publish_stored_messages(messages: Sequence[DialerMessage]) -> None:
    """Hand committed messages to the backend with no transaction open, then commit the outcome."""
    end_transaction()
    if not messages:
        return
    backend = current_backend()
    for message in messages:
        message.number_of_send_attempts += 1
        message.next_attempt_at = None
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
    now = utcnow()
    config = dialer_config()
    for message in messages:
        settle_after_publish(message, now, config)
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
            .values(next_attempt_at=lease_until(now))
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
