"""Benchmark: publishing N messages to the Daktela simulator.

    .venv/bin/python bench/publish.py [--sizes 1000 5000] [--repeats 3] [--database-url URL]

Scenarios, each run in its own process (so peak memory is its own) against a
simulator in another process (so it does not share our GIL):

- baseline: a sequential client that opens one connection per request and
  commits after every message (how django-pymess publishes);
- queued: DIALER_BATCH_SENDING, then the worker's publish_due_messages()
  (batches of DIALER_BATCH_SIZE, pooled keep-alive session, DAKTELA_MAX_CONCURRENCY);
- inline: send() per message, as the API does without batch sending.

Prints a table of medians and writes it to bench/RESULTS.md.

    .venv/bin/python bench/publish.py --scheduled [--repeats 3] [--database-url URL]

Scheduled messages (call timing): one publish run with 1,000 messages due now, next to
100,000 SCHEDULED for tomorrow's opening, against the same run with none scheduled (the
baseline), alternating in one run: its time and SQL statements should be those of the 1,000.
"""
from __future__ import annotations

import argparse
import json
import resource
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

TOKEN = "bench-token"
PORT = 5077
SIM_URL = f"http://127.0.0.1:{PORT}"
SCENARIOS = ("baseline", "queued", "inline")


def make_app(database_url: str, batch_sending: bool):
    from config import BatchConfig, Config, DaktelaConfig, normalize_database_url
    from service import create_app

    config = Config(
        database_url=normalize_database_url(database_url), app_env="testing", api_keys=("bench",),
        sender_backend="daktela",
        log_level="WARNING",
        daktela=DaktelaConfig(url=SIM_URL, access_token=TOKEN, autodialer_record_type="tts",
                              predictive_record_type="tts", record_name_prefix="bench_",
                              webhook_secrets=("unused",)),
        batch=BatchConfig(sending=batch_sending),
    )
    return create_app(config)


def store_waiting(n: int) -> list:
    from service.dialer.sending import build_message, store_and_publish

    messages = [build_message(f"+4207770{i:05d}", f"Benchmark message {i}") for i in range(n)]
    store_and_publish(messages)  # batch sending: stored WAITING, nothing published
    return messages


def run_baseline(n: int) -> float:
    """One new connection per request, one commit per message, one at a time."""
    from service.backends.daktela.records import daktela_number, parse_record
    from service.backends.daktela.states import ACTION_STATES
    from service.extensions import db
    from service.models.types import utcnow

    messages = store_waiting(n)
    started = time.perf_counter()
    for message in messages:
        payload = {"name": f"bench_{message.id}", "record_type": "tts",
                   "number": daktela_number(message.recipient),
                   "customFields": {"autodialer_text": [message.content]}}
        response = requests.post(f"{SIM_URL}/api/v6/campaignsRecords.json", json=payload,
                                 headers={"X-AUTH-TOKEN": TOKEN, "Connection": "close"}, timeout=5)
        record = parse_record(response.json()["result"])
        message.state = ACTION_STATES[record.action]
        message.sent_at = utcnow()
        message.extra_sender_data = record.as_sender_data()
        db.session.commit()
    return time.perf_counter() - started


def run_queued(n: int) -> float:
    from service.dialer.publishing import publish_due_messages

    store_waiting(n)
    started = time.perf_counter()
    report = publish_due_messages()
    elapsed = time.perf_counter() - started
    assert report.claimed == n and report.states == {"READY": n}, report
    return elapsed


def run_inline(n: int) -> float:
    from service.dialer import send

    started = time.perf_counter()
    for i in range(n):
        message = send(f"+4207770{i:05d}", f"Benchmark message {i}")
        assert message.state.value == "READY", message.error
    return time.perf_counter() - started


def run_scenario(scenario: str, n: int, database_url: str) -> dict:
    """Child process: prepare an empty database, run one scenario, print its figures."""
    from service.extensions import db

    app = make_app(database_url, batch_sending=scenario != "inline")
    with app.app_context():
        db.drop_all()
        db.create_all()
        requests.post(f"{SIM_URL}/_simulator/reset", timeout=5)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        elapsed = {"baseline": run_baseline, "queued": run_queued, "inline": run_inline}[scenario](n)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        stats = requests.get(f"{SIM_URL}/_simulator/stats", timeout=5).json()
        db.drop_all()
    return {"scenario": scenario, "n": n, "seconds": elapsed, "per_second": n / elapsed,
            "requests_per_message": (stats["requests"]) / n, "connections": stats["connections"],
            "peak_rss_mib": peak / 1024, "rss_growth_mib": (peak - before) / 1024,
            "records": stats["records"]}


DUE, SCHEDULED = 1000, 100_000


def store_scheduled(count: int) -> None:
    """`count` SCHEDULED messages due at tomorrow's opening, inserted in bulk."""
    from datetime import timedelta

    from sqlalchemy import insert

    from service.extensions import db
    from service.models import DialerMessage
    from service.models.types import utcnow

    opening = utcnow().replace(hour=7, minute=0, second=0, microsecond=0) + timedelta(days=1)
    rows = [{"recipient": f"+4207771{i:05d}", "content": f"Tomorrow {i}", "state": "SCHEDULED",
             "next_attempt_at": opening, "send_at": opening, "extra_data": {}, "extra_sender_data": {},
             "is_final_state": False, "priority": 3, "is_autodialer": True, "number_of_send_attempts": 0,
             "number_of_status_check_attempts": 0} for i in range(count)]
    for start in range(0, count, 10_000):
        db.session.execute(insert(DialerMessage), rows[start:start + 10_000])
    db.session.commit()
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("ANALYZE dialer_message")


def run_scheduled_case(scheduled: int, database_url: str) -> dict:
    """Child process: a publish run of DUE messages with `scheduled` others waiting for tomorrow."""
    from sqlalchemy import event

    from service.dialer.publishing import publish_due_messages
    from service.extensions import db

    app = make_app(database_url, batch_sending=True)
    with app.app_context():
        db.drop_all()
        db.create_all()
        requests.post(f"{SIM_URL}/_simulator/reset", timeout=5)
        store_scheduled(scheduled)
        store_waiting(DUE)
        statements = []
        event.listen(db.engine, "before_cursor_execute", lambda *args: statements.append(1))
        started = time.perf_counter()
        report = publish_due_messages()
        elapsed = time.perf_counter() - started
        assert report.claimed == DUE and report.states == {"READY": DUE}, report
        db.drop_all()
    return {"scheduled": scheduled, "seconds": elapsed, "statements": len(statements)}


def scheduled_table(rows: list[dict]) -> str:
    lines = ["| case | due | scheduled | publish run s (median) | vs baseline | SQL statements | vs baseline |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    base = next(r for r in rows if r["scheduled"] == 0)
    for r in rows:
        name = "baseline (none scheduled)" if r["scheduled"] == 0 else "100,000 scheduled for tomorrow"
        lines.append(f"| {name} | {DUE:,} | {r['scheduled']:,} | {r['seconds']:.3f} | "
                     f"{r['seconds'] / base['seconds']:.2f}x | {r['statements']} | "
                     f"{r['statements'] / base['statements']:.2f}x |")
    return "\n".join(lines)


def run_scheduled(args, database_url: str) -> None:
    simulator = start_simulator(0)
    runs: dict[int, list[dict]] = {0: [], SCHEDULED: []}
    try:
        for _ in range(args.repeats):
            for scheduled in runs:  # alternating: both cases see the same machine
                output = subprocess.run(
                    [sys.executable, __file__, "--scheduled-case", str(scheduled), "--database-url", database_url],
                    cwd=ROOT, capture_output=True, text=True, check=True).stdout
                runs[scheduled].append(json.loads(output.strip().splitlines()[-1]))
                print(f"scheduled={scheduled}: {runs[scheduled][-1]}", flush=True)
    finally:
        simulator.terminate()
        simulator.wait(timeout=10)
    rows = [{"scheduled": s, "seconds": statistics.median(r["seconds"] for r in rs),
             "statements": int(statistics.median(r["statements"] for r in rs))} for s, rs in runs.items()]
    result = scheduled_table(rows)
    print("\n" + result)
    if not args.no_write:
        database = "PostgreSQL" if database_url.startswith("postgres") else "SQLite"
        write_section(f"Publishing next to scheduled messages (bench/publish.py --scheduled, {database})",
                      f"{database}; median of {args.repeats} runs of each case, alternating in one run, each in a "
                      "fresh process and database; simulator at 0 ms in its own process; batches of 100. "
                      "Statements are every SQL statement the publish run sent.", result)


def start_simulator(latency_ms: float) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-m", "daktela_simulator", "--port", str(PORT), "--token", TOKEN,
                                "--latency-ms", str(latency_ms)],
                               cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            requests.get(f"{SIM_URL}/_simulator/stats", timeout=1)
            return process
        except requests.RequestException:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("the simulator did not start")


def table(rows: list[dict]) -> str:
    lines = ["| latency | scenario | N | messages/s (median) | vs baseline | Daktela requests/message "
             "| TCP connections | peak RSS MiB |",
             "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    baselines = {(r["latency_ms"], r["n"]): r["per_second"] for r in rows if r["scenario"] == "baseline"}
    for r in rows:
        ratio = r["per_second"] / baselines.get((r["latency_ms"], r["n"]), float("nan"))
        lines.append(f"| {r['latency_ms']:g} ms | {r['scenario']} | {r['n']} | {r['per_second']:.0f} | {ratio:.1f}x | "
                     f"{r['requests_per_message']:.2f} | {r['connections']} | {r['peak_rss_mib']:.0f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--latency-ms", type=float, nargs="+", default=[0, 20],
                        help="simulated Daktela answer time; 0 is pure loopback (CPU-bound on both sides)")
    parser.add_argument("--database-url", default=None, help="default: a temporary SQLite file")
    parser.add_argument("--scenario", choices=SCENARIOS, help=argparse.SUPPRESS)
    parser.add_argument("--no-write", action="store_true", help="do not update bench/RESULTS.md")
    parser.add_argument("--scheduled", action="store_true",
                        help="1,000 due next to 100,000 scheduled, against 1,000 due alone")
    parser.add_argument("--scheduled-case", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    database_url = args.database_url or f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite3"
    if args.scheduled_case is not None:
        print(json.dumps(run_scheduled_case(args.scheduled_case, database_url)))
        return
    if args.scheduled:
        run_scheduled(args, database_url)
        return
    if args.scenario:
        print(json.dumps(run_scenario(args.scenario, args.sizes[0], database_url)))
        return
    rows = []
    for latency_ms in args.latency_ms:
        rows += run_all(args, database_url, latency_ms)
    result = table(rows)
    print("\n" + result)
    if not args.no_write:
        database = "PostgreSQL" if database_url.startswith("postgres") else "SQLite"
        write_section(
            "Publishing (bench/publish.py)",
            f"{database}; median of {args.repeats} runs; simulator in its own process; TCP connections are "
            "counted by the simulator as it accepts them (the benchmark's own reset call is one). 0 ms is pure "
            "loopback, where both processes are CPU-bound on 2 cores and the simulator (one Python process) "
            "caps the request rate; 20 ms stands for a remote Daktela (network round trip and its own work).",
            result,
        )


def run_all(args, database_url: str, latency_ms: float) -> list[dict]:
    simulator = start_simulator(latency_ms)
    rows = []
    try:
        for n in args.sizes:
            for scenario in SCENARIOS:
                runs = []
                for _ in range(args.repeats):
                    output = subprocess.run(
                        [sys.executable, __file__, "--scenario", scenario, "--sizes", str(n),
                         "--database-url", database_url],
                        cwd=ROOT, capture_output=True, text=True, check=True,
                    ).stdout
                    runs.append(json.loads(output.strip().splitlines()[-1]))
                median = dict(runs[0])
                median["per_second"] = statistics.median(r["per_second"] for r in runs)
                median["peak_rss_mib"] = max(r["peak_rss_mib"] for r in runs)
                median["connections"] = int(statistics.median(r["connections"] for r in runs))
                median["latency_ms"] = latency_ms
                rows.append(median)
                print(f"{latency_ms:g} ms {scenario:>8} N={n}: {[round(r['per_second']) for r in runs]} messages/s",
                      flush=True)
    finally:
        simulator.terminate()
        simulator.wait(timeout=10)
    return rows


if __name__ == "__main__":
    main()
