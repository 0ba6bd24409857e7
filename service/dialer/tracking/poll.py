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

import json
import logging
import time
from datetime import timedelta
from typing import Optional

from sqlalchemy import and_, func, or_, select

from service import metrics
from service.backends.base import LOOKUP_BATCH, DialerBackend, ProviderError
from service.dialer.runtime import current_backend
from service.dialer.tracking.accounting import (
    CheckReport,
    account_for_due_messages,
    batches_of_ids,
    count_failed_checks,
    expire_idle_messages,
    record_missing,
    tracked,
)
from service.dialer.tracking.apply import apply_records
from service.errors import BackendNotSupportedError
from service.extensions import db
from service.infrastructure.locks import exclusive_run
from service.infrastructure.transactions import end_transaction, transaction
from service.models.message import DialerMessage, DialerPollState
from service.models.types import utcnow

logger = logging.getLogger(__name__)

LAST_CHECK = "last_status_check"
MAX_LOOKUPS_PER_RUN = 10_000
# Our clock and the provider's may differ: the first run starts this much before the oldest sending.
CLOCK_MARGIN = timedelta(minutes=5)


def watermark_name(backend: DialerBackend) -> str:
    """The poll-state row holding this backend's watermark: one per provider, so a service moved
    to another backend never reads one provider's clock as another's (Daktela's row is
    "daktela_watermark", as before other providers)."""
    return f"{backend.webhook_name or type(backend).__name__.lower()}_watermark"[:64]


def _watermark(backend: DialerBackend) -> Optional[str]:
    state = db.session.get(DialerPollState, watermark_name(backend))
    end_transaction()
    return state.value if state else None


def _save_watermark(backend: DialerBackend, value: str) -> None:
    name = watermark_name(backend)
    with transaction() as session:
        state = session.get(DialerPollState, name)
        if state is None:
            session.add(DialerPollState(name=name, value=value))
        else:
            state.value = value


def _first_watermark(backend: DialerBackend, report: CheckReport) -> Optional[str]:
    """First run: follow the feed from the oldest pending message's sending (a page per
    1,000 records, where looking each message up would cost a request per 100); with
    nothing pending, just take the provider's clock."""
    oldest = db.session.scalar(select(func.min(DialerMessage.sent_at)).where(tracked()))
    end_transaction()
    if oldest is not None:
        return backend.watermark_at(oldest - CLOCK_MARGIN)
    report.requests += 1
    server_time = backend.tracking_clock()
    if server_time:
        _save_watermark(backend, server_time)
    return None


def follow_changes(backend: DialerBackend, report: CheckReport) -> bool:
    """Apply what changed since the last run; False when the provider could not be read."""
    try:
        watermark = _watermark(backend)
        if watermark is None:
            watermark = _first_watermark(backend, report)
            if watermark is None:
                return True
        first_time = None
        for records, server_time in report.timed(backend.changed_records(watermark)):
            report.requests += 1
            first_time = first_time or server_time
            started = time.perf_counter()
            apply_records(backend, records, "poll", report)
            report.apply_seconds += time.perf_counter() - started
    except ProviderError as exc:
        db.session.rollback()
        report.errors.append(str(exc))
        return False
    if first_time:
        _save_watermark(backend, first_time)
    return True


def look_up_flagged(backend: DialerBackend, report: CheckReport) -> bool:
    """Direct looks for messages that need one, oldest first, in bounded batches."""
    now = utcnow()
    flagged = and_(tracked(), DialerMessage.needs_status_lookup.is_(True),
                   or_(DialerMessage.nextcall_at.is_(None), DialerMessage.nextcall_at <= now))
    size = LOOKUP_BATCH
    looked = 0
    for ids in batches_of_ids(flagged, limit=size):
        names = {backend.record_name_for(message_id): message_id for message_id in ids}
        try:
            report.requests += 1
            records = backend.look_up_records(list(names))
        except ProviderError as exc:
            report.errors.append(str(exc))
            count_failed_checks(ids, str(exc), report)
            return False
        apply_records(backend, records.values(), "lookup", report)
        missing = [message_id for name, message_id in names.items() if name not in records]
        record_missing(backend, missing, report)
        looked += len(ids)
        if looked >= MAX_LOOKUPS_PER_RUN:
            break
    return True


def _run(backend: DialerBackend, report: CheckReport) -> None:
    with exclusive_run("check-dialer-status") as acquired:
        report.skipped = not acquired
        if acquired:
            expire_idle_messages(backend, report)
            feed_ok = follow_changes(backend, report)
            lookups_ok = look_up_flagged(backend, report)
            account_for_due_messages(feed_ok and lookups_ok, report.errors[-1] if report.errors else "", report)
            _save_summary(report)


def _save_summary(report: CheckReport) -> None:
    """What this run found, for the console's dashboard (LAST_CHECK, one row, overwritten)."""
    summary = {"finished_at": utcnow().isoformat(), "requests": report.requests,
               "records_seen": report.records_seen, "applied": report.applied, "unchanged": report.unchanged,
               "expired": report.expired, "failed_checks": report.failed_checks, "errors": len(report.errors)}
    with transaction() as session:
        state = session.get(DialerPollState, LAST_CHECK)
        if state is None:
            session.add(DialerPollState(name=LAST_CHECK, value=json.dumps(summary)))
        else:
            state.value = json.dumps(summary)


def check_dialer_status() -> CheckReport:
    """One poller run (the worker runs it every DIALER_CHECK_STATUS_INTERVAL_SECONDS)."""
    backend = current_backend()
    if not backend.can_track():
        raise BackendNotSupportedError(
            f"The dialer backend {backend.dotted_path()} cannot check message states."
        )
    report = CheckReport()
    started, completed = time.perf_counter(), False
    try:
        _run(backend, report)
        completed = True
    finally:
        metrics.poll_finished(time.perf_counter() - started, skipped=report.skipped,
                              failed=not completed or bool(report.errors), requests=report.requests,
                              records_seen=report.records_seen, applied=report.applied)
    return report
