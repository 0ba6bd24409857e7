"""What the console's dashboard shows: outcomes over a window, calls per hour, the backlog now."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Optional

from sqlalchemy import and_, case, func, select

from service.dialer.tracking.poll import LAST_CHECK
from service.extensions import db
from service.infrastructure.transactions import end_transaction
from service.models.message import DialerMessage, DialerPollState
from service.models.states import DialerMessageState as State

# The outcomes the dashboard counts, in the order it shows them.
OUTCOMES = (State.ANSWERED_COMPLETE, State.ANSWERED_PARTIAL, State.DECLINED, State.UNANSWERED,
            State.UNREACHABLE, State.ERROR, State.EXPIRED, State.CANCELLED)
ANSWERED = (State.ANSWERED_COMPLETE, State.ANSWERED_PARTIAL)
# Taken back before a call was made: shown, but not part of the answer rate.
NOT_CALLED = (State.EXPIRED, State.CANCELLED)
NOT_PUBLISHED = (State.WAITING, State.ERROR_RETRY, State.SCHEDULED)
HOURS_CHARTED = 24


@dataclass(frozen=True)
class OutcomeSummary:
    since: datetime
    counts: dict[State, int]

    @property
    def answer_rate(self) -> Optional[float]:
        """Answered among the messages called with an outcome (expired and cancelled ones were
        never called); None when there is none yet."""
        total = sum(count for state, count in self.counts.items() if state not in NOT_CALLED)
        return sum(self.counts[state] for state in ANSWERED) / total if total else None


@dataclass(frozen=True)
class Backlog:
    waiting: int
    retrying: int
    awaiting_status: int
    needing_lookup: int
    oldest_pending_since: Optional[datetime]
    scheduled: int
    next_scheduled_at: Optional[datetime]


@dataclass(frozen=True)
class TrackingActivity:
    last_check: Optional[dict]  # the poller's last run: finished_at (aware), requests, records_seen, applied, ...
    last_webhook_at: Optional[datetime]


def summarize_outcomes(now: datetime, window: timedelta) -> OutcomeSummary:
    """Messages created in the last `window` that reached each outcome."""
    since = now - window
    rows = db.session.execute(
        select(DialerMessage.state, func.count()).where(
            DialerMessage.created_at >= since, DialerMessage.state.in_(OUTCOMES)
        ).group_by(DialerMessage.state)
    ).all()
    end_transaction()
    counts = {state: 0 for state in OUTCOMES}
    counts.update({state: number for state, number in rows})
    return OutcomeSummary(since=since, counts=counts)


def count_calls_per_hour(now: datetime, hours: int = HOURS_CHARTED) -> list[tuple[datetime, int]]:
    """(start of hour, messages sent in it) for the last `hours` hours, oldest first, in one query."""
    end = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    starts = [end - timedelta(hours=hours - index) for index in range(hours)]
    sent = DialerMessage.sent_at
    columns = [func.sum(case((and_(sent >= start, sent < start + timedelta(hours=1)), 1), else_=0))
               for start in starts]
    row = db.session.execute(select(*columns).where(sent >= starts[0], sent < end)).one()
    end_transaction()
    return [(start, int(number or 0)) for start, number in zip(starts, row, strict=True)]


def measure_backlog() -> Backlog:
    """The messages not final now: waiting to be published, retrying, scheduled for later (and the
    next of them due), and out with their outcome pending."""
    pending = DialerMessage.is_final_state.is_(False)
    state, scheduled = DialerMessage.state, DialerMessage.state == State.SCHEDULED
    row = db.session.execute(select(
        func.sum(case((state == State.WAITING, 1), else_=0)),
        func.sum(case((state == State.ERROR_RETRY, 1), else_=0)),
        func.sum(case((state.not_in(NOT_PUBLISHED), 1), else_=0)),
        func.sum(case((DialerMessage.needs_status_lookup.is_(True), 1), else_=0)),
        func.min(DialerMessage.created_at),
        func.sum(case((scheduled, 1), else_=0)),
        func.min(case((scheduled, DialerMessage.next_attempt_at), else_=None)),
    ).where(pending)).one()
    end_transaction()
    waiting, retrying, awaiting, lookup, oldest, scheduled_count, next_scheduled = row
    return Backlog(int(waiting or 0), int(retrying or 0), int(awaiting or 0), int(lookup or 0),
                   _as_utc(oldest), int(scheduled_count or 0), _as_utc(next_scheduled))


def read_tracking_activity() -> TrackingActivity:
    """When the poller last ran and what it found, and when the last webhook told something."""
    summary = db.session.get(DialerPollState, LAST_CHECK)
    webhook = db.session.scalar(select(func.max(DialerMessage.last_webhook_at)))
    end_transaction()
    last_check = json.loads(summary.value) if summary is not None else None
    if last_check is not None:
        last_check["finished_at"] = datetime.fromisoformat(last_check["finished_at"])
    return TrackingActivity(last_check, _as_utc(webhook))


def _as_utc(value: Optional[datetime]) -> Optional[datetime]:
    # An aggregate comes back without the column type's conversion (naive UTC, or text on SQLite).
    from datetime import timezone

    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
