"""The dispatcher: claim due deliveries, send them with no transaction open, record each attempt.

Claims lease a delivery (its `next_attempt_at` moves past the send's timeout) in a short
transaction: PostgreSQL skips rows another dispatcher is claiming (`SKIP LOCKED`) and the
conditional UPDATE takes only rows still due, so no delivery is sent twice at once; a
dispatcher killed mid-send leaves a lease that runs out, and the delivery is sent again.
For one message and one target, a delivery is due only once every earlier one was delivered
or given up: events of a message arrive in order, and other messages are not held back.
"""
from __future__ import annotations

import logging
import random
import threading
from concurrent.futures import ALL_COMPLETED, Future, wait
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable, Iterable, Optional

from sqlalchemy import and_, exists, or_, select, update
from sqlalchemy.orm import Session, aliased, selectinload

from config import CallbackConfig
from service import metrics
from service.dialer.callbacks.payloads import delivery_body
from service.dialer.callbacks.signing import signed_headers
from service.dialer.callbacks.transport import CallbackTransport, Outcome, Request
from service.dialer.runtime import now as clock_now
from service.infrastructure.transactions import transaction
from service.models.callback import DELIVERED, FAILED, PENDING, CallbackAttempt, CallbackDelivery, CallbackEndpoint

logger = logging.getLogger(__name__)
Clock = Callable[[], datetime]
D = CallbackDelivery
_EARLIER = aliased(CallbackDelivery)
RECORD_EVERY = 0.02  # seconds: answers are recorded in groups, not a transaction each


@dataclass
class DispatchReport:
    sent: int = 0
    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    disabled_endpoints: list[int] = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.sent > 0

    def count(self, result: str) -> None:
        """Count a settled attempt: `result` is delivered, retrying or failed."""
        setattr(self, result, getattr(self, result) + 1)

    def __str__(self) -> str:
        text = f"sent {self.sent} callbacks: {self.delivered} delivered, {self.retrying} to retry, {self.failed} failed"
        return text + (f"; disabled endpoints {self.disabled_endpoints}" if self.disabled_endpoints else "")


def _due(now: datetime):
    earlier_pending = exists().where(
        _EARLIER.dialer_message_id == D.dialer_message_id, _EARLIER.endpoint_id.is_not_distinct_from(D.endpoint_id),
        _EARLIER.status == PENDING, _EARLIER.sequence < D.sequence)
    endpoint_enabled = exists().where(CallbackEndpoint.id == D.endpoint_id, CallbackEndpoint.enabled)
    return and_(D.status == PENDING, D.next_attempt_at <= now, ~earlier_pending,
                or_(D.endpoint_id.is_(None), endpoint_enabled))


class Dispatcher:
    """Sends the outbox; one per worker process (its HTTP pool is kept between runs)."""

    def __init__(self, config: CallbackConfig, clock: Optional[Clock] = None,
                 transport: Optional[CallbackTransport] = None):
        self.config = config
        self.clock = clock or clock_now  # the dialer's clock, as the outbox stamps deliveries with it
        self.transport = transport or CallbackTransport(config)
        self.batch_size = max(4 * config.concurrency, 32)
        self.lease = timedelta(seconds=2 * (config.connect_timeout_seconds + config.timeout_seconds))

    def run(self, max_batches: Optional[int] = None, stop: Optional[threading.Event] = None) -> DispatchReport:
        """Send what is due until nothing is (or `max_batches` claims were made, or `stop` is set).

        A pipeline: the senders are kept busy while answers are recorded (every `RECORD_EVERY`
        seconds, in one transaction) and more is claimed whenever half of them are idle."""
        report = DispatchReport()
        in_flight: dict[Future, Request] = {}
        claims, exhausted = 0, False
        while True:
            may_claim = (max_batches is None or claims < max_batches) and not (stop is not None and stop.is_set())
            if may_claim and len(in_flight) <= self.batch_size // 2:
                claimed, leased = self.claim(self.batch_size - len(in_flight))
                claims += 1
                exhausted = not leased
                in_flight.update((self.transport.submit(request), request) for request in claimed)
            if not in_flight:
                if exhausted or not may_claim:
                    return report
                continue
            done, _ = wait(in_flight, timeout=RECORD_EVERY, return_when=ALL_COMPLETED)
            if done:
                finished = [in_flight.pop(future) for future in done]
                self.record(finished, [future.result() for future in done], report)

    def claim(self, limit: int) -> tuple[list[Request], int]:
        """Lease up to `limit` due deliveries and sign them, in one short transaction: the requests
        to send, and how many deliveries were leased (given up ones included)."""
        now = self.clock()
        with transaction() as session:
            requests_, leased = self._claim(session, limit, now)
        metrics.callback_attempts_recorded([("unsigned", None)] * (leased - len(requests_)))
        return requests_, leased

    def _claim(self, session: Session, limit: int, now: datetime) -> tuple[list[Request], int]:
        candidates = select(D.id).where(_due(now)).order_by(D.next_attempt_at, D.id).limit(limit)
        if session.get_bind().dialect.name == "postgresql":
            candidates = candidates.with_for_update(skip_locked=True, of=D)
        ids = list(session.scalars(candidates))
        if not ids:
            return [], 0
        claimed = list(session.scalars(
            update(D).where(D.id.in_(ids), D.status == PENDING, D.next_attempt_at <= now)
            .values(next_attempt_at=now + self.lease).returning(D.id)
            .execution_options(synchronize_session=False)))
        return self._requests(session, claimed, now), len(claimed)

    def _requests(self, session: Session, ids: list[int], now: datetime) -> list[Request]:
        """The signed requests of the deliveries `ids`: three queries, whatever their number."""
        deliveries = list(session.scalars(select(D).where(D.id.in_(ids)).order_by(D.id)
                                          .options(selectinload(D.message))
                                          .execution_options(populate_existing=True)))
        endpoints = _endpoints(session, deliveries)
        requests_ = []
        with session.no_autoflush:
            for delivery in deliveries:
                if delivery.body is None:
                    delivery.body = delivery_body(delivery, delivery.message)  # fixed for retries and replays
                if delivery.endpoint_id is None:
                    url, secrets = delivery.message.callback_url, [self.config.signing_secret]
                else:
                    endpoint = endpoints[delivery.endpoint_id]
                    url, secrets = endpoint.url, signing_secrets(endpoint, now)
                if not all(secrets):
                    _give_up_unsigned(session, delivery, now)  # never sent unsigned
                    continue
                headers = signed_headers(delivery.webhook_id, now, delivery.body, secrets)
                requests_.append(Request(delivery.id, url, delivery.body, headers))
        return requests_

    def record(self, requests_: list[Request], outcomes: list[Outcome], report: DispatchReport) -> None:
        """Record each attempt and what follows from it, in one transaction."""
        now = self.clock()
        counted: list[tuple[str, Optional[float]]] = []
        disabled: list[tuple[int, str]] = []
        with transaction() as session:
            deliveries = {d.id: d for d in session.scalars(
                select(D).where(D.id.in_([request.delivery_id for request in requests_])))}
            endpoints = _endpoints(session, deliveries.values())
            with session.no_autoflush:
                for request, outcome in zip(requests_, outcomes, strict=True):
                    delivery = deliveries.get(request.delivery_id)
                    if delivery is None:
                        continue  # deleted with its endpoint meanwhile
                    session.add(CallbackAttempt(
                        delivery_id=delivery.id, attempted_at=now, duration_ms=outcome.duration_ms,
                        status_code=outcome.status_code, response_body=outcome.response_body, error=outcome.error))
                    result = self._settle(delivery, endpoints.get(delivery.endpoint_id), outcome, now, disabled)
                    report.count(result)
                    counted.append((result, outcome.duration_ms / 1000))
        report.sent += len(requests_)
        # Counted once committed: a rolled-back record leaves the deliveries to be sent again.
        metrics.callback_attempts_recorded(counted)
        for endpoint_id, reason in disabled:
            report.disabled_endpoints.append(endpoint_id)
            metrics.callback_endpoint_disabled(reason)

    def _settle(self, delivery: CallbackDelivery, endpoint: Optional[CallbackEndpoint], outcome: Outcome,
                now: datetime, disabled: list[tuple[int, str]]) -> str:
        """Settle the delivery after an attempt; what became of it: delivered, retrying or failed."""
        delivery.attempts += 1
        if outcome.succeeded:
            delivery.status, delivery.delivered_at, delivery.next_attempt_at = DELIVERED, now, None
            if endpoint is not None:
                endpoint.failing_since = None
            return "delivered"
        if outcome.status_code == 410 or delivery.attempts >= len(self.config.retry_schedule):
            delivery.status, delivery.next_attempt_at = FAILED, None  # a dead letter, kept
            result = "failed"
        else:
            delivery.next_attempt_at = now + timedelta(seconds=self._delay(delivery.attempts))
            result = "retrying"
        if endpoint is not None and endpoint.enabled:
            self._judge_endpoint(endpoint, outcome, now, disabled)
        return result

    def _delay(self, attempts: int) -> float:
        delay = self.config.retry_schedule[attempts]
        return delay * random.uniform(0.9, 1.1)  # jitter: retries of many deliveries do not arrive together

    def _judge_endpoint(self, endpoint: CallbackEndpoint, outcome: Outcome, now: datetime,
                        disabled: list[tuple[int, str]]) -> None:
        endpoint.failing_since = endpoint.failing_since or now
        if outcome.status_code == 410:
            kind, reason = "gone", "the endpoint answered 410 Gone"
        elif now - endpoint.failing_since >= timedelta(hours=self.config.disable_after_hours):
            kind, reason = "failing", f"every delivery failed for {self.config.disable_after_hours} hours"
        else:
            return
        endpoint.enabled, endpoint.disabled_reason = False, f"{reason} ({now.isoformat()})"
        disabled.append((endpoint.id, kind))
        logger.warning("callback endpoint %s disabled: %s", endpoint.id, reason)


def _give_up_unsigned(session: Session, delivery: CallbackDelivery, now: datetime) -> None:
    delivery.status, delivery.next_attempt_at = FAILED, None
    session.add(CallbackAttempt(delivery_id=delivery.id, attempted_at=now, duration_ms=0,
                                error="NoSigningSecret"))
    logger.error("callback delivery %s failed: DIALER_CALLBACK_SIGNING_SECRET is not set", delivery.id)


def _endpoints(session: Session, deliveries: Iterable[CallbackDelivery]) -> dict[int, CallbackEndpoint]:
    ids = {delivery.endpoint_id for delivery in deliveries if delivery.endpoint_id is not None}
    if not ids:
        return {}
    return {endpoint.id: endpoint for endpoint in session.scalars(
        select(CallbackEndpoint).where(CallbackEndpoint.id.in_(ids)))}


def signing_secrets(endpoint: CallbackEndpoint, now: datetime) -> list[str]:
    """The endpoint's secret, and during a rotation's overlap the previous one too."""
    secrets = [endpoint.secret]
    if endpoint.previous_secret and endpoint.previous_secret_expires_at and endpoint.previous_secret_expires_at > now:
        secrets.append(endpoint.previous_secret)
    return secrets
