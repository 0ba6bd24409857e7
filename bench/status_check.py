"""Benchmark: one status-check run with P pending messages of which 10 % changed.

    .venv/bin/python bench/status_check.py [--pending 1000 10000 50000] [--database-url URL]

Each P runs in its own process against a simulator in another process. The
records are seeded an hour old, a first check sets the watermark, then 10 %
of the calls finish and the second check is measured: seconds, Daktela
requests, and the peak of Python memory allocated during the run
(tracemalloc), which must not grow with P. Target: at most P/500 + 5 requests.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import tracemalloc
from datetime import datetime, timedelta, timezone
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.results import write_section  # noqa: E402

TOKEN = "bench-token"
PORT = 5078
SIM_URL = f"http://127.0.0.1:{PORT}"
CHUNK = 5000


def make_app(database_url: str):
    from config import Config, DaktelaConfig, normalize_database_url
    from service import create_app

    return create_app(Config(
        database_url=normalize_database_url(database_url), app_env="testing", api_keys=("bench",),
        sender_backend="daktela",
        log_level="WARNING",
        daktela=DaktelaConfig(url=SIM_URL, access_token=TOKEN, autodialer_record_type="tts",
                              record_name_prefix="bench_", timezone="UTC", webhook_secrets=("unused",),
                              states_mapping={"statuses_declined": "DECLINED"}),
    ))


def seed(pending: int) -> list[int]:
    """P sent messages in the database and their records, an hour old, in the simulator."""
    from sqlalchemy import insert

    from service.extensions import db
    from service.models import DialerMessage
    from service.models.types import utcnow

    now = utcnow()
    hour_ago = (datetime.now(timezone.utc) - timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S")
    ids = []
    for start in range(0, pending, CHUNK):
        rows = [dict(recipient="+420777000000", content="x", state="READY", backend="bench", extra_data={},
                     extra_sender_data={}, is_final_state=False, priority=3, is_autodialer=True,
                     number_of_send_attempts=1, number_of_status_check_attempts=0, sent_at=now,
                     created_at=now, changed_at=now, needs_status_lookup=False)
                for _ in range(start, min(start + CHUNK, pending))]
        ids += list(db.session.scalars(insert(DialerMessage).returning(DialerMessage.id), rows))
        db.session.commit()
        names = [f"bench_{i}" for i in ids[start:]]
        requests.post(f"{SIM_URL}/_simulator/records/bulk", json={"names": names, "edited": hour_ago}, timeout=60)
    return ids


def run_one(pending: int, database_url: str) -> dict:
    from service.dialer.tracking.poll import check_dialer_status
    from service.extensions import db

    app = make_app(database_url)
    with app.app_context():
        db.drop_all()
        db.create_all()
        requests.post(f"{SIM_URL}/_simulator/reset", timeout=10)
        ids = seed(pending)
        check_dialer_status()  # first run: Daktela's clock and a look-up of every pending message
        changed = [f"bench_{i}" for i in ids[::10]]
        for start in range(0, len(changed), CHUNK):
            requests.post(f"{SIM_URL}/_simulator/records/bulk-call",
                          json={"names": changed[start:start + CHUNK], "statuses": ["statuses_declined"]}, timeout=60)
        before = requests.get(f"{SIM_URL}/_simulator/stats", timeout=10).json()["requests"]
        tracemalloc.start()
        started = time.perf_counter()
        report = check_dialer_status()
        seconds = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        after = requests.get(f"{SIM_URL}/_simulator/stats", timeout=10).json()["requests"]
        db.drop_all()
    assert report.applied == len(changed), report
    return {"pending": pending, "changed": len(changed), "seconds": seconds, "requests": after - before,
            "target": pending // 500 + 5, "peak_mib": peak / 2**20}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pending", type=int, nargs="+", default=[1000, 10000, 50000])
    parser.add_argument("--database-url", default=None, help="default: a temporary SQLite file")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    database_url = args.database_url or f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite3"
    if args.one:
        print(json.dumps(run_one(args.pending[0], database_url)))
        return
    simulator = subprocess.Popen([sys.executable, "-m", "daktela_simulator", "--port", str(PORT), "--token", TOKEN],
                                 cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rows = []
    try:
        time.sleep(1.5)
        for pending in args.pending:
            output = subprocess.run([sys.executable, __file__, "--one", "--pending", str(pending),
                                     "--database-url", database_url],
                                    cwd=ROOT, capture_output=True, text=True, check=True).stdout
            rows.append(json.loads(output.strip().splitlines()[-1]))
            print(rows[-1], flush=True)
    finally:
        simulator.terminate()
        simulator.wait(timeout=10)
    lines = ["| pending P | changed | seconds | Daktela requests | target P/500+5 | peak Python memory MiB |",
             "| ---: | ---: | ---: | ---: | ---: | ---: |"]
    lines += [f"| {r['pending']} | {r['changed']} | {r['seconds']:.2f} | {r['requests']} | {r['target']} | "
              f"{r['peak_mib']:.1f} |" for r in rows]
    table = "\n".join(lines)
    print("\n" + table)
    if not args.no_write:
        database = "PostgreSQL" if database_url.startswith("postgres") else "SQLite"
        write_section(f"Status check on {database} (bench/status_check.py)",
                      "One poller run after 10 % of P pending calls finished; simulator in its own process; "
                      "memory is tracemalloc's peak during the run (it stops growing at the 1,000-record page).",
                      table)


if __name__ == "__main__":
    main()
