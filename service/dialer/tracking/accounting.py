"""What the poller does with the messages themselves: the deadline, failed checks, missing
records, and the report of a run. Plain ORM work in short transactions of their own."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Iterable, Iterator, TypeVar

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import noload

from service.backends.base import DialerBackend
from service.dialer.publishing import PUBLISHABLE_STATES
from service.dialer.runtime import dialer_config
from service.extensions import db
from service.infrastructure.locks import select_for_update
from service.infrastructure.transactions import end_transaction, transaction
from service.models.message import DialerMessage
from service.models.state_machine import transition
from service.models.states import DialerMessageState
from service.models.types import utcnow

ROW_BATCH = 500
T = TypeVar("T")


@dataclass
class CheckReport:
    requests: int = 0
    records_seen: int = 0
    applied: int = 0
    ignored: int = 0
    unchanged: int = 0  # records that carried nothing new, skipped before any lock
    expired: int = 0
    failed_checks: int = 0
    errors: list[str] = field(default_factory=list)
    skipped: bool = False
    # Time spent waiting for the provider's pages (and reading them), and applying them.
    provider_seconds: float = 0.0
    apply_seconds: float = 0.0

    def timed(self, pages: Iterator[T]) -> Iterator[T]:
        """`pages`, adding the time each took to arrive to `provider_seconds`."""
        while True:
            started = time.perf_counter()
            try:
                page = next(pages)
            except StopIteration:
                return
            finally:
                self.provider_seconds += time.perf_counter() - started
            yield page

    def __bool__(self) -> bool:
        return bool(self.applied or self.expired or self.failed_checks or self.errors)

    def __str__(self) -> str:
        if self.skipped:
            return "another worker is checking message states; skipped"
        text = (f"checked: {self.requests} provider requests, {self.records_seen} records seen, "
                f"{self.applied} changes applied, {self.unchanged} unchanged, {self.ignored} observations ignored, "
                f"{self.expired} expired, {self.failed_checks} failed checks")
        return text + "".join(f"\n  error: {error}" for error in self.errors)


def tracked():
    """Sent, not final, and not being (re)published."""
    return and_(
        DialerMessage.sent_at.is_not(None),
        DialerMessage.is_final_state.is_(False),
        DialerMessage.state.not_in(PUBLISHABLE_STATES),
    )


def batches_of_ids(condition, limit: int = ROW_BATCH) -> Iterable[list[int]]:
    """Ids matching `condition`, oldest first, a bounded batch at a time (keyset on id)."""
    last_id = 0
    while True:
        ids = list(db.session.scalars(
            select(DialerMessage.id).where(condition, DialerMessage.id > last_id)
            .order_by(DialerMessage.id).limit(limit)
        ))
        end_transaction()
        if not ids:
            return
        yield ids
        if len(ids) < limit:
            return
        last_id = ids[-1]


def lock_tracked(ids: Iterable[int]) -> list[DialerMessage]:
    # In id order, as webhook groups lock theirs: two transactions locking
    # overlapping messages then wait for each other instead of deadlocking.
    return select_for_update(
        select(DialerMessage).where(DialerMessage.id.in_(list(ids)), tracked()).order_by(DialerMessage.id)
        .options(noload(DialerMessage.related_objects)).execution_options(populate_existing=True)
    )


def expire_idle_messages(backend: DialerBackend, report: CheckReport) -> None:
    now = utcnow()
    minutes = dialer_config().status.idle_timeout_minutes
    idle = and_(tracked(), DialerMessage.sent_at <= now - timedelta(minutes=minutes))
    for ids in batches_of_ids(idle):
        with transaction():
            for message in lock_tracked(ids):
                transition(message, DialerMessageState.EXPIRED, source="poll", final=True,
                           error=f"No final answer from {backend.provider_name} within {minutes} minutes "
                                 "of sending.")
                report.expired += 1


def record_missing(backend: DialerBackend, ids: list[int], report: CheckReport) -> None:
    """The provider answered and holds no record for these tracked messages: ERROR_UPDATE, final."""
    if not ids:
        return
    with transaction():
        for message in lock_tracked(ids):
            transition(message, DialerMessageState.ERROR_UPDATE, source="lookup", final=True,
                       error=f"{backend.provider_name} has no record named "
                             f"{backend.record_name_for(message.id)} (404).")
            report.failed_checks += 1


def count_failed_checks(ids: list[int], error: str, report: CheckReport) -> None:
    """A failed check never changes the call's state, until there have been too many."""
    now = utcnow()
    status = dialer_config().status
    with transaction():
        for message in lock_tracked(ids):
            message.number_of_status_check_attempts += 1
            message.next_check_at = now + timedelta(seconds=status.interval_seconds)
            report.failed_checks += 1
            if message.number_of_status_check_attempts >= status.max_failed_checks:
                transition(message, DialerMessageState.ERROR_UPDATE, source="poll", final=True,
                           error=f"{message.number_of_status_check_attempts} status checks failed; "
                                 f"the last: {error}")
            else:
                message.error = f"Status check failed: {error}"


def account_for_due_messages(run_ok: bool, last_error: str, report: CheckReport) -> None:
    """Due messages were checked by this run: reset their count on success, count a failure otherwise."""
    now = utcnow()
    interval = timedelta(seconds=dialer_config().status.interval_seconds)
    due = and_(
        tracked(),
        or_(DialerMessage.next_check_at.is_(None), DialerMessage.next_check_at <= now),
        or_(DialerMessage.nextcall_at.is_(None), DialerMessage.nextcall_at <= now),
        or_(DialerMessage.last_webhook_at.is_(None), DialerMessage.last_webhook_at < now - interval),
    )
    if run_ok:
        failing = or_(DialerMessage.number_of_status_check_attempts != 0, DialerMessage.error.is_not(None))
        with transaction() as session:
            session.execute(
                update(DialerMessage).where(due, failing)
                .values(number_of_status_check_attempts=0, error=None, next_check_at=now + interval,
                        changed_at=now)
                .execution_options(synchronize_session=False)
            )
            # The rest only get their next check: the API shows no change for them.
            session.execute(
                update(DialerMessage).where(due).values(next_check_at=now + interval)
                .execution_options(synchronize_session=False)
            )
        return
    for ids in batches_of_ids(due):
        count_failed_checks(ids, last_error, report)


