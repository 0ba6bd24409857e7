"""The one batched write of the lock-and-apply path stores every column as the ORM reads it back,
on both databases (PostgreSQL writes a page with one UPDATE and one INSERT of unnested arrays)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from service.dialer.tracking.rows import lock_messages, snapshots_unlike, write
from service.extensions import db
from service.models import DialerMessage, DialerMessageEvent, DialerMessageState
from tests.support.factories import sent_message

EDITED = datetime(2026, 10, 25, 0, 30, 1, tzinfo=timezone.utc)
EDITED_PRECISE = EDITED.replace(microsecond=123456)
PRAGUE = timezone(timedelta(hours=2))


@pytest.fixture
def messages(app_context):
    return [sent_message(recipient=f"+42077712345{i}") for i in range(3)]


def test_a_page_of_changes_is_stored_as_written(messages):
    ids = [message.id for message in messages]
    now = datetime(2026, 11, 30, 8, 0, tzinfo=timezone.utc)
    with db.engine.begin() as connection:
        rows = lock_messages(connection, ids)
        first, second, third = (rows[i] for i in ids)
        first.state, first.is_final_state, first.last_edited = DialerMessageState.DECLINED, True, EDITED
        first.extra_sender_data = {"record_name": "x", "statuses": ["statuses_declined"], "note": "žluťoučký \"'"}
        first.error, first.observation_key, first.changed_at = "it's \"quoted\"", "k" * 32, now
        second.nextcall_at, second.next_check_at = EDITED + timedelta(hours=1), now
        second.number_of_status_check_attempts, second.needs_status_lookup = 3, True
        third.last_webhook_at, third.error = now, None
        events = [{"dialer_message_id": ids[0], "created_at": now, "source": "poll", "old_state": "READY",
                   "new_state": "DECLINED", "applied": True, "note": None, "payload": {"a": [1, None, "ř"]}},
                  {"dialer_message_id": ids[1], "created_at": now, "source": "webhook", "old_state": "READY",
                   "new_state": "READY", "applied": False, "note": "repeats", "payload": {}}]
        write(connection, [first, second, third], events)
    db.session.expire_all()
    stored = {m.id: m for m in db.session.scalars(select(DialerMessage).where(DialerMessage.id.in_(ids)))}
    assert (stored[ids[0]].state, stored[ids[0]].is_final_state) == (DialerMessageState.DECLINED, True)
    assert stored[ids[0]].last_edited == EDITED and stored[ids[0]].changed_at == now
    assert stored[ids[0]].extra_sender_data["note"] == "žluťoučký \"'"
    assert stored[ids[0]].error == "it's \"quoted\"" and stored[ids[0]].observation_key == "k" * 32
    assert stored[ids[1]].nextcall_at == EDITED + timedelta(hours=1)
    assert (stored[ids[1]].number_of_status_check_attempts, stored[ids[1]].needs_status_lookup) == (3, True)
    assert stored[ids[2]].last_webhook_at == now and stored[ids[2]].state == DialerMessageState.READY
    history = list(db.session.scalars(select(DialerMessageEvent).where(DialerMessageEvent.dialer_message_id.in_(ids))
                                      .order_by(DialerMessageEvent.id)))
    assert [(e.dialer_message_id, e.source, e.new_state, e.applied, e.note, e.payload) for e in history] == [
        (ids[0], "poll", "DECLINED", True, None, {"a": [1, None, "ř"]}),
        (ids[1], "webhook", "READY", False, "repeats", {})]
    assert history[0].created_at == now


def test_only_the_messages_whose_stored_ordering_key_differs_come_back(messages):
    """The skip before any lock: a record repeating what its message stores stays in the database."""
    first, second, third = messages
    with db.engine.begin() as connection:
        rows = lock_messages(connection, [first.id, second.id])
        rows[first.id].last_edited, rows[first.id].observation_key = EDITED, "a" * 32
        rows[second.id].last_edited, rows[second.id].observation_key = EDITED_PRECISE, "b" * 32
        write(connection, [rows[first.id], rows[second.id]], [])
    keys = {first.id: (EDITED, "a" * 32),  # the same: skipped
            second.id: (EDITED_PRECISE, "c" * 32),  # another observation at the same time
            third.id: (None, None),  # never observed, and the record says nothing yet: the same
            third.id + 1000: (EDITED, "a" * 32)}  # no such message
    with db.engine.connect() as connection:
        assert set(snapshots_unlike(connection, keys)) == {second.id}
        # The same instants given in another zone are the same keys, to the microsecond.
        assert snapshots_unlike(connection, {first.id: (EDITED.astimezone(PRAGUE), "a" * 32),
                                             second.id: (EDITED_PRECISE.astimezone(PRAGUE), "b" * 32)}) == {}
        assert set(snapshots_unlike(connection, {second.id: (EDITED_PRECISE + timedelta(microseconds=1),
                                                             "b" * 32)})) == {second.id}
        later = {first.id: (EDITED + timedelta(seconds=1), "a" * 32), third.id: (EDITED, "d" * 32)}
        found = snapshots_unlike(connection, later)
    assert set(found) == {first.id, third.id}
    assert found[first.id].last_edited == EDITED and found[first.id].observation_key == "a" * 32
    assert found[third.id].last_edited is None and found[third.id].state == DialerMessageState.READY
