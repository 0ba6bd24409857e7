"""Benchmark: status callbacks from commit to a receiver, through the worker process, on PostgreSQL.

    .venv/bin/python bench/callbacks.py [--database-url postgresql://postgres@127.0.0.1:5432/test]

A local receiver answers every request after 20 ms. The worker process (the Procfile's, with
DIALER_CALLBACK_CONCURRENCY senders) delivers what webhook groups commit (the batched path,
groups of 100 state changes, one endpoint subscribed):

- backlog: 10,000 state changes committed as fast as they can be, then drained:
  deliveries per second (target >= 300/s on 2 cores);
- steady: state changes committed at a fixed rate the dispatcher keeps up with: latency from
  each change's commit to its arrival at the receiver (targets p50 < 500 ms, p99 < 2 s).

The baseline, in the same run, is the receiver's ceiling: the same number of signed-size
POSTs sent straight from a pool of as many threads, with no database at all.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.results import write_section  # noqa: E402

T0 = datetime(2030, 1, 1, tzinfo=timezone.utc)
GROUP = 100


class Receiver(ThreadingHTTPServer):
    """Answers 204 after `delay` seconds; notes when each message's callback arrived."""

    daemon_threads = True
    request_queue_size = 256

    def __init__(self, delay: float):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.delay = delay
        self.arrivals: dict[int, float] = {}
        self.count = 0
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/callbacks"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        arrived = time.time()
        time.sleep(self.server.delay)
        if body.startswith(b"{"):
            message_id = json.loads(body)["data"]["id"]
            with self.server.lock:
                self.server.arrivals.setdefault(message_id, arrived)
                self.server.count += 1
        self.send_response(204)
        self.end_headers()


def environment(args) -> dict:
    return {**os.environ, "APP_ENV": "production", "SECRET_KEY": "bench", "DIALER_API_KEYS": "bench",
            "DATABASE_URL": args.database_url, "DIALER_SENDER_BACKEND": "dummy", "LOG_LEVEL": "WARNING",
            "DIALER_CALLBACK_ALLOW_PRIVATE_NETWORKS": "true", "DIALER_CALLBACK_CONCURRENCY": str(args.concurrency),
            "DIALER_CALLBACK_POLL_SECONDS": str(args.poll_seconds)}


def make_app(args):
    from config import Config
    from service import create_app

    return create_app(Config.from_env(environment(args)))


def seed(app, count: int, url: str) -> list[int]:
    """`count` sent READY messages (no callbacks owed yet) and one endpoint for state changes."""
    from sqlalchemy import insert

    from service.extensions import db
    from service.models import CallbackEndpoint, DialerMessage
    from service.models.types import utcnow

    with app.app_context():
        db.drop_all()
        db.create_all()
        now = utcnow()
        rows = [dict(recipient="+420777000000", content="x", state="READY", backend="bench", extra_data={},
                     extra_sender_data={}, is_final_state=False, priority=3, is_autodialer=True, callback_sequence=1,
                     number_of_send_attempts=1, number_of_status_check_attempts=0, sent_at=now,
                     created_at=now, changed_at=now, needs_status_lookup=False) for _ in range(count)]
        ids = list(db.session.scalars(insert(DialerMessage).returning(DialerMessage.id), rows))
        db.session.add(CallbackEndpoint(url=url, secret="whsec_" + "A" * 32, event_types=["message.state_changed"],
                                        description="bench"))
        db.session.commit()
        db.engine.dispose()
    return ids


def commit_changes(app, ids: list[int], rate: float | None) -> dict[int, float]:
    """Commit READY -> CALL_IN_PROGRESS for `ids` in webhook groups (at `rate` changes/s, else at
    once); when each was committed."""
    from service.dialer.tracking.groups import PendingWebhook, apply_webhooks
    from service.models import DialerMessageState
    from service.models.state_machine import Observation

    observation = Observation("webhook", DialerMessageState.CALL_IN_PROGRESS, edited=T0)
    committed, started = {}, time.monotonic()
    with app.app_context():
        for start in range(0, len(ids), GROUP):
            group = ids[start:start + GROUP]
            if rate:
                time.sleep(max(0.0, started + start / rate - time.monotonic()))
            apply_webhooks([PendingWebhook(i, f"bench_{i}", observation) for i in group])
            now = time.time()
            committed.update(dict.fromkeys(group, now))
    return committed


def wait_for(receiver: Receiver, count: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while len(receiver.arrivals) < count and time.monotonic() < deadline:
        time.sleep(0.05)


def ceiling(receiver: Receiver, count: int, concurrency: int) -> float:
    """Requests/s the receiver takes from `concurrency` threads sending a callback-sized body."""
    body = json.dumps({"type": "bench", "data": {"id": -1, "x": "y" * 900}}).encode()
    session = requests.Session()
    session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=concurrency))
    started = time.monotonic()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(lambda _: session.post(receiver.url, data=body, timeout=15), range(count)))
    return count / (time.monotonic() - started)


def run_worker(args):
    return subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "dialer", "worker"], cwd=ROOT,
                            env=environment(args), stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)


def backlog(args, receiver: Receiver) -> dict:
    app = make_app(args)
    ids = seed(app, args.events, receiver.url)
    receiver.arrivals.clear()
    commit_changes(app, ids, None)
    worker = run_worker(args)
    try:
        wait_for(receiver, len(ids), 300)
    finally:
        worker.terminate()
        worker.wait(30)
    arrivals = sorted(receiver.arrivals.values())
    return {"delivered": len(arrivals), "rate": len(arrivals) / (arrivals[-1] - arrivals[0])}


def steady(args, receiver: Receiver) -> dict:
    app = make_app(args)
    ids = seed(app, int(args.rate * args.seconds), receiver.url)
    receiver.arrivals.clear()
    worker = run_worker(args)
    try:
        time.sleep(3)  # the worker is up before the first commit
        committed = commit_changes(app, ids, args.rate)
        wait_for(receiver, len(ids), 120)
    finally:
        worker.terminate()
        worker.wait(30)
    latencies = sorted((receiver.arrivals[i] - committed[i]) * 1000 for i in ids if i in receiver.arrivals)
    return {"delivered": len(latencies), "p50": statistics.median(latencies),
            "p99": latencies[int(len(latencies) * 0.99) - 1]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--poll-seconds", type=float, default=0.5)
    parser.add_argument("--rate", type=float, default=200.0, help="steady phase: state changes per second")
    parser.add_argument("--seconds", type=float, default=15.0, help="steady phase: how long")
    parser.add_argument("--delay", type=float, default=0.02, help="the receiver's answer time")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    receiver = Receiver(args.delay)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    runs = []
    for _ in range(args.repeats):
        run = {"ceiling": ceiling(receiver, args.events // 4, args.concurrency),
               **backlog(args, receiver), **{f"steady_{k}": v for k, v in steady(args, receiver).items()}}
        print(run, flush=True)
        runs.append(run)
    text = table(args, runs)
    print(text)
    if not args.no_write:
        write_section("Status callbacks (bench/callbacks.py)",
                      f"PostgreSQL; the Procfile's worker with DIALER_CALLBACK_CONCURRENCY={args.concurrency} and "
                      f"DIALER_CALLBACK_POLL_SECONDS={args.poll_seconds}; a local receiver answering after "
                      f"{args.delay * 1000:.0f} ms; state changes committed by webhook groups of {GROUP}; "
                      f"median of {args.repeats}. The ceiling is the same receiver driven by {args.concurrency} "
                      "threads with no database.", text)


def table(args, runs: list[dict]) -> str:
    def median(key):
        return statistics.median(run[key] for run in runs)

    rows = ["| measure | value | target |", "| --- | ---: | --- |",
            f"| receiver ceiling ({args.concurrency} threads, no database) | {median('ceiling'):.0f} requests/s | |",
            f"| backlog of {args.events:,} events: deliveries/s | {median('rate'):.0f} "
            f"({median('rate') / median('ceiling'):.0%} of the ceiling) | >= 300/s |",
            f"| steady {args.rate:.0f} changes/s for {args.seconds:.0f} s: delivered | "
            f"{median('steady_delivered'):.0f} of {int(args.rate * args.seconds)} | all |",
            f"| steady: commit -> receiver p50 | {median('steady_p50'):.0f} ms | < 500 ms |",
            f"| steady: commit -> receiver p99 | {median('steady_p99'):.0f} ms | < 2,000 ms |"]
    return "\n".join(rows)


if __name__ == "__main__":
    main()
