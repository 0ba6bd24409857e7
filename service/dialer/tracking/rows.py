"""The one lock-and-apply path for observations, shared by webhooks and the poller.

Messages are locked in id order (two transactions locking overlapping
messages then wait for each other instead of deadlocking), every observation
goes through the state machine's `decide_observation`, and the changed
messages and their history are written with one batched UPDATE and one
batched INSERT. Core statements, built once: at thousands of changes a
second, the ORM's unit of work would cost more than the database.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable, NamedTuple, Optional, Union

from sqlalchemy import bindparam, insert, select, text, update
from sqlalchemy.engine import Connection

from service.dialer.callbacks.outbox import MessageChange, insert_deliveries
from service.infrastructure.locks import lock_rows
from service.models.message import DialerMessage, DialerMessageEvent
from service.models.state_machine import Decision, Observation, decide_observation
from service.models.states import DialerMessageState
from service.models.types import UTCDateTime

MESSAGES = DialerMessage.__table__
EVENTS = DialerMessageEvent.__table__


@dataclass
class MessageRow:
    """The columns tracking reads and writes, as the state machine's CallState."""

    id: int
    sent_at: Optional[datetime]
    changed_at: datetime
    state: Optional[DialerMessageState]
    is_final_state: bool
    last_edited: Optional[datetime]
    observation_key: Optional[str]
    extra_sender_data: Optional[dict[str, Any]]
    nextcall_at: Optional[datetime]
    number_of_status_check_attempts: int
    error: Optional[str]
    last_webhook_at: Optional[datetime]
    next_check_at: Optional[datetime]
    needs_status_lookup: bool
    tag: Optional[str]
    callback_url: Optional[str]
    callback_sequence: int
    # Whether it was final when locked: a change that makes it final owes `message.final`.
    was_final: bool = field(init=False)

    def __post_init__(self) -> None:
        self.was_final = self.is_final_state

    def update_parameters(self) -> dict[str, Any]:
        values = {name: getattr(self, name) for name in _WRITTEN}
        values["row_id"] = self.id
        return values

    def apply(self, observation: Observation, now: datetime) -> tuple[Decision, dict[str, Any]]:
        """Apply `observation` as the state machine decides; the decision and its history row."""
        decision = decide_observation(self, observation)
        for name, value in decision.changes.items():
            setattr(self, name, value)
        if decision.applied:
            # Only then: a repeat or an ignored observation leaves the message as the API showed it.
            self.changed_at = now
        event = {"dialer_message_id": self.id, "created_at": now,
                 **decision.event_fields(observation.source, observation.payload)}
        return decision, event


_READ = tuple(name for name, column in MessageRow.__dataclass_fields__.items() if column.init)
_WRITTEN = tuple(name for name in _READ if name not in ("id", "sent_at", "tag", "callback_url"))
_LOCK = (select(*(MESSAGES.c[name] for name in _READ))
         .where(MESSAGES.c.id.in_(bindparam("ids", expanding=True))).order_by(MESSAGES.c.id)
         .with_for_update())
_UPDATE = update(MESSAGES).where(MESSAGES.c.id == bindparam("row_id"))
_INSERT = insert(EVENTS)
# What the poller compares before locking anything: enough for the state machine to
# tell an observation that carries nothing new (`may_change`), and small: no JSON.
_SNAPSHOT = (select(MESSAGES.c.id, MESSAGES.c.state, MESSAGES.c.is_final_state, MESSAGES.c.last_edited,
                    MESSAGES.c.observation_key)
             .where(MESSAGES.c.id.in_(bindparam("ids", expanding=True))))
# PostgreSQL, through the driver's own cursor: one array parameter instead of a thousand, and
# no result processing (at a thousand rows a page, SQLAlchemy's costs several times the query).
_SNAPSHOT_PG = (f"SELECT id, state, is_final_state, last_edited, observation_key FROM {MESSAGES.name} "
                "WHERE id = ANY(%b::bigint[])")
# One look-up of the primary key per record (OFFSET 0 keeps the planner from turning them into
# a scan of the whole table): a page costs the same whatever the table's size.
_SNAPSHOT_UNLIKE_PG = (
    "SELECT m.id, m.state, m.is_final_state, m.last_edited, m.observation_key "
    "FROM unnest(%b::bigint[], %b::timestamp[], %b::varchar[]) AS v(id, last_edited, observation_key) "
    "CROSS JOIN LATERAL (SELECT id, state, is_final_state, last_edited, observation_key "
    f"FROM {MESSAGES.name} WHERE id = v.id OFFSET 0) AS m "
    "WHERE m.last_edited IS DISTINCT FROM v.last_edited OR m.observation_key IS DISTINCT FROM v.observation_key")
# SQLite: the page's keys as one JSON array of [id, last_edited, observation_key], walked first
# (CROSS JOIN keeps that order), each message found by its rowid; typed as `_SNAPSHOT`.
_UNLIKE_SQLITE = text(
    "SELECT m.id, m.state, m.is_final_state, m.last_edited, m.observation_key "
    f"FROM json_each(:keys) AS v CROSS JOIN {MESSAGES.name} AS m "
    "ON m.id = json_extract(v.value, '$[0]') "
    "WHERE m.last_edited IS NOT json_extract(v.value, '$[1]') "
    "OR m.observation_key IS NOT json_extract(v.value, '$[2]')"
).columns(*_SNAPSHOT.selected_columns)
_STATES = {state.value: state for state in DialerMessageState}
_TIMES = frozenset(name for name, column in MESSAGES.c.items() if isinstance(column.type, UTCDateTime))
_UTC = UTCDateTime()  # how times are stored and read back, for the driver-level reads and writes


def _same(value: Any) -> Any:
    return value


def _aware(value: Optional[datetime]) -> Optional[datetime]:
    """A time read through the driver, as `UTCDateTime` reads it back: aware UTC."""
    return _UTC.process_result_value(value, None)


def _state(value: Optional[str]) -> Optional[DialerMessageState]:
    return _STATES.get(value) if value is not None else None


# The lock's read, through the driver's cursor as the snapshot's (psycopg gives JSONB as Python
# values), each column converted as the Core types would: states as enums, times aware UTC.
_LOCK_PG = (f"SELECT {', '.join(_READ)} FROM {MESSAGES.name} WHERE id = ANY(%b::bigint[]) "
            "ORDER BY id FOR UPDATE")
_STATE_AT = _READ.index("state")
_TIMES_AT = tuple(index for index, name in enumerate(_READ) if name in _TIMES)


def _message_row(values: list[Any]) -> MessageRow:
    values[_STATE_AT] = _state(values[_STATE_AT])
    for index in _TIMES_AT:
        values[index] = _aware(values[index])
    return MessageRow(*values)


class Snapshot(NamedTuple):
    """A message's ordering state, as the state machine's CallState."""

    id: int
    state: Optional[DialerMessageState]
    is_final_state: bool
    last_edited: Optional[datetime]
    observation_key: Optional[str]


def lock_messages(connection: Connection, ids: Iterable[int]) -> dict[int, MessageRow]:
    """The messages with these ids, locked until the transaction ends, in id order."""
    ids = sorted(set(ids))
    if connection.dialect.name != "postgresql":
        return {row.id: MessageRow(*row) for row in lock_rows(connection, _LOCK, {"ids": ids})}
    with connection.connection.dbapi_connection.cursor() as cursor:
        cursor.execute(_LOCK_PG, (ids,))
        return {row[0]: _message_row(list(row)) for row in cursor}


OrderingKey = tuple[Optional[datetime], Optional[str]]  # (last_edited, observation_key), as stored


def snapshots_unlike(connection: Connection, keys: dict[int, OrderingKey]) -> dict[int, Snapshot]:
    """The snapshots of the messages whose stored ordering key is not the one given: a record
    that repeats what its message stores is left in the database (on PostgreSQL not even sent
    back). Messages that do not exist are left out."""
    if connection.dialect.name != "postgresql":
        return _snapshots_unlike_sqlite(connection, keys)
    ids, edited, digests = [], [], []
    for message_id, (last_edited, observation_key) in keys.items():
        ids.append(message_id)
        edited.append(_naive_utc(last_edited))
        digests.append(observation_key)
    with connection.connection.dbapi_connection.cursor() as cursor:
        cursor.execute(_SNAPSHOT_UNLIKE_PG, (ids, edited, digests))
        return {row[0]: Snapshot(row[0], _state(row[1]), row[2], _aware(row[3]), row[4])
                for row in cursor.fetchall()}


def _snapshots_unlike_sqlite(connection: Connection, keys: dict[int, OrderingKey]) -> dict[int, Snapshot]:
    # The keys as one JSON parameter, their times as the column stores them; only the messages
    # that differ come back (and through result processing). A time stored in another text form
    # only sends its record the whole way (the state machine finds nothing new), never skips one.
    stored_time = MESSAGES.c.last_edited.type.dialect_impl(connection.dialect).bind_processor(connection.dialect)
    page = json.dumps([[message_id, stored_time(edited) if edited is not None else None, digest]
                       for message_id, (edited, digest) in keys.items()])
    return {row.id: Snapshot(*row) for row in connection.execute(_UNLIKE_SQLITE, {"keys": page})}


def snapshots(connection: Connection, ids: Iterable[int]) -> dict[int, Snapshot]:
    """The messages' ordering state, read without locks (it only ever moves on)."""
    if connection.dialect.name != "postgresql":
        return {row.id: Snapshot(*row) for row in connection.execute(_SNAPSHOT, {"ids": list(ids)}).all()}
    with connection.connection.dbapi_connection.cursor() as cursor:
        cursor.execute(_SNAPSHOT_PG, (list(ids),))
        return {row[0]: Snapshot(row[0], _state(row[1]), row[2], _aware(row[3]), row[4])
                for row in cursor.fetchall()}


def write(connection: Connection, rows: Iterable[MessageRow], events: list[dict[str, Any]]) -> None:
    """One UPDATE of the changed messages, one INSERT of their history, and one INSERT of the
    callbacks they owe (the outbox, in the same transaction)."""
    rows = list(rows)
    _record_callbacks(connection, rows, events)
    if connection.dialect.name == "postgresql" and len(rows) > 1:
        _write_pg(connection, rows, events)
        return
    parameters = [row.update_parameters() for row in rows]
    if parameters:
        connection.execute(_UPDATE, _one_or_many(parameters))
    if events:
        connection.execute(_INSERT, _one_or_many(events))


# PostgreSQL: each column as one array, unnested into one UPDATE and one INSERT. The same rows as
# the statements above; executemany would send a statement per row.
_MESSAGE_TYPES = {"state": "varchar", "is_final_state": "bool", "last_edited": "timestamp",
                  "observation_key": "varchar", "extra_sender_data": "text", "nextcall_at": "timestamp",
                  "number_of_status_check_attempts": "int", "error": "text", "last_webhook_at": "timestamp",
                  "next_check_at": "timestamp", "needs_status_lookup": "bool", "changed_at": "timestamp",
                  "callback_sequence": "int"}
_EVENT_TYPES = {"dialer_message_id": "bigint", "created_at": "timestamp", "source": "varchar",
                "old_state": "varchar", "new_state": "varchar", "applied": "bool", "note": "text",
                "payload": "text"}
_JSON = ("extra_sender_data", "payload")
assert set(_MESSAGE_TYPES) == set(_WRITTEN), "the PostgreSQL write must carry every written column"
_UPDATE_PG = (
    f"UPDATE {MESSAGES.name} AS m SET "
    + ", ".join(f"{name} = v.{name}" + ("::jsonb" if name in _JSON else "") for name in _MESSAGE_TYPES)
    + " FROM unnest(%b::bigint[], "
    + ", ".join(f"%b::{kind}[]" for kind in _MESSAGE_TYPES.values())
    + ") AS v(id, " + ", ".join(_MESSAGE_TYPES) + ") WHERE m.id = v.id"
)
_INSERT_PG = (
    f"INSERT INTO {EVENTS.name} (" + ", ".join(_EVENT_TYPES) + ") SELECT "
    + ", ".join(name + ("::jsonb" if name in _JSON else "") for name in _EVENT_TYPES)
    + " FROM unnest(" + ", ".join(f"%b::{kind}[]" for kind in _EVENT_TYPES.values())
    + ") AS v(" + ", ".join(_EVENT_TYPES) + ")"
)


def _write_pg(connection: Connection, rows: list[MessageRow], events: list[dict[str, Any]]) -> None:
    columns = [[row.id for row in rows]]
    columns += [[convert(getattr(row, name)) for row in rows] for name, convert in _WRITE_PG.items()]
    with connection.connection.dbapi_connection.cursor() as cursor:
        cursor.execute(_UPDATE_PG, columns)
        if events:
            cursor.execute(_INSERT_PG, [[convert(event.get(name)) for event in events]
                                        for name, convert in _WRITE_EVENT_PG.items()])


# A value as the arrays above carry it: naive UTC times (as UTCDateTime stores them), JSON as
# text, states as their names; one converter a column, chosen once.
def _naive_utc(value: Optional[datetime]) -> Optional[datetime]:
    return _UTC.process_bind_param(value, None)  # as UTCDateTime stores it (a naive time is refused)


def _json_text(value: Any) -> Optional[str]:
    return json.dumps(value) if value is not None else None


def _state_name(value: Any) -> Optional[str]:
    return value.value if isinstance(value, DialerMessageState) else value


def _writer(name: str, kind: str):
    return (_naive_utc if kind == "timestamp" else _json_text if name in _JSON
            else _state_name if name in ("state", "old_state", "new_state") else _same)


_WRITE_PG = {name: _writer(name, kind) for name, kind in _MESSAGE_TYPES.items()}
_WRITE_EVENT_PG = {name: _writer(name, kind) for name, kind in _EVENT_TYPES.items()}


def _record_callbacks(connection: Connection, rows: list[MessageRow], events: list[dict[str, Any]]) -> None:
    transitions: dict[int, list] = {}
    for event in events:
        if event["applied"]:
            transitions.setdefault(event["dialer_message_id"], []).append((event["old_state"], event["new_state"]))
    if not transitions:
        return
    changes = [MessageChange(row.id, row.tag, row.callback_url, row.callback_sequence,
                             transitions=transitions.get(row.id, []),
                             became_final=row.is_final_state and not row.was_final) for row in rows]
    insert_deliveries(connection, changes, events[0]["created_at"])
    for row, change in zip(rows, changes, strict=True):
        row.callback_sequence = change.sequence


def _one_or_many(parameters: list[dict]) -> Union[dict, list[dict]]:
    # A single row as one statement: executemany's batching costs a round trip of its own.
    return parameters[0] if len(parameters) == 1 else parameters
