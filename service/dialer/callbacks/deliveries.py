"""Reading the outbox, sending again (retry, replay) and purging what was delivered long ago."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Optional

from sqlalchemy import delete, exists, func, select, update

from service import metrics
from service.dialer.callbacks.endpoints import get_endpoint
from service.dialer.messages import get_message
from service.dialer.runtime import now as clock_now
from service.errors import NotFoundError
from service.extensions import db
from service.infrastructure.pagination import Page, decode_cursor, page_from_rows
from service.infrastructure.transactions import end_transaction, transaction
from service.models.callback import DELIVERED, FAILED, PENDING, CallbackAttempt, CallbackDelivery

D = CallbackDelivery
PURGE_BATCH = 1000
MAX_LISTED_ATTEMPTS = 20


class DeliveryNotFoundError(NotFoundError):
    default_message = "No callback delivery has this id."


@dataclass(frozen=True)
class DeliveryView:
    """A delivery and its latest attempts, newest first."""

    delivery: CallbackDelivery
    attempts: list[CallbackAttempt]

    def __getattr__(self, name: str):
        return getattr(self.delivery, name)


def _with_attempts(deliveries: list[CallbackDelivery]) -> list[DeliveryView]:
    if not deliveries:
        return []
    attempts: dict[int, list[CallbackAttempt]] = {}
    query = (select(CallbackAttempt).where(CallbackAttempt.delivery_id.in_([d.id for d in deliveries]))
             .order_by(CallbackAttempt.id.desc()))
    for attempt in db.session.scalars(query):
        listed = attempts.setdefault(attempt.delivery_id, [])
        if len(listed) < MAX_LISTED_ATTEMPTS:
            listed.append(attempt)
    return [DeliveryView(delivery, attempts.get(delivery.id, [])) for delivery in deliveries]


def _page(query, cursor: Optional[str], limit: int) -> Page[DeliveryView]:
    after = decode_cursor(cursor)
    if after is not None:
        query = query.where(D.id > after)
    page = page_from_rows(list(db.session.scalars(query.order_by(D.id).limit(limit + 1))), limit)
    items = _with_attempts(page.items)
    end_transaction()
    return Page(items, page.next_cursor)


def list_message_callbacks(message_id: int, cursor: Optional[str], limit: int) -> Page[DeliveryView]:
    """The message's callbacks to every target, oldest first, with their attempts."""
    get_message(message_id)
    return _page(select(D).where(D.dialer_message_id == message_id), cursor, limit)


def list_endpoint_deliveries(endpoint_id: int, status: Optional[str], cursor: Optional[str],
                             limit: int) -> Page[DeliveryView]:
    """The endpoint's deliveries (only those in `status`, if given), oldest first."""
    get_endpoint(endpoint_id)
    query = select(D).where(D.endpoint_id == endpoint_id)
    if status is not None:
        query = query.where(D.status == status)
    return _page(query, cursor, limit)


def list_deliveries(status: Optional[str], cursor: Optional[str], limit: int) -> Page[DeliveryView]:
    """Deliveries to every target (only those in `status`, if given), oldest first."""
    query = select(D)
    if status is not None:
        query = query.where(D.status == status)
    return _page(query, cursor, limit)


@dataclass(frozen=True)
class DeadLetters:
    recent: int  # failed deliveries last attempted since `since`
    total: int
    since: datetime


def count_dead_letters(since: datetime) -> DeadLetters:
    """Failed deliveries (dead letters): those whose last attempt was since `since`, and all of them."""
    failed = D.status == FAILED
    attempted_since = exists().where(CallbackAttempt.delivery_id == D.id, CallbackAttempt.attempted_at >= since)
    recent = db.session.scalar(select(func.count()).select_from(D).where(failed, attempted_since))
    total = db.session.scalar(select(func.count()).select_from(D).where(failed))
    end_transaction()
    return DeadLetters(recent or 0, total or 0, since)


def retry_delivery(delivery_id: int) -> DeliveryView:
    """Send the delivery again now, whatever became of it, under the same webhook-id."""
    with transaction() as session:
        delivery = session.get(D, delivery_id)
        if delivery is None:
            raise DeliveryNotFoundError()
        requeued = delivery.status != PENDING
        if requeued:
            delivery.status, delivery.attempts, delivery.next_attempt_at = PENDING, 0, clock_now()
    metrics.callback_deliveries_requeued("retry", int(requeued))
    return DeliveryView(delivery, [])


def replay_endpoint(endpoint_id: int, since: datetime) -> int:
    """Send the endpoint every delivery created since `since` again (same webhook-ids, in
    order per message); how many are queued."""
    get_endpoint(endpoint_id)
    with transaction() as session:
        queued = session.execute(
            update(D).where(D.endpoint_id == endpoint_id, D.created_at >= since, D.status != PENDING)
            .values(status=PENDING, attempts=0, next_attempt_at=clock_now())
            .execution_options(synchronize_session=False))
    metrics.callback_deliveries_requeued("replay", queued.rowcount)
    return queued.rowcount


def purge_delivered(retention_days: int, now: Optional[datetime] = None) -> int:
    """Delete delivered callbacks older than `retention_days`, in batches; how many were deleted.
    Failed ones (dead letters) are kept."""
    cutoff = (now or clock_now()) - timedelta(days=retention_days)
    deleted = 0
    while True:
        with transaction() as session:
            ids = select(D.id).where(D.status == DELIVERED, D.delivered_at < cutoff).limit(PURGE_BATCH)
            batch = session.execute(delete(D).where(D.id.in_(ids.scalar_subquery()))
                                    .execution_options(synchronize_session=False)).rowcount
        deleted += batch
        if batch < PURGE_BATCH:
            return deleted
