"""Webhooks applied in groups: one transaction for the webhooks that arrive together.

A webhook that carries `action` and `edited` is applied before it is answered;
one without them (a hint) is recorded, and the caller then fetches the record.
Under load many arrive at once, and a transaction per webhook would spend
most of its time on round trips and commits, so concurrent ones in a process
share one (group commit, see `group_commit`): their messages are locked in id
order, every observation goes through the state machine's
`decide_observation` in arrival order (several for one message included), and
the changed messages and their history are written with one batched UPDATE
and one batched INSERT before a single commit (the path in `rows`, which the
poller shares). If the group's transaction
fails, each webhook is retried in a transaction of its own, so one bad webhook
fails only itself.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Optional, Union

from flask import current_app
from sqlalchemy.exc import OperationalError

from service import metrics
from service.dialer.runtime import dialer_config
from service.dialer.tracking.rows import MessageRow, lock_messages, write
from service.extensions import db
from service.infrastructure.group_commit import GroupCommit
from service.models.state_machine import Observation
from service.models.types import utcnow

logger = logging.getLogger(__name__)
GROUP_KEY = "dialer.webhook_observations"


@dataclass(frozen=True)
class WebhookResult:
    status_code: int
    result: str
    message_id: Optional[int] = None
    state: Optional[str] = None
    # A hint about a call in progress: the record must be fetched from Daktela.
    needs_fetch: bool = False

    def body(self) -> dict:
        body = {"result": self.result}
        if self.message_id is not None:
            body.update(message_id=self.message_id, state=self.state)
        return body


@dataclass(frozen=True)
class PendingWebhook:
    """One webhook about the record `name`, which names message `message_id`; without an
    observation it is a hint that the record changed."""

    message_id: int
    name: str
    observation: Optional[Observation]


def apply_webhook(pending: PendingWebhook) -> WebhookResult:
    """Apply one webhook together with the others arriving in this process."""
    group = current_app.extensions.get(GROUP_KEY)
    if group is None:
        size = dialer_config().status.webhook_group_size
        group = current_app.extensions.setdefault(GROUP_KEY, GroupCommit(apply_webhooks, size))
    return group.submit(pending)


def apply_webhooks(group: list[PendingWebhook]) -> list[Union[WebhookResult, Exception]]:
    """Apply `group` in one transaction; if that fails, each in a transaction of its own."""
    try:
        return _apply_together(group)
    except Exception as exc:  # noqa: BLE001 - retried alone, a bad webhook fails only itself
        if len(group) == 1 or not _worth_retrying_alone(exc):
            raise
        logger.warning("%d webhooks failed together (%s); applying them one by one", len(group),
                       type(exc).__name__)
    outcomes: list[Union[WebhookResult, Exception]] = []
    for pending in group:
        try:
            outcomes.extend(_apply_together([pending]))
        except Exception as exc:  # noqa: BLE001 - raised to this webhook's caller alone
            outcomes.append(exc)
    return outcomes


def _worth_retrying_alone(exc: Exception) -> bool:
    """One webhook's bad data, or a deadlock, need not fail the others; a database
    that cannot be reached would only fail each of them again, slowly."""
    if isinstance(exc, OperationalError):
        state = getattr(exc.orig, "sqlstate", None)
        return bool(state) and state.startswith("40")  # serialization failure, deadlock
    return True


def _apply_together(group: list[PendingWebhook]) -> list[WebhookResult]:
    now = utcnow()
    with db.engine.begin() as connection:
        rows = lock_messages(connection, (pending.message_id for pending in group))
        results, events, touched = [], [], {}
        for pending in group:
            row = rows.get(pending.message_id)
            result, event = _apply_one(row, pending, now)
            results.append(result)
            if row is not None:
                touched[row.id] = row
            if event is not None:
                events.append(event)
        write(connection, touched.values(), events)
    metrics.state_changes_committed(events)
    return results


def _apply_one(row: Optional[MessageRow], pending: PendingWebhook,
               now: datetime) -> tuple[WebhookResult, Optional[dict[str, Any]]]:
    if row is None:
        logger.info("webhook for record %s, which is not one of our messages", pending.name[:100])
        return WebhookResult(202, "unknown record"), None
    row.last_webhook_at = now
    if row.sent_at is None and not row.is_final_state:
        # Still being published: the poller looks the record up once it is.
        row.needs_status_lookup = True
        return WebhookResult(202, "queued for a status check", row.id, row.state.value), None
    observation = pending.observation
    if observation is None:
        # A hint: a finished call has nothing left to learn; otherwise the caller
        # fetches the record, with no transaction open.
        if row.is_final_state:
            return WebhookResult(200, "ignored", row.id, row.state.value), None
        return WebhookResult(200, "to fetch", row.id, row.state.value, needs_fetch=True), None
    # The state machine records it, and ignores it if the message is final.
    decision, event = row.apply(observation, now)
    return WebhookResult(200, "applied" if decision.applied else "ignored", row.id, row.state.value), event
