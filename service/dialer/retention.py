"""Retention of call histories: the events of final messages, after DIALER_EVENT_RETENTION_DAYS.

The history is append-only while a call can still change; once the message is
final and the retention period has passed, its events may go. Deletes run in
bounded batches, each its own short transaction, oldest first.
"""
from __future__ import annotations

from datetime import timedelta
from typing import Optional

from sqlalchemy import delete, select

from service.dialer.runtime import dialer_config
from service.infrastructure.transactions import transaction
from service.models.message import DialerMessage, DialerMessageEvent
from service.models.types import utcnow

PURGE_BATCH = 5000


def purge_old_events(days: Optional[int] = None, batch: int = PURGE_BATCH) -> int:
    """Delete events older than `days` (default DIALER_EVENT_RETENTION_DAYS) of
    messages in a final state; returns how many. 0 days keeps everything."""
    days = dialer_config().status.event_retention_days if days is None else days
    if days <= 0:
        return 0
    cutoff = utcnow() - timedelta(days=days)
    expired = (
        select(DialerMessageEvent.id)
        .join(DialerMessage, DialerMessage.id == DialerMessageEvent.dialer_message_id)
        .where(DialerMessage.is_final_state.is_(True), DialerMessageEvent.created_at < cutoff)
        .order_by(DialerMessageEvent.id)
        .limit(batch)
    )
    total = 0
    while True:
        with transaction() as session:
            ids = list(session.scalars(expired))
            if ids:
                session.execute(delete(DialerMessageEvent).where(DialerMessageEvent.id.in_(ids)))
        total += len(ids)
        if len(ids) < batch:
            return total
