"""Provider records applied to their messages: the poller's path, and a fetched webhook hint's.

Most records a feed page returns carry nothing new (the overlap re-reads
what the previous run saw). Those are told apart with one unlocked read of
the messages' ordering state and skipped before anything is locked or
written; what is left goes through the one lock-and-apply path (`rows`),
as webhooks do: locks in id order, one batched UPDATE, one batched INSERT.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Iterable, Optional

from sqlalchemy import update

from service import metrics
from service.backends.base import DialerBackend, ProviderRecord
from service.dialer.publishing import PUBLISHABLE_STATES
from service.dialer.runtime import dialer_config
from service.dialer.tracking.accounting import CheckReport, count_failed_checks
from service.dialer.tracking.rows import MESSAGES, OrderingKey, lock_messages, snapshots, snapshots_unlike, write
from service.errors import exception_origin
from service.extensions import db
from service.models.state_machine import Observation, may_change
from service.models.types import utcnow

logger = logging.getLogger(__name__)


def apply_records(backend: DialerBackend, records: Iterable[ProviderRecord], source: str,
                  report: CheckReport) -> None:
    """Apply provider records to the messages they belong to; unchanged ones cost one read."""
    ours: dict[int, ProviderRecord] = {}
    for record in records:
        report.records_seen += 1
        message_id = backend.message_id_for(record.name)
        if message_id is not None:
            ours[message_id] = record
    news, failed = _news(backend, ours, source) if ours else ({}, [])
    report.unchanged += len(ours) - len(news) - len(failed)
    if news:
        _apply(news, utcnow(), report)
    if source != "poll":
        # Looked up on purpose: the look was made, whatever it found.
        _clear_lookup_flags(set(ours) - set(news) - set(failed))
    if failed:
        count_failed_checks(failed, "The provider's record could not be read.", report)


def _news(backend: DialerBackend, ours: dict[int, ProviderRecord],
          source: str) -> tuple[dict[int, Observation], list[int]]:
    """The observations the state machine would apply to the messages as they stand now, and the
    messages whose record could not be read. Without a lock: a message only moves on, so what
    is not news now will not be later. A record that repeats what its message stores (the
    feed's overlap re-reads them) is told apart by the database, from the ordering key the
    backend gives (`ordering_key_of`), before any observation is built or any row loaded."""
    keys: dict[int, OrderingKey] = {}
    unkeyed: dict[int, Optional[Exception]] = {}  # no key: no shortcut, or an unreadable record
    for message_id, record in ours.items():
        try:
            key = backend.ordering_key_of(record)
        except Exception as exc:  # one bad record never stops the others
            unkeyed[message_id] = exc
            continue
        if key is None or (key[0] is not None and key[0].tzinfo is None):
            unkeyed[message_id] = None  # a naive time cannot be compared: the record goes the whole way
        else:
            keys[message_id] = key
    with db.engine.connect() as connection:
        current = snapshots_unlike(connection, keys) if keys else {}
        if unkeyed:
            current.update(snapshots(connection, unkeyed))
    news, failed = {}, []
    for message_id, stored in current.items():
        try:
            if unkeyed.get(message_id) is not None:
                raise unkeyed[message_id]
            observation = backend.observation_of(ours[message_id], source)
        except Exception as exc:
            logger.warning("record of message %s not applied: %s", message_id, exception_origin(exc))
            failed.append(message_id)
            continue
        if may_change(stored, observation, stored.observation_key):
            news[message_id] = observation
    return news, failed


def _apply(news: dict[int, Observation], now: datetime, report: CheckReport) -> None:
    next_check = now + timedelta(seconds=dialer_config().status.interval_seconds)
    with db.engine.begin() as connection:
        rows = lock_messages(connection, news)
        touched, events = [], []
        for message_id, observation in news.items():
            row = rows.get(message_id)
            if row is None or row.sent_at is None or row.state in PUBLISHABLE_STATES:
                continue  # still being published: publishing will learn the record's state
            decision, event = row.apply(observation, now)
            row.needs_status_lookup = False
            row.next_check_at = next_check
            touched.append(row)
            events.append(event)
            if decision.applied:
                report.applied += 1
            else:
                report.ignored += 1
        write(connection, touched, events)
    metrics.state_changes_committed(events)


def _clear_lookup_flags(ids: set[int]) -> None:
    if ids:
        with db.engine.begin() as connection:
            connection.execute(update(MESSAGES).where(MESSAGES.c.id.in_(ids), MESSAGES.c.needs_status_lookup)
                               .values(needs_status_lookup=False))
