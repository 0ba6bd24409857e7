"""Benchmark: webhook ingestion under gunicorn on PostgreSQL, 32 concurrent clients.

    .venv/bin/python bench/webhooks.py [--database-url postgresql://postgres@127.0.0.1:5432/test]

Needs `wrk` (Debian: apt-get install wrk). Serves the app with gunicorn, seeds
sent messages, then drives POST /webhooks/daktela (each request applies or
ignores one observation under a row lock) and, as the ceiling, GET /healthz
on the same server with the same client. The baseline, in the same run, is the
same server with DIALER_WEBHOOK_GROUP_SIZE=1: a transaction per webhook, as
before group commit. Prints requests/s, p50/p99 latency and database commits
per request (median of the repeats). Targets: at least half the ceiling's
throughput, p99 under 50 ms.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import re
import shlex
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.results import write_section  # noqa: E402

SECRET = "bench-webhook-secret"
MESSAGES = 5000
LUA = """
counter = 0
request = function()
  counter = counter + 1
  local id = math.random(%(first)d, %(last)d)
  local seconds = counter %% 86400
  local body = string.format(
    '{"event":"crecord_update","name":"bench_%%d","action":"3","statuses":"[]","call_id":"null",' ..
    '"edited":"2030-01-01 %%02d:%%02d:%%02d"}',
    id, math.floor(seconds / 3600), math.floor(seconds / 60) %% 60, seconds %% 60)
  return wrk.format("POST", "/webhooks/daktela",
    {["Content-Type"] = "application/json", ["X-Webhook-Secret"] = "%(secret)s"}, body)
end
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# A port of its own for each run: a fixed one could be another engineer's server.
PORT = free_port()


def environment(database_url: str) -> dict:
    return {**os.environ, "APP_ENV": "production", "SECRET_KEY": "bench", "DIALER_API_KEYS": "bench",
            "DATABASE_URL": database_url, "DIALER_SENDER_BACKEND": "daktela",
            "DAKTELA_URL": "http://127.0.0.1:9", "DAKTELA_ACCESS_TOKEN": "unused",
            "DAKTELA_AUTODIALER_RECORD_TYPE": "tts", "DAKTELA_RECORD_NAME_PREFIX": "bench_",
            "DAKTELA_WEBHOOK_SECRETS": SECRET, "LOG_LEVEL": "WARNING"}


def seed(database_url: str) -> tuple[int, int]:
    from sqlalchemy import insert

    from config import Config
    from service import create_app
    from service.extensions import db
    from service.models import DialerMessage
    from service.models.types import utcnow

    app = create_app(Config.from_env(environment(database_url)))
    with app.app_context():
        db.drop_all()
        db.create_all()
        now = utcnow()
        rows = [dict(recipient="+420777000000", content="x", state="READY", backend="bench", extra_data={},
                     extra_sender_data={}, is_final_state=False, priority=3, is_autodialer=True,
                     number_of_send_attempts=1, number_of_status_check_attempts=0, sent_at=now,
                     created_at=now, changed_at=now, needs_status_lookup=False) for _ in range(MESSAGES)]
        ids = list(db.session.scalars(insert(DialerMessage).returning(DialerMessage.id), rows))
        db.session.commit()
        db.engine.dispose()
    return min(ids), max(ids)


def wrk(args: list[str]) -> dict:
    output = subprocess.run(["wrk", "-t2", "-c32", "-d10s", "--latency", *args],
                            capture_output=True, text=True, check=True).stdout

    def latency(percent: str) -> float:
        value, unit = re.search(rf"^\s+{percent}%\s+([\d.]+)(us|ms|s)\s*$", output, re.M).groups()
        return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
            "requests": int(re.search(r"(\d+) requests in", output).group(1)),
            "p50": latency("50"), "p99": latency("99"), "non_2xx": int(errors.group(1)) if errors else 0}


def commits(database_url: str) -> int:
    import psycopg

    with psycopg.connect(database_url.replace("+psycopg", ""), autocommit=True) as connection:
        return connection.execute("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
                                  ).fetchone()[0]


@contextlib.contextmanager
def serving(args, group_size: int, gunicorn_args: list[str] | None = None, root: Path = ROOT):
    """gunicorn with the production settings (gunicorn.conf.py in `root`: this checkout, or the
    baseline's), the given processes and threads, and `gunicorn_args` (else --gunicorn's)."""
    env = {**environment(args.database_url), "DIALER_WEBHOOK_GROUP_SIZE": str(group_size), "PYTHONPATH": str(root)}
    extra = args.gunicorn if gunicorn_args is None else gunicorn_args
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "wsgi:app", "--bind", f"127.0.0.1:{PORT}", "--workers", str(args.workers),
         "--threads", str(args.threads), "--log-level", "warning", *extra], cwd=root, env=env)
    try:
        for _ in range(100):
            try:
                requests.get(f"http://127.0.0.1:{PORT}/healthz", timeout=1)
                break
            except requests.RequestException:
                time.sleep(0.1)
        yield
    finally:
        server.terminate()
        server.wait(timeout=10)


def measure(args, arguments: list[str]) -> dict:
    before = commits(args.database_url)
    result = wrk(arguments)
    result["commits_per_request"] = (commits(args.database_url) - before) / max(result["requests"], 1)
    return result


def record(results: dict, name: str, result: dict) -> None:
    results[name].append(result)
    # Each run as it ends: on a noisy machine the medians alone hide a run that went astray.
    print(f"{name}: {result['rps']:.0f} requests/s, p99 {result['p99']:.1f} ms", flush=True)


def sql(database_url: str, *statements: str) -> None:
    import psycopg

    with psycopg.connect(database_url.replace("+psycopg", ""), autocommit=True) as connection:
        for statement in statements:
            connection.execute(statement)


CALLBACKS_RUN = "webhook, grouped, one callback endpoint subscribed (`--callbacks`)"
# Every message back to READY: each measurement then applies the same first changes (which owe
# callbacks when an endpoint is subscribed), not only repeats of the run before.
RESET = ("UPDATE dialer_message SET state = 'READY', is_final_state = false, last_edited = NULL, "
         "observation_key = NULL", "DELETE FROM callback_delivery", "DELETE FROM callback_endpoint")


def run_with_callbacks(args, webhook: list[str], results: dict, grouped: str) -> None:
    """The grouped webhook without and with one endpoint subscribed, from the same starting point."""
    sql(args.database_url, *RESET)
    record(results, grouped, measure(args, webhook))
    sql(args.database_url, *RESET, "INSERT INTO callback_endpoint (url, description, event_types, enabled, secret, "
        "created_at, changed_at) VALUES ('http://127.0.0.1:9/callbacks', 'bench', '[]', true, "
        "'whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', now(), now())")
    record(results, CALLBACKS_RUN, measure(args, webhook))


def run_default(args, webhook: list[str], results: dict) -> None:
    ceiling_name, grouped, alone = list(results)[:3]
    with serving(args, group_size=64):
        record(results, ceiling_name, measure(args, [f"http://127.0.0.1:{PORT}/healthz"]))
        if args.callbacks:
            run_with_callbacks(args, webhook, results, grouped)
        else:
            record(results, grouped, measure(args, webhook))
    with serving(args, group_size=1):
        record(results, alone, measure(args, webhook))


def table(results: dict) -> str:
    lines = ["| endpoint | requests/s (median) | share of ceiling | vs grouped default | p50 ms | p99 ms | "
             "commits per request | non-2xx |", "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    ceiling_name, grouped = list(results)[:2]
    ceiling = statistics.median(r["rps"] for r in results[ceiling_name])
    default = statistics.median(r["rps"] for r in results[grouped])
    for name, runs in results.items():
        rps = statistics.median(r["rps"] for r in runs)
        lines.append(f"| {name} | {rps:.0f} | {rps / ceiling:.0%} | {rps / default:.2f} | "
                     f"{statistics.median(r['p50'] for r in runs):.1f} | "
                     f"{statistics.median(r['p99'] for r in runs):.1f} | "
                     f"{statistics.median(r['commits_per_request'] for r in runs):.2f} | "
                     f"{sum(r['non_2xx'] for r in runs)} |")
    return "\n".join(lines)


BASELINE = object()  # the --baseline run's label in the alternation


def _baseline_tree(ref: str) -> Path:
    path = Path(tempfile.mkdtemp(prefix="bench-baseline-"))
    subprocess.run(["git", "worktree", "add", "--detach", str(path), ref], cwd=ROOT, check=True, capture_output=True)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn processes (default: one per core)")
    parser.add_argument("--threads", type=int, default=16, help="threads per process (gunicorn.conf.py's default)")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--callbacks", action="store_true",
                        help="also the grouped webhook with one callback endpoint subscribed, each run from READY")
    parser.add_argument("--compare", action="append", default=[], metavar="LABEL=ARGS",
                        help="also serve the grouped webhook with these gunicorn arguments (instead of --gunicorn's), "
                             "alternating with the default configuration in each repeat")
    parser.add_argument("--baseline", default=None, metavar="REF",
                        help="also serve the grouped webhook from this git ref (a temporary worktree, its own "
                             "gunicorn.conf.py), alternating with this checkout; 0977edd: before the tracking core")
    parser.add_argument("--gunicorn", nargs=argparse.REMAINDER, default=[], help="further gunicorn arguments")
    args = parser.parse_args()
    compares = dict(c.split("=", 1) for c in args.compare)
    first, last = seed(args.database_url)
    script = Path(tempfile.mkdtemp()) / "webhook.lua"
    script.write_text(LUA % {"first": first, "last": last, "secret": SECRET})
    webhook = ["-s", str(script), f"http://127.0.0.1:{PORT}"]
    results = {"ceiling (GET /healthz)": [], "webhook, grouped (default)": [],
               "webhook, a transaction each (DIALER_WEBHOOK_GROUP_SIZE=1)": [],
               **{f"webhook, grouped, {label} (`{extra}`)": [] for label, extra in compares.items()},
               **({CALLBACKS_RUN: []} if args.callbacks else {})}
    baseline = _baseline_tree(args.baseline) if args.baseline else None
    baseline_run = f"webhook, grouped, baseline {args.baseline} (its own code and gunicorn.conf.py)"
    if baseline:
        results[baseline_run] = []
    try:
        for repeat in range(args.repeats):
            # The default and the compared configurations take turns going first.
            others = [*compares, *([BASELINE] if baseline else [])]
            for label in ([None, *others] if repeat % 2 == 0 else [*others, None]):
                if label is None:
                    run_default(args, webhook, results)
                elif label is BASELINE:
                    with serving(args, group_size=64, gunicorn_args=[], root=baseline):
                        record(results, baseline_run, measure(args, webhook))
                else:
                    with serving(args, group_size=64, gunicorn_args=shlex.split(compares[label])):
                        record(results, f"webhook, grouped, {label} (`{compares[label]}`)", measure(args, webhook))
    finally:
        if baseline:
            subprocess.run(["git", "worktree", "remove", "--force", str(baseline)], cwd=ROOT, capture_output=True)
    text = table(results)
    print(text)
    if not args.no_write and args.callbacks:
        write_section("Webhook ingestion with status callbacks (bench/webhooks.py --callbacks)",
                      f"As the section above ({args.workers} gunicorn processes, PostgreSQL, wrk with 32 connections "
                      f"for 10 s, median of {args.repeats}), every message back to READY before each measurement so "
                      f"that each applies the same {MESSAGES:,} first changes; with one endpoint subscribed each of "
                      f"them also writes its callback (the outbox INSERT of its group).", text)
    elif not args.no_write:
        write_section("Webhook ingestion (bench/webhooks.py)",
                      f"gunicorn (gunicorn.conf.py{' ' + ' '.join(args.gunicorn) if args.gunicorn else ''}) "
                      f"{args.workers} processes (x {args.threads} threads where the worker class has threads) on "
                      f"PostgreSQL, wrk with 32 connections for 10 s, median of {args.repeats}; {MESSAGES} messages, "
                      f"each webhook applies or ignores one observation under a row lock. Commits per request come "
                      f"from pg_stat_database. Compared configurations ran in the same run, alternating with the "
                      f"default.", text)

if __name__ == "__main__":
    main()
