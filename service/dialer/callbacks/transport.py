"""Sending callbacks over HTTP: one pooled session, bounded concurrency, a budget on everything.

Every call has a connect and a read timeout and a deadline on the whole (the read timeout), follows
no redirect, goes through the address check (no connection to a forbidden address, whatever
DNS says now) and reads at most
`MAX_RESPONSE_BYTES` of the answer, so a receiver that streams for ever or sends gigabytes
holds a sender no longer than the timeout.
"""
from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Optional

import requests

from config import CallbackConfig
from service.dialer.callbacks.connections import CallbackAdapter, deadline
from service.dialer.callbacks.urls import ForbiddenAddressError

MAX_RESPONSE_BYTES = 1024
USER_AGENT = "dialer-message-service-callbacks/1"


@dataclass(frozen=True)
class Request:
    """One signed attempt to make."""

    delivery_id: int
    url: str
    body: str
    headers: dict[str, str]


@dataclass(frozen=True)
class Outcome:
    """What one attempt came to: a status code and the start of the answer, or an error class."""

    status_code: Optional[int]
    response_body: Optional[str]
    error: Optional[str]
    duration_ms: int

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def _error_name(exc: BaseException) -> str:
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    if isinstance(reason, ForbiddenAddressError):
        return "ForbiddenAddressError"
    return type(exc).__name__


class CallbackTransport:
    """A pooled `requests.Session` and a pool of `concurrency` sending threads."""

    def __init__(self, config: CallbackConfig):
        self.config = config
        self.http = requests.Session()
        self.http.trust_env = False  # no proxy from the environment: it would connect unchecked
        # DIALER_CALLBACK_ALLOW_PRIVATE_NETWORKS (development, tests) lifts the address check.
        adapter = CallbackAdapter(not config.allow_private_networks, pool_connections=config.concurrency,
                                  pool_maxsize=config.concurrency, max_retries=0)
        for scheme in ("http://", "https://"):
            self.http.mount(scheme, adapter)
        self.http.headers["User-Agent"] = USER_AGENT
        self.pool = ThreadPoolExecutor(max_workers=config.concurrency, thread_name_prefix="callback")

    def submit(self, request: Request) -> Future:
        """Send `request` on one of the `concurrency` senders; the future's result is its Outcome."""
        return self.pool.submit(self.send, request)

    def send(self, request: Request) -> Outcome:
        started = time.monotonic()
        limits = (self.config.connect_timeout_seconds, self.config.timeout_seconds)
        with deadline(self.config.timeout_seconds) as call:
            try:
                with self.http.post(request.url, data=request.body.encode(), headers=request.headers,
                                    timeout=limits, allow_redirects=False, stream=True) as response:
                    head = response.raw.read(MAX_RESPONSE_BYTES, decode_content=False)
                    if not call.cut:
                        return Outcome(response.status_code, head.decode("utf-8", "replace"), None,
                                       _elapsed(started))
            except Exception as exc:  # noqa: BLE001 - every failure is an outcome to record, never a crash
                if not call.cut:
                    return Outcome(None, None, _error_name(exc), _elapsed(started))
        return Outcome(None, None, "DeadlineExceeded", _elapsed(started))

    def close(self) -> None:
        self.pool.shutdown(wait=True)
        self.http.close()


def _elapsed(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
