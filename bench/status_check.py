"""Benchmark: one status-check run, before and after a change, in the same run.

    .venv/bin/python bench/status_check.py [--pending 1000 10000 50000] [--database-url URL]
                                           [--baseline REF] [--scenarios changed10 changed100 overlap]

For each P and scenario, the poller of the baseline (a git ref, checked out
in a temporary worktree; default: the commit before the provider-neutral
tracking core) and of this checkout run alternately, each in its own process,
against one simulator in another process. P sent messages are seeded with
their records; a first check runs (its requests are reported: the first run
must cost at most P/1000 + 5), then the scenario happens and the second check
is measured:

- changed10 / changed100: records seeded an hour old; 10 % / all of the calls finish;
- overlap: records edited just now, none changed since the first run: every
  record comes back in the feed's overlap and carries nothing new. The first run
  wrote every message, so this run is also PostgreSQL's first read of those rows
  (setting their hint bits, stepping over the old versions);
- overlap-again: the same, one overlap run later: the steady state of a poller
  that re-reads its overlap every run.

Reported: seconds, Daktela requests, changes applied per second, unchanged
records per second (skipped, or for the baseline: locked and ignored), and the
how far the process's resident memory rose during the run.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "bench-token"
PORT = 5078
SIM_URL = f"http://127.0.0.1:{PORT}"
CHUNK = 5000
BASELINE = "0977edd"  # before the tracking core (issue 9)
SCENARIOS = ("changed10", "changed100", "overlap", "overlap-again")


def make_app(database_url: str):
    from config import Config, DaktelaConfig, normalize_database_url
    from service import create_app

    return create_app(Config(
        database_url=normalize_database_url(database_url), app_env="testing", api_keys=("bench",),
        sender_backend="daktela", log_level="WARNING",
        daktela=DaktelaConfig(url=SIM_URL, access_token=TOKEN, autodialer_record_type="tts",
                              record_name_prefix="bench_", timezone="UTC", webhook_secrets=("unused",),
                              states_mapping={"statuses_declined": "DECLINED"}),
    ))


def seed(pending: int, edited: str) -> list[int]:
    """P sent messages in the database and their records in the simulator, edited at `edited`."""
    from sqlalchemy import insert

    from service.extensions import db
    from service.models import DialerMessage
    from service.models.types import utcnow

    now = utcnow()
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
        requests.post(f"{SIM_URL}/_simulator/records/bulk", json={"names": names, "edited": edited}, timeout=60)
    # The planner's statistics, as autovacuum keeps them for a table in use (on a table filled a
    # moment ago they say it is nearly empty, and PostgreSQL scans all of it for every page).
    with db.engine.connect() as connection:
        connection.exec_driver_sql("ANALYZE")
        connection.commit()
    return ids


class RssGrowth:
    """How far the process's resident memory rose above where it was, sampled every 25 ms
    by a thread (tracemalloc would slow the run it measures several times over)."""

    def __enter__(self):
        self.start = self.peak_rss = _rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while not self._stop.wait(0.025):
            self.peak_rss = max(self.peak_rss, _rss())

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak_rss = max(self.peak_rss, _rss())
        self.peak = self.peak_rss - self.start


def _rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _simulator_requests() -> int:
    return requests.get(f"{SIM_URL}/_simulator/stats", timeout=10).json()["requests"]


def _poller():
    """(the poller, whether it is the baseline's)."""
    try:
        from service.dialer.tracking.poll import check_dialer_status
    except ImportError:  # the baseline's layout
        from service.dialer.status_check import check_dialer_status
        return check_dialer_status, True
    return check_dialer_status, False


def _skip_first_look_ups() -> None:
    """The baseline's first run looks every pending message up, 100 a request, and the
    simulator scans all records for each (hours at P = 50,000): start it where that run
    would leave it, with the watermark at Daktela's clock."""
    from service.extensions import db
    from service.models.message import DialerPollState

    clock = requests.get(f"{SIM_URL}/api/v6/campaignsRecords.json", params={"take": 1},
                         headers={"X-AUTH-TOKEN": TOKEN}, timeout=10).json()["_time"]
    db.session.add(DialerPollState(name="daktela_watermark", value=clock))
    db.session.commit()


def run_one(pending: int, scenario: str, database_url: str) -> dict:
    from service.extensions import db

    check, baseline = _poller()
    app = make_app(database_url)
    with app.app_context():
        db.drop_all()
        db.create_all()
        requests.post(f"{SIM_URL}/_simulator/reset", timeout=10)
        age = timedelta(seconds=1) if scenario.startswith("overlap") else timedelta(hours=1)
        ids = seed(pending, (datetime.now(timezone.utc) - age).strftime("%Y-%m-%d %H:%M:%S"))
        before = _simulator_requests()
        if baseline:
            _skip_first_look_ups()
            check()  # a feed run from the watermark, as its runs after the first are
            first_requests = 1 + -(-pending // 100)  # what its first run costs: the clock, then P/100 look-ups
        else:
            check()
            first_requests = _simulator_requests() - before
        share = {"changed10": 10, "changed100": 1}.get(scenario)
        changed = [f"bench_{i}" for i in ids[::share]] if share else []
        for start in range(0, len(changed), CHUNK):
            requests.post(f"{SIM_URL}/_simulator/records/bulk-call",
                          json={"names": changed[start:start + CHUNK], "statuses": ["statuses_declined"]}, timeout=60)
        if scenario == "overlap-again":
            check()
        before = _simulator_requests()
        with RssGrowth() as growth:
            started = time.perf_counter()
            report = check()
            seconds = time.perf_counter() - started
        after = _simulator_requests()
        db.drop_all()
    assert report.applied == len(changed), report
    unchanged = report.records_seen - report.applied
    own = seconds - getattr(report, "provider_seconds", 0.0)  # the baseline does not measure it
    applying = getattr(report, "apply_seconds", 0.0)
    return {"pending": pending, "scenario": scenario, "changed": len(changed), "seconds": seconds, "own": own,
            "requests": after - before, "first_requests": first_requests,
            "changes_per_s": report.applied / seconds, "unchanged_per_s": unchanged / seconds,
            "own_changes_per_s": report.applied / own, "own_unchanged_per_s": unchanged / own,
            "apply_changes_per_s": report.applied / applying if applying else None,
            "apply_unchanged_per_s": unchanged / applying if applying else None,
            "unchanged": unchanged, "peak_mib": growth.peak / 2**20}


def _baseline_tree(ref: str) -> Path:
    path = Path(tempfile.mkdtemp(prefix="bench-baseline-"))
    subprocess.run(["git", "worktree", "add", "--detach", str(path), ref], cwd=ROOT, check=True,
                   capture_output=True)
    return path


def _measure(root: Path, pending: int, scenario: str, database_url: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(root)}
    output = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--one", "--root", str(root),
                             "--pending", str(pending), "--scenarios", scenario, "--database-url", database_url],
                            cwd=root, env=env, capture_output=True, text=True, check=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def _median(runs: list[dict]) -> dict:
    """Each figure's median over the runs (the machine is noisy: one slow page moves a run)."""
    return {key: statistics.median(run[key] for run in runs) if isinstance(value, float) else value
            for key, value in runs[0].items()}


def _rate(value) -> str:
    return "n/a" if value is None else f"{value:,.0f}"


def _table(rows: list[dict]) -> str:
    lines = ["| scenario | pending P | version | changed | seconds | requests | first-run requests "
             "(target P/1000+5) | changes/s (run) | unchanged/s (run) | changes/s (applying) "
             "| unchanged/s (applying) | RSS growth MiB |",
             "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        lines.append(
            f"| {r['scenario']} | {r['pending']} | {r['version']} | {r['changed']} | {r['seconds']:.2f} | "
            f"{r['requests']} | {r['first_requests']} ({r['pending'] // 1000 + 5}) | {r['changes_per_s']:,.0f} | "
            f"{r['unchanged_per_s']:,.0f} | {_rate(r.get('apply_changes_per_s'))} | "
            f"{_rate(r.get('apply_unchanged_per_s'))} | {r['peak_mib']:.1f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pending", type=int, nargs="+", default=[1000, 10000, 50000])
    parser.add_argument("--scenarios", nargs="+", default=list(SCENARIOS), choices=SCENARIOS)
    parser.add_argument("--database-url", default=None, help="default: a temporary SQLite file")
    parser.add_argument("--baseline", default=BASELINE, help="git ref of the 'before' version")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--root", default=str(ROOT), help=argparse.SUPPRESS)
    parser.add_argument("--repeat", type=int, default=1,
                        help="measure this checkout N times (fresh data each time) and report the medians")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    database_url = args.database_url or f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite3"
    if args.one:
        print(json.dumps(run_one(args.pending[0], args.scenarios[0], database_url)))
        return
    sys.path.insert(0, str(ROOT))
    from bench.results import write_section

    baseline = _baseline_tree(args.baseline)
    simulator = subprocess.Popen([sys.executable, "-m", "daktela_simulator", "--port", str(PORT), "--token", TOKEN],
                                 cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rows = []
    try:
        time.sleep(1.5)
        for scenario in args.scenarios:
            for pending in args.pending:
                for version, root, times in (("before", baseline, 1), ("after", ROOT, args.repeat)):
                    runs = [_measure(root, pending, scenario, database_url) for _ in range(times)]
                    label = version if times == 1 else f"{version} (median of {times})"
                    rows.append({**_median(runs), "version": label})
                    print(rows[-1], flush=True)
    finally:
        simulator.terminate()
        simulator.wait(timeout=10)
        subprocess.run(["git", "worktree", "remove", "--force", str(baseline)], cwd=ROOT, capture_output=True)
    table = _table(rows)
    print("\n" + table)
    if not args.no_write:
        database = "PostgreSQL" if database_url.startswith("postgres") else "SQLite"
        write_section(f"Status check on {database} (bench/status_check.py)",
                      f"One poller run, before ({args.baseline}) and after, alternating in the same run; simulator "
                      "in its own process; memory is how far the process's resident set rose during the run "
                      "(sampled every 25 ms). changed10/changed100: 10 % "
                      "/ all of P calls finished since the first run; overlap: every record comes back in the "
                      "feed's overlap with nothing new. Rates per second of the whole run (Daktela's answers "
                      "included: the simulator is one Python process on the same two cores), and "
                      "of the time spent applying the pages (after only: the baseline does not measure it). "
                      f"After: the median of {args.repeat} runs, each on fresh data. Statistics analysed after "
                      "seeding, as autovacuum keeps them for a table in use.",
                      table)


if __name__ == "__main__":
    main()
