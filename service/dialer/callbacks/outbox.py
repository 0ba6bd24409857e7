"""The transactional outbox: which callbacks a change of messages owes, written with the change.

Both ways messages change feed the one derivation, `outbox_rows`, from what they already
write: a new message is `message.created`; every applied history event whose state differs
from the one before is `message.state_changed`; a message that became final in the change
is `message.final` (once: it never becomes non-final again). Whatever states the state
machine learns, their events become callbacks with no wiring of their own.

- The ORM path (sending, publishing, our own transitions): a `before_flush` hook reads the
  new messages and the history events pending on changed ones, and adds the deliveries to
  the same flush, so they commit or roll back with the change.
- The batched Core path (webhook groups, the poller): `tracking.rows.write` calls
  `insert_deliveries` inside its transaction: one INSERT for the whole page or group.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable, Optional, Sequence

from sqlalchemy import event, insert, inspect, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, attributes

from service.dialer.runtime import now as clock_now
from service.infrastructure.locks import share_key
from service.models.callback import (
    EVENT_CREATED,
    EVENT_FINAL,
    EVENT_STATE_CHANGED,
    PENDING,
    CallbackDelivery,
    CallbackEndpoint,
)
from service.models.message import DialerMessage, DialerMessageEvent

DELIVERIES = CallbackDelivery.__table__
ENDPOINTS = CallbackEndpoint.__table__
_SUBSCRIBERS = select(ENDPOINTS.c.id, ENDPOINTS.c.event_types, ENDPOINTS.c.tag).where(ENDPOINTS.c.enabled)


@dataclass(frozen=True)
class Subscriber:
    """An enabled endpoint and its filters."""

    id: int
    event_types: frozenset[str]
    tag: Optional[str]

    def wants(self, event_type: str, tag: Optional[str]) -> bool:
        return (not self.event_types or event_type in self.event_types) and (self.tag is None or self.tag == tag)


@dataclass
class MessageChange:
    """What one transaction did to one message, in the outbox's terms."""

    message_id: Optional[int]  # None: a new message, not yet flushed
    tag: Optional[str]
    callback_url: Optional[str]
    sequence: int  # the message's callback events so far
    created_state: Optional[str] = None  # set for a new message
    transitions: list[tuple[Optional[str], Optional[str]]] = field(default_factory=list)  # applied events
    became_final: bool = False


ENDPOINT_SET = "callback-endpoint-set"


def subscribers(connection: Connection) -> list[Subscriber]:
    """The enabled endpoints (a small table, read once per transaction that owes callbacks). Until
    the transaction ends no endpoint is deleted (`delete_endpoint` waits), so the deliveries it
    inserts never name an endpoint deleted meanwhile."""
    share_key(connection, ENDPOINT_SET)
    return [Subscriber(row.id, frozenset(row.event_types or ()), row.tag) for row in connection.execute(_SUBSCRIBERS)]


def _events_of(change: MessageChange) -> list[tuple[str, Optional[str], Optional[str]]]:
    typed = []
    if change.created_state is not None:
        typed.append((EVENT_CREATED, None, change.created_state))
    for old, new in change.transitions:
        if old != new:
            typed.append((EVENT_STATE_CHANGED, old, new))
    if change.became_final and change.transitions:
        typed.append((EVENT_FINAL, change.transitions[0][0], change.transitions[-1][1]))
    return typed


def outbox_rows(change: MessageChange, endpoints: Sequence[Subscriber], now: datetime) -> list[dict[str, Any]]:
    """The deliveries `change` owes (one per event and subscriber, plus one per event to the
    message's own callback_url); advances `change.sequence` by the events it numbers."""
    rows = []
    for event_type, previous, state in _events_of(change):
        change.sequence += 1
        targets = [endpoint.id for endpoint in endpoints if endpoint.wants(event_type, change.tag)]
        if change.callback_url:
            targets.append(None)
        webhook_id = f"msg_{uuid.uuid4().hex}" if targets else ""
        rows.extend({"webhook_id": webhook_id, "created_at": now, "dialer_message_id": change.message_id,
                     "endpoint_id": target, "event_type": event_type, "sequence": change.sequence,
                     "previous_state": previous, "state": state, "status": PENDING, "attempts": 0,
                     "next_attempt_at": now, "delivered_at": None, "body": None}
                    for target in targets)
    return rows


def insert_deliveries(connection: Connection, changes: Iterable[MessageChange], now: datetime) -> None:
    """The Core path: the deliveries of `changes`, in one INSERT; each change's sequence advanced."""
    changes = [change for change in changes if change.transitions or change.created_state is not None]
    if not changes:
        return
    endpoints = subscribers(connection)
    rows = [row for change in changes for row in outbox_rows(change, endpoints, now)]
    if rows:
        connection.execute(insert(DELIVERIES), rows)


def _state_name(value: Any) -> Optional[str]:
    return getattr(value, "value", value)


def _orm_change(session: Session, message: DialerMessage) -> Optional[MessageChange]:
    new = message in session.new
    pending = attributes.get_history(message, "events", attributes.PASSIVE_NO_INITIALIZE).added
    transitions = [(e.old_state, e.new_state) for e in pending if isinstance(e, DialerMessageEvent) and e.applied]
    if not new and not transitions:
        return None
    finality = inspect(message).attrs.is_final_state.history
    became_final = bool(message.is_final_state) and (new or False in (finality.deleted or ()))
    return MessageChange(message.id, message.tag, message.callback_url, message.callback_sequence or 0,
                         created_state=_state_name(message.state) if new else None,
                         transitions=transitions, became_final=became_final)


def _add_deliveries_to_flush(session: Session, flush_context, instances) -> None:
    changed = [(message, change) for message in (*session.new, *session.dirty)
               if isinstance(message, DialerMessage) and (change := _orm_change(session, message)) is not None]
    if not changed:
        return
    with session.no_autoflush:
        endpoints = subscribers(session.connection())
    now = clock_now()
    for message, change in changed:
        for row in outbox_rows(change, endpoints, now):
            del row["dialer_message_id"]
            session.add(CallbackDelivery(message=message, **row))
        message.callback_sequence = change.sequence


def install_outbox() -> None:
    """Hook the ORM path's derivation into every session's flush (once per process)."""
    if not event.contains(Session, "before_flush", _add_deliveries_to_flush):
        event.listen(Session, "before_flush", _add_deliveries_to_flush)
