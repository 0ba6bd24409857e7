"""One unit of work: the one place where the dialer's session work is committed or rolled back."""
from __future__ import annotations

import contextlib
from typing import Iterator

from sqlalchemy.orm import Session

from service.extensions import db


@contextlib.contextmanager
def transaction() -> Iterator[Session]:
    """The session, committed when the block ends and rolled back (the error re-raised) when it
    raises. Never open one across an HTTP call: commit, call, then open the next."""
    session = db.session
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise


def end_transaction() -> None:
    """Commit the session's transaction, if one is open (a read leaves one open): called before
    anything slow, such as an HTTP call, so no transaction is held across it."""
    if db.session().in_transaction():
        db.session.commit()
