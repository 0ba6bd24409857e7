"""Runs that only one process may do at a time (the status poller)."""
from __future__ import annotations

import contextlib
import zlib
from typing import Iterator

from sqlalchemy import text

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
