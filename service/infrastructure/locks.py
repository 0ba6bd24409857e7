"""Runs that only one process may do at a time (the status poller), keys one transaction at a
time may hold, and row locks on either database."""
from __future__ import annotations

import contextlib
import zlib
from typing import Iterable, Iterator, Optional

from sqlalchemy import text
from sqlalchemy.engine import Connection

from service.extensions import db


@contextlib.contextmanager
def exclusive_run(name: str) -> Iterator[bool]:
    """Yield True when this process holds the lock `name`, False when another one does.

    PostgreSQL: a session-level advisory lock on a connection of its own in
    autocommit mode, so no transaction stays open while the run talks to
    Daktela. SQLite: one worker is assumed, so the lock is always granted.
    """
    engine = db.engine
    if engine.dialect.name != "postgresql":
        yield True
        return
    key = zlib.crc32(name.encode())
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        acquired = connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}).scalar()
        try:
            yield bool(acquired)
        finally:
            if acquired:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})


def lock_keys(namespace: str, keys: Iterable[str]) -> None:
    """Hold `keys` (in `namespace`) until the session's transaction ends: a second transaction
    asking for one of them waits for the commit. PostgreSQL: transaction-scoped advisory locks,
    taken in a fixed order so that two callers never wait for each other. SQLite: its one writer
    at a time does the same once the transaction writes (`_lock_sqlite`)."""
    connection = db.session.connection()
    if connection.dialect.name != "postgresql":
        _lock_sqlite(connection)
        return
    for key in sorted({zlib.crc32(f"{namespace}:{key}".encode()) for key in keys}):
        connection.execute(text("SELECT pg_advisory_xact_lock(:namespace, :key)"),
                           {"namespace": zlib.crc32(namespace.encode()) & 0x7FFFFFFF, "key": key - 2**31})


def share_key(connection: Connection, name: str) -> None:
    """Hold `name` shared until `connection`'s transaction ends: many holders at once, none while
    `hold_key_exclusively` has it (PostgreSQL advisory locks; SQLite's one writer needs none)."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock_shared(:key)"), {"key": _key(name)})


def hold_key_exclusively(connection: Connection, name: str) -> None:
    """Hold `name` alone until `connection`'s transaction ends, once its shared holders are done."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _key(name)})


def _key(name: str) -> int:
    return zlib.crc32(name.encode()) - 2**31


# SQLite has no row locks (and renders no FOR UPDATE): a no-op write takes
# the database's write lock before the read, so what is read is what gets
# overwritten (pysqlite starts no transaction for a plain SELECT, so no older
# snapshot can be held here).
_SQLITE_WRITE_LOCK = text("UPDATE dialer_message SET id = id WHERE 0")


def _lock_sqlite(connection: Connection) -> None:
    if connection.dialect.name != "postgresql":
        connection.execute(_SQLITE_WRITE_LOCK)


def select_for_update(query) -> list:
    """Run the ORM `query` and keep its rows ours until the commit, on either database."""
    _lock_sqlite(db.session.connection())
    return list(db.session.scalars(query.with_for_update()))


def lock_rows(connection: Connection, query, parameters: Optional[dict] = None) -> list:
    """`select_for_update` for a Core `query ... FOR UPDATE` on `connection` in a transaction."""
    _lock_sqlite(connection)
    return list(connection.execute(query, parameters))
