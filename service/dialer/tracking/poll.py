"""The fallback poller: every tracked message reaches a final state.

One run, under a lock so that two workers never run it at once, through the
backend's tracking interface (`service.backends.base`), knowing no provider:

1. expire messages still not final DIALER_IDLE_MESSAGES_TIMEOUT_MINUTES after sending;
2. follow the provider's change feed since the watermark (the provider's own
   clock at the previous run), a page at a time. Its cost grows with what
   changed, not with what is pending;
3. look up, in batches of names, the messages that need a direct look
   (a webhook hint the provider could not answer, or all pending ones on the first run);
4. account for due messages: a successful run resets their failed-check count,
   a failed one counts it, and too many failures end in ERROR_UPDATE.

No database transaction is open while the provider is asked anything.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Iterable, Optional

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import noload

from service.backends.base import LOOKUP_BATCH, DialerBackend, ProviderError, ProviderRecord
from service.dialer.publishing import PUBLISHABLE_STATES
from service.dialer.runtime import current_backend, dialer_config
from service.errors import BackendNotSupportedError, exception_origin
from service.extensions import db, end_transaction
from service.infrastructure.locks import exclusive_run, select_for_update
from service.models.message import DialerMessage, DialerPollState
from service.models.state_machine import apply_observation, transition
from service.models.states import DialerMessageState
from service.models.types import utcnow

logger = logging.getLogger(__name__)

# The row's name predates other providers; it holds the configured backend's watermark.
WATERMARK = "daktela_watermark"
ROW_BATCH = 500
MAX_LOOKUPS_PER_RUN = 10_000


@dataclass
class CheckReport:
    requests: int = 0
    records_seen: int = 0
    applied: int = 0
    ignored: int = 0
    expired: int = 0
    failed_checks: int = 0
    errors: list[str] = field(default_factory=list)
    skipped: bool = False

    def __bool__(self) -> bool:
        return bool(self.applied or self.expired or self.failed_checks or self.errors)

    def __str__(self) -> str:
        if self.skipped:
            return "another worker is checking message states; skipped"
        text = (f"checked: {self.requests} provider requests, {self.records_seen} records seen, "
                f"{self.applied} changes applied, {self.ignored} observations ignored, "
                f"{self.expired} expired, {self.failed_checks} failed checks")
        return text + "".join(f"\n  error: {error}" for error in self.errors)


def _tracked():
    """Sent, not final, and not being (re)published."""
    return and_(
        DialerMessage.sent_at.is_not(None),
        DialerMessage.is_final_state.is_(False),
        DialerMessage.state.not_in(PUBLISHABLE_STATES),
    )


def _batches_of_ids(condition, limit: int = ROW_BATCH) -> Iterable[list[int]]:
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


def _lock_messages(ids: Iterable[int]) -> list[DialerMessage]:
    # In id order, as webhook groups lock theirs: two transactions locking
    # overlapping messages then wait for each other instead of deadlocking.
    return select_for_update(
        select(DialerMessage).where(DialerMessage.id.in_(list(ids)), _tracked()).order_by(DialerMessage.id)
        .options(noload(DialerMessage.related_objects)).execution_options(populate_existing=True)
    )


def apply_records(backend: DialerBackend, records: Iterable[ProviderRecord], source: str,
                  report: CheckReport) -> None:
    """Apply provider records to the messages they belong to, in one short transaction."""
    now = utcnow()
    by_id = {}
    for record in records:
        report.records_seen += 1
        message_id = backend.message_id_for(record.name)
        if message_id is not None:
            by_id[message_id] = record
    if not by_id:
        return
    interval = timedelta(seconds=dialer_config().status.interval_seconds)
    failed = []
    for message in _lock_messages(by_id):
        try:
            event = apply_observation(message, backend.observation_of(by_id[message.id], source))
        except Exception as exc:  # one bad record never stops the others
            logger.warning("record of message %s not applied: %s", message.id, exception_origin(exc))
            failed.append(message.id)
            continue
        message.needs_status_lookup = False
        message.next_check_at = now + interval
        if not message.is_final_state:
            # The provider answered for this message: a successful check.
            message.number_of_status_check_attempts = 0
            message.error = None
        if event.applied:
            report.applied += 1
        else:
            report.ignored += 1
    db.session.commit()
    if failed:
        _count_failed_checks(failed, "The provider's record could not be read.", report)


def expire_idle_messages(backend: DialerBackend, report: CheckReport) -> None:
    now = utcnow()
    minutes = dialer_config().status.idle_timeout_minutes
    idle = and_(_tracked(), DialerMessage.sent_at <= now - timedelta(minutes=minutes))
    for ids in _batches_of_ids(idle):
        for message in _lock_messages(ids):
            transition(message, DialerMessageState.EXPIRED, source="poll", final=True,
                       error=f"No final answer from {backend.provider_name} within {minutes} minutes of sending.")
            report.expired += 1
        db.session.commit()


def _watermark() -> Optional[str]:
    state = db.session.get(DialerPollState, WATERMARK)
    end_transaction()
    return state.value if state else None


def _save_watermark(value: str) -> None:
    state = db.session.get(DialerPollState, WATERMARK)
    if state is None:
        db.session.add(DialerPollState(name=WATERMARK, value=value))
    else:
        state.value = value
    db.session.commit()


def follow_changes(backend: DialerBackend, report: CheckReport) -> bool:
    """Apply what changed since the last run; False when the provider could not be read."""
    try:
        watermark = _watermark()
        if watermark is None:
            # First run: nothing to follow yet. Take the provider's clock now, and look
            # every pending message up directly; from now on the feed covers them.
            report.requests += 1
            server_time = backend.tracking_clock()
            db.session.execute(update(DialerMessage).where(_tracked()).values(needs_status_lookup=True)
                               .execution_options(synchronize_session=False))
            db.session.commit()
            if server_time:
                _save_watermark(server_time)
            return True
        first_time = None
        for records, server_time in backend.changed_records(watermark):
            report.requests += 1
            first_time = first_time or server_time
            apply_records(backend, records, "poll", report)
    except ProviderError as exc:
        db.session.rollback()
        report.errors.append(str(exc))
        return False
    if first_time:
        _save_watermark(first_time)
    return True


def look_up_flagged(backend: DialerBackend, report: CheckReport) -> bool:
    """Direct looks for messages that need one, oldest first, in bounded batches."""
    now = utcnow()
    flagged = and_(_tracked(), DialerMessage.needs_status_lookup.is_(True),
                   or_(DialerMessage.nextcall_at.is_(None), DialerMessage.nextcall_at <= now))
    size = LOOKUP_BATCH
    looked = 0
    for ids in _batches_of_ids(flagged, limit=size):
        names = {backend.record_name_for(message_id): message_id for message_id in ids}
        try:
            report.requests += 1
            records = backend.look_up_records(list(names))
        except ProviderError as exc:
            report.errors.append(str(exc))
            _count_failed_checks(ids, str(exc), report)
            return False
        apply_records(backend, records.values(), "lookup", report)
        missing = [message_id for name, message_id in names.items() if name not in records]
        record_missing(backend, missing, report)
        looked += len(ids)
        if looked >= MAX_LOOKUPS_PER_RUN:
            break
    return True


def record_missing(backend: DialerBackend, ids: list[int], report: CheckReport) -> None:
    """The provider answered and holds no record for these tracked messages: ERROR_UPDATE, final."""
    if not ids:
        return
    for message in _lock_messages(ids):
        transition(message, DialerMessageState.ERROR_UPDATE, source="lookup", final=True,
                   error=f"{backend.provider_name} has no record named {backend.record_name_for(message.id)} (404).")
        report.failed_checks += 1
    db.session.commit()


def _count_failed_checks(ids: list[int], error: str, report: CheckReport) -> None:
    """A failed check never changes the call's state, until there have been too many."""
    now = utcnow()
    status = dialer_config().status
    for message in _lock_messages(ids):
        message.number_of_status_check_attempts += 1
        message.next_check_at = now + timedelta(seconds=status.interval_seconds)
        report.failed_checks += 1
        if message.number_of_status_check_attempts >= status.max_failed_checks:
            transition(message, DialerMessageState.ERROR_UPDATE, source="poll", final=True,
                       error=f"{message.number_of_status_check_attempts} status checks failed; "
                             f"the last: {error}")
        else:
            message.error = f"Status check failed: {error}"
    db.session.commit()


def account_for_due_messages(run_ok: bool, last_error: str, report: CheckReport) -> None:
    """Due messages were checked by this run: reset their count on success, count a failure otherwise."""
    now = utcnow()
    interval = timedelta(seconds=dialer_config().status.interval_seconds)
    due = and_(
        _tracked(),
        or_(DialerMessage.next_check_at.is_(None), DialerMessage.next_check_at <= now),
        or_(DialerMessage.nextcall_at.is_(None), DialerMessage.nextcall_at <= now),
        or_(DialerMessage.last_webhook_at.is_(None), DialerMessage.last_webhook_at < now - interval),
    )
    if run_ok:
        failing = or_(DialerMessage.number_of_status_check_attempts != 0, DialerMessage.error.is_not(None))
        db.session.execute(
            update(DialerMessage).where(due, failing)
            .values(number_of_status_check_attempts=0, error=None, next_check_at=now + interval, changed_at=now)
            .execution_options(synchronize_session=False)
        )
        # The rest only get their next check: the API shows no change for them.
        db.session.execute(
            update(DialerMessage).where(due).values(next_check_at=now + interval)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
        return
    for ids in _batches_of_ids(due):
        _count_failed_checks(ids, last_error, report)


def check_dialer_status() -> CheckReport:
    """One poller run (the worker runs it every DIALER_CHECK_STATUS_INTERVAL_SECONDS)."""
    backend = current_backend()
    if not backend.can_track():
        raise BackendNotSupportedError(
            f"The dialer backend {backend.dotted_path()} cannot check message states."
        )
    report = CheckReport()
    with exclusive_run("check-dialer-status") as acquired:
        if not acquired:
            report.skipped = True
            return report
        expire_idle_messages(backend, report)
        feed_ok = follow_changes(backend, report)
        lookups_ok = look_up_flagged(backend, report)
        account_for_due_messages(feed_ok and lookups_ok, report.errors[-1] if report.errors else "", report)
    return report
