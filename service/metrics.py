"""Prometheus metrics: what the service counts, and the text a scrape of /metrics gets.

The counters and histograms are defined here once; the code where something
happens calls one of the functions below, a line each. With
PROMETHEUS_MULTIPROC_DIR set, prometheus-client keeps each process's values
in files of that directory and a scrape adds up every process that wrote
there: all gunicorn workers and the worker process (gunicorn.conf.py sets one
up per run of the web command, `make run` one that its web and worker share).
Without it (one process: tests, a CLI command) the values live in the process.

The backlog is not counted here: its gauges are read from the database at
scrape time (`service.dialer.backlog`), so they are right whichever process
changed what. This module imports nothing of the service, so every layer may
call it.
"""
from __future__ import annotations

import os
import time
from collections import Counter as Tally
from typing import Iterable, Mapping, Optional

from flask import Flask, Response, g, request
from sqlalchemy import event
from sqlalchemy.orm import Session

_DIRECTORY = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "").strip()
if _DIRECTORY:
    # prometheus-client writes there as soon as a metric is defined (below), and fails if it is missing.
    os.makedirs(_DIRECTORY, exist_ok=True)

from prometheus_client import (  # noqa: E402 - reads PROMETHEUS_MULTIPROC_DIR when imported
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily  # noqa: E402
from prometheus_client.multiprocess import MultiProcessCollector  # noqa: E402

HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Webhook results as the webhook answers them, and as they are counted.
WEBHOOK_RESULTS = {"applied": "applied", "ignored": "ignored", "unknown record": "unknown",
                   "queued for a status check": "queued", "fetched": "fetched", "refused": "refused",
                   "failed": "failed"}
POLL_OUTCOMES = ("ok", "failed", "skipped")
# What became of a callback delivery after an attempt (or a claim that could not sign it).
CALLBACK_OUTCOMES = ("delivered", "retrying", "failed", "unsigned")
CALLBACK_DISABLE_REASONS = ("gone", "failing")
CALLBACK_REQUEUES = ("retry", "replay")

HTTP_REQUESTS = Counter("dialer_http_requests", "HTTP requests answered, by route, method and status",
                        ["route", "method", "status"])
HTTP_DURATION = Histogram("dialer_http_request_duration_seconds", "Time to answer an HTTP request",
                          ["route", "method"])
MESSAGES_CREATED = Counter("dialer_messages_created", "Dialer messages stored (one, bulk or from a template)")
STATE_CHANGES = Counter("dialer_state_changes", "Changes of a message's state, by state before and after",
                        ["from_state", "to_state"])
DAKTELA_REQUESTS = Counter("dialer_daktela_requests", "Requests to Daktela, by operation and outcome",
                           ["operation", "outcome"])
DAKTELA_DURATION = Histogram("dialer_daktela_request_duration_seconds", "Time Daktela took to answer",
                             ["operation"])
WEBHOOKS = Counter("dialer_webhooks_received", "Webhooks received, by what came of them", ["result"])
POLL_RUNS = Counter("dialer_poll_runs", "Runs of the status poller, by outcome", ["outcome"])
POLL_DURATION = Histogram("dialer_poll_duration_seconds", "Time a poller run took",
                          buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, float("inf")))
POLL_REQUESTS = Counter("dialer_poll_provider_requests", "Requests the poller made to the provider")
POLL_RECORDS = Counter("dialer_poll_records_seen", "Provider records the poller read")
POLL_CHANGES = Counter("dialer_poll_changes_applied", "Observations the poller applied to messages")
CALLBACK_DELIVERIES = Counter("dialer_callback_deliveries", "Callback delivery attempts recorded, by what "
                              "became of the delivery", ["outcome"])
CALLBACK_DURATION = Histogram("dialer_callback_delivery_duration_seconds", "Time a callback delivery attempt took",
                              buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30, float("inf")))
CALLBACK_ENDPOINTS_DISABLED = Counter("dialer_callback_endpoints_disabled", "Callback endpoints the dispatcher "
                                      "disabled, by reason", ["reason"])
CALLBACK_REQUEUED = Counter("dialer_callback_deliveries_requeued", "Callback deliveries queued again by hand, "
                            "by how", ["how"])

# Series that alerts compare over time exist from the start, at zero.
for _result in set(WEBHOOK_RESULTS.values()):
    WEBHOOKS.labels(result=_result)
for _outcome in POLL_OUTCOMES:
    POLL_RUNS.labels(outcome=_outcome)
for _outcome in CALLBACK_OUTCOMES:
    CALLBACK_DELIVERIES.labels(outcome=_outcome)
for _reason in CALLBACK_DISABLE_REASONS:
    CALLBACK_ENDPOINTS_DISABLED.labels(reason=_reason)
for _how in CALLBACK_REQUEUES:
    CALLBACK_REQUEUED.labels(how=_how)


def messages_created(count: int) -> None:
    MESSAGES_CREATED.inc(count)


def state_changed(old_state, new_state, count: int = 1) -> None:
    """Count a change of state (enum members or names); a state kept is no change."""
    old, new = getattr(old_state, "value", old_state), getattr(new_state, "value", new_state)
    if old != new:
        STATE_CHANGES.labels(from_state=old or "NONE", to_state=new or "NONE").inc(count)


def state_changes_committed(events: Iterable[Mapping]) -> None:
    """Count the changes of state among history rows (event columns) a committed transaction
    wrote (a page of a thousand changes is a handful of distinct changes: counted once each)."""
    changes = Tally((row["old_state"], row["new_state"]) for row in events if row["applied"])
    for (old, new), count in changes.items():
        state_changed(old, new, count)


_PENDING = "metrics.pending_state_changes"


def state_changed_on_commit(session: Optional[Session], old_state, new_state) -> None:
    """Count a change made on `session`'s objects when the session commits; forgotten if it rolls back."""
    if session is None:
        state_changed(old_state, new_state)
    else:
        session.info.setdefault(_PENDING, []).append((old_state, new_state))


@event.listens_for(Session, "after_commit")
def _count_committed(session: Session) -> None:
    for old_state, new_state in session.info.pop(_PENDING, ()):
        state_changed(old_state, new_state)


@event.listens_for(Session, "after_transaction_end")
def _forget_uncommitted(session: Session, transaction) -> None:
    # After after_commit, which counted them; otherwise rolled back or closed, and the changes with it.
    if transaction.parent is None:
        session.info.pop(_PENDING, None)


def daktela_request(operation: str, outcome: str, seconds: float) -> None:
    DAKTELA_REQUESTS.labels(operation=operation, outcome=outcome).inc()
    DAKTELA_DURATION.labels(operation=operation).observe(seconds)


def webhook_received(result: str) -> None:
    WEBHOOKS.labels(result=WEBHOOK_RESULTS.get(result, "other")).inc()


def poll_finished(seconds: float, *, skipped: bool, failed: bool, requests: int, records_seen: int,
                  applied: int) -> None:
    POLL_RUNS.labels(outcome="skipped" if skipped else "failed" if failed else "ok").inc()
    if skipped:
        return
    POLL_DURATION.observe(seconds)
    POLL_REQUESTS.inc(requests)
    POLL_RECORDS.inc(records_seen)
    POLL_CHANGES.inc(applied)


def callback_attempts_recorded(attempts: Iterable[tuple[str, Optional[float]]]) -> None:
    """Count committed callback attempts: (outcome, seconds the attempt took; None when none was sent)."""
    for outcome, seconds in attempts:
        CALLBACK_DELIVERIES.labels(outcome=outcome).inc()
        if seconds is not None:
            CALLBACK_DURATION.observe(seconds)


def callback_endpoint_disabled(reason: str) -> None:
    CALLBACK_ENDPOINTS_DISABLED.labels(reason=reason).inc()


def callback_deliveries_requeued(how: str, count: int) -> None:
    CALLBACK_REQUEUED.labels(how=how).inc(count)


def init_http_metrics(app: Flask) -> None:
    """Count every answered request by its route (the rule, never the raw path), method and status."""

    @app.before_request
    def start_timer() -> None:
        g.metrics_started = time.perf_counter()

    @app.after_request
    def count(response: Response) -> Response:
        rule = request.url_rule.rule if request.url_rule is not None else "unmatched"
        method = request.method if request.method in HTTP_METHODS else "other"
        HTTP_REQUESTS.labels(route=rule, method=method, status=str(response.status_code)).inc()
        started = g.get("metrics_started")
        if started is not None:
            HTTP_DURATION.labels(route=rule, method=method).observe(time.perf_counter() - started)
        return response


class _Snapshot:
    def __init__(self, families: list) -> None:
        self.families = families

    def collect(self):
        return self.families


class _ThisProcess:
    def collect(self):
        return REGISTRY.collect()


def backlog_families(backlog) -> list:
    """Gauges of a backlog read at scrape time (`service.dialer.backlog.Backlog`): messages not final
    by state, and the age of the oldest one at each stage (absent when there is none). `backlog`
    None: the database could not be read, and only `dialer_backlog_readable` (0) says so."""
    readable = GaugeMetricFamily("dialer_backlog_readable", "1 when this scrape could read the backlog from "
                                 "the database, 0 when it could not", value=0 if backlog is None else 1)
    if backlog is None:
        return [readable]
    messages = GaugeMetricFamily("dialer_backlog_messages", "Messages not in a final state, by state",
                                 labels=["state"])
    for state, count in backlog.by_state.items():
        messages.add_metric([state], count)
    oldest = GaugeMetricFamily("dialer_backlog_oldest_age_seconds",
                               "Age of the oldest message not final: unpublished (since created) "
                               "or awaiting its outcome (since sent)", labels=["stage"])
    for stage, age in backlog.oldest_age_seconds.items():
        if age is not None:
            oldest.add_metric([stage], age)
    return [readable, messages, oldest, *_callback_backlog_families(backlog)]


def _callback_backlog_families(backlog) -> list:
    deliveries = GaugeMetricFamily("dialer_callback_backlog_deliveries", "Callback deliveries pending (to send or "
                                   "retry) and failed (dead letters kept), by status", labels=["status"])
    for status, count in backlog.callbacks_by_status.items():
        deliveries.add_metric([status], count)
    families = [deliveries]
    if backlog.oldest_callback_age_seconds is not None:
        families.append(GaugeMetricFamily("dialer_callback_backlog_oldest_age_seconds",
                                          "Age of the oldest pending callback delivery (since it was written)",
                                          value=backlog.oldest_callback_age_seconds))
    return families


def exposition(families: Iterable = ()) -> tuple[bytes, str]:
    """The text of a scrape: every process's counters (one process's, outside multiprocess mode)
    and `families` computed now."""
    registry = CollectorRegistry()
    if _DIRECTORY:
        MultiProcessCollector(registry, path=_DIRECTORY)
    else:
        registry.register(_ThisProcess())
    registry.register(_Snapshot(list(families)))
    return generate_latest(registry), CONTENT_TYPE_LATEST
