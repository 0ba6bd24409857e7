"""The backlog as it stands: read from the database when /metrics is scraped, so it is right
whichever process changed what. Every query aggregates only messages not yet final (indexed)."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Optional

from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError

from service.dialer.publishing import PUBLISHABLE_STATES
from service.dialer.tracking.accounting import tracked
from service.infrastructure.transactions import transaction
from service.models.callback import FAILED, PENDING, CallbackDelivery
from service.models.message import DialerMessage
from service.models.states import DialerMessageState
from service.models.types import utcnow

# A scrape must not queue up behind a slow database: PostgreSQL stops the queries after this.
STATEMENT_TIMEOUT_MS = 5000
NOT_FINAL = DialerMessage.is_final_state.is_(False)
UNSETTLED = (PENDING, FAILED)
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Backlog:
    by_state: dict[str, int]  # every state, 0 when no message not final is in it
    # Of the oldest message not final: "unpublished" since it was created, "awaiting_outcome" since
    # it was sent; None when there is no such message.
    oldest_age_seconds: dict[str, Optional[float]]
    # Callback deliveries pending (to send or retry) and failed (dead letters kept), and the age of
    # the oldest pending one (since it was written); None when none is pending.
    callbacks_by_status: dict[str, int] = field(default_factory=dict)
    oldest_callback_age_seconds: Optional[float] = None


def _age(now: datetime, since: Optional[datetime]) -> Optional[float]:
    return None if since is None else max((now - since).total_seconds(), 0.0)


def read_backlog(now: Optional[datetime] = None) -> Optional[Backlog]:
    """Messages not final by state, and how long the oldest has waited at each stage, as of `now`;
    None when the database cannot tell (unreachable, or slower than the statement timeout)."""
    try:
        return _read_backlog(now or utcnow())
    except SQLAlchemyError as exc:
        logger.warning("backlog not read for /metrics: %s", type(exc).__name__)
        return None


def _read_backlog(now: datetime) -> Backlog:
    with transaction() as session:
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text(f"SET LOCAL statement_timeout = {STATEMENT_TIMEOUT_MS}"))
        counts = dict(session.execute(
            select(DialerMessage.state, func.count()).where(NOT_FINAL).group_by(DialerMessage.state)).all())
        oldest_created = session.scalar(select(func.min(DialerMessage.created_at))
                                        .where(NOT_FINAL, DialerMessage.state.in_(PUBLISHABLE_STATES)))
        oldest_sent = session.scalar(select(func.min(DialerMessage.sent_at)).where(tracked()))
        callbacks, oldest_callback = _read_callback_backlog(session)
    return Backlog(
        by_state={state.value: counts.get(state, 0) for state in DialerMessageState},
        oldest_age_seconds={"unpublished": _age(now, oldest_created), "awaiting_outcome": _age(now, oldest_sent)},
        callbacks_by_status=callbacks, oldest_callback_age_seconds=_age(now, oldest_callback),
    )


def _read_callback_backlog(session) -> tuple[dict[str, int], Optional[datetime]]:
    """Pending and failed deliveries by status, and when the oldest pending one was written. Delivered
    rows (the bulk of the table) are never read: each query stays within the (status, …) index's range."""
    unsettled = CallbackDelivery.status.in_(UNSETTLED)
    counts = dict(session.execute(select(CallbackDelivery.status, func.count()).where(unsettled)
                                  .group_by(CallbackDelivery.status)).all())
    oldest = session.scalar(select(func.min(CallbackDelivery.created_at)).where(CallbackDelivery.status == PENDING))
    return {status: counts.get(status, 0) for status in UNSETTLED}, oldest
