"""The backlog as it stands: read from the database when /metrics is scraped, so it is right
whichever process changed what. Every query aggregates only messages not yet final (indexed)."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Optional

from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError

from service.dialer.publishing import PUBLISHABLE_STATES
from service.dialer.tracking.accounting import tracked
from service.infrastructure.transactions import transaction
from service.models.message import DialerMessage
from service.models.states import DialerMessageState
from service.models.types import utcnow

# A scrape must not queue up behind a slow database: PostgreSQL stops the queries after this.
STATEMENT_TIMEOUT_MS = 5000
NOT_FINAL = DialerMessage.is_final_state.is_(False)
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Backlog:
    by_state: dict[str, int]  # every state, 0 when no message not final is in it
    # Of the oldest message not final: "unpublished" since it was created, "awaiting_outcome" since
    # it was sent; None when there is no such message.
    oldest_age_seconds: dict[str, Optional[float]]


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
    return Backlog(
        by_state={state.value: counts.get(state, 0) for state in DialerMessageState},
        oldest_age_seconds={"unpublished": _age(now, oldest_created), "awaiting_outcome": _age(now, oldest_sent)},
    )
