"""Benchmark: /healthz and a webhook while slow-header and lingering clients hold connections.

    .venv/bin/python bench/slow_clients.py [--database-url postgresql://postgres@127.0.0.1:5432/test]

Starts the web process as the Procfile does (`gunicorn wsgi:app`, which reads
gunicorn.conf.py; WEB_CONCURRENCY=2) on PostgreSQL, then holds open at once:

- slow-header clients (1,000): each sends part of a request line and headers,
  then one more byte every few seconds; when the server closes it, it connects
  again at once;
- lingering clients (50): each completes a request, reads the answer and keeps
  the socket open, idle, for 10 s, then does it again (half ask for keep-alive,
  half for `Connection: close`).

Meanwhile probes arrive at a fixed rate, each on a new connection, alternating
GET /healthz and POST /webhooks/daktela (one observation of a seeded message),
and their latency is recorded; a probe not answered with 200 within the
timeout is a failure (counted at the timeout in the percentiles). The OLD
configuration (gthread, 16 threads, a socket per process: gunicorn arguments
over gunicorn.conf.py) and the NEW one (gunicorn.conf.py as it is) run
alternately, `--repeats` times each; `--config LABEL=ARGS` adds others.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
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
from bench.webhooks import SECRET, environment, seed  # noqa: E402
from tests.support.processes import Crowd  # noqa: E402 - the same clients the web process test holds open

OLD = "--worker-class gthread --threads 16 --reuse-port"
PROCESSES = 2


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def web_command() -> list[str]:
    line = next(line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith("web:"))
    return [sys.executable, "-m", *line.partition(":")[2].split()]


@contextlib.contextmanager
def serving(database_url: str, port: int, gunicorn_args: list[str], log: Path):
    """The Procfile's web command with `gunicorn_args`, until every process says it is ready."""
    env = {**environment(database_url), "PORT": str(port), "WEB_CONCURRENCY": str(PROCESSES)}
    with open(log, "w") as output:
        server = subprocess.Popen(web_command() + gunicorn_args, cwd=ROOT, env=env,
                                  stdout=output, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while len(re.findall(r"Worker ready", log.read_text())) < PROCESSES:
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn did not start:\n{log.read_text()}")
            time.sleep(0.1)
        yield
    finally:
        server.terminate()
        try:
            server.wait(timeout=40)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def probe(base_url: str, kind: str, message_id: int, second: int, timeout: float) -> float | None:
    """Seconds one probe took on a new connection, or None when it failed or took longer than `timeout`."""
    started = time.monotonic()
    try:
        if kind == "healthz":
            response = requests.get(f"{base_url}/healthz", timeout=timeout)
        else:
            body = {"name": f"bench_{message_id}", "action": "3",
                    "edited": f"2030-01-01 {second // 3600 % 24:02d}:{second // 60 % 60:02d}:{second % 60:02d}"}
            response = requests.post(f"{base_url}/webhooks/daktela", json=body, timeout=timeout,
                                     headers={"X-Webhook-Secret": SECRET})
    except requests.RequestException:
        return None
    elapsed = time.monotonic() - started
    return elapsed if response.status_code == 200 and elapsed <= timeout else None


def run_probes(base_url: str, ids: tuple[int, int], args) -> dict[str, list[float | None]]:
    """Probes at a fixed rate (one every `args.interval` s) for `args.duration` s, whatever the answers take."""
    results: dict[str, list] = {"healthz": [], "webhook": []}
    futures = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=128) as pool:
        start = time.monotonic()
        for n in range(int(args.duration / args.interval)):
            time.sleep(max(0.0, start + n * args.interval - time.monotonic()))
            kind = "healthz" if n % 2 == 0 else "webhook"
            message_id = ids[0] + n % (ids[1] - ids[0] + 1)
            futures.append((kind, pool.submit(probe, base_url, kind, message_id, n, args.timeout)))
        for kind, future in futures:
            results[kind].append(future.result())
    return results


def measure(args, ids: tuple[int, int], gunicorn_args: list[str]) -> dict:
    port = free_port()
    log = Path(tempfile.mkdtemp()) / "gunicorn.log"
    with serving(args.database_url, port, gunicorn_args, log):
        with Crowd(port, args.slow, args.lingering, args.drip) as crowd:
            deadline = time.monotonic() + 20
            while crowd.slow_connections < args.slow and time.monotonic() < deadline:
                time.sleep(0.1)
            time.sleep(args.settle)  # let the crowd settle in (it is the load, not a schedule we wait for)
            results = run_probes(f"http://127.0.0.1:{port}", ids, args)
            results["crowd"] = (crowd.slow_connections, crowd.lingering_answers)
    return results


def summary(samples: list[float | None], timeout: float) -> dict:
    latencies = sorted(timeout if s is None else s for s in samples)
    quantiles = statistics.quantiles(latencies, n=100, method="inclusive")
    return {"p50": quantiles[49], "p99": quantiles[98], "max": latencies[-1],
            "failures": sum(s is None for s in samples), "probes": len(samples)}


def milliseconds(value: float, timeout: float) -> str:
    return f"≥ {timeout * 1000:.0f}" if value >= timeout else f"{value * 1000:.0f}"


def table(configs: dict[str, str], runs: dict[str, list[dict]], timeout: float) -> str:
    lines = ["| configuration | endpoint | probes | failures | p50 ms | p99 ms | max ms |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    for label, gunicorn_args in configs.items():
        for kind in ("healthz", "webhook"):
            each = [summary(run[kind], timeout) for run in runs[label]]
            median = {key: statistics.median(s[key] for s in each) for key in ("p50", "p99", "max")}
            name = f"{label} (`{gunicorn_args}`)" if gunicorn_args else f"{label} (gunicorn.conf.py)"
            endpoint = "GET /healthz" if kind == "healthz" else "POST /webhooks/daktela"
            lines.append(f"| {name} | {endpoint} | {sum(s['probes'] for s in each)} | "
                         f"{sum(s['failures'] for s in each)} | {milliseconds(median['p50'], timeout)} | "
                         f"{milliseconds(median['p99'], timeout)} | {milliseconds(median['max'], timeout)} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--slow", type=int, default=1000, help="slow-header clients")
    parser.add_argument("--lingering", type=int, default=50, help="lingering clients")
    parser.add_argument("--drip", type=float, default=3.0, help="seconds between a slow client's bytes")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of probing per run")
    parser.add_argument("--interval", type=float, default=0.1, help="seconds between probes")
    parser.add_argument("--timeout", type=float, default=5.0, help="a probe slower than this failed")
    parser.add_argument("--settle", type=float, default=3.0, help="seconds between the crowd and the probes")
    parser.add_argument("--config", action="append", default=[], metavar="LABEL=ARGS",
                        help="a further configuration: gunicorn arguments over gunicorn.conf.py")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    configs = {"old": OLD, "new": "", **dict(c.split("=", 1) for c in args.config)}
    ids = seed(args.database_url)
    runs: dict[str, list[dict]] = {label: [] for label in configs}
    for repeat in range(args.repeats):
        # Alternate the order too, so neither configuration always runs on a warmer machine.
        for label in (list(configs) if repeat % 2 == 0 else list(reversed(configs))):
            result = measure(args, ids, shlex.split(configs[label]))
            print(f"{label}: slow connections opened {result['crowd'][0]}, lingering answers {result['crowd'][1]}",
                  flush=True)
            runs[label].append(result)
    text = table(configs, runs, args.timeout)
    print(text)
    if not args.no_write:
        write_section("Slow and lingering clients (bench/slow_clients.py)",
                      f"The Procfile's web command ({PROCESSES} processes) on PostgreSQL while {args.slow} "
                      f"slow-header clients (a byte every {args.drip:g} s, reconnecting when closed) and "
                      f"{args.lingering} lingering clients (answer read, socket kept open {Crowd.linger_seconds} s) "
                      f"are connected; a probe every {args.interval:g} s for {args.duration:g} s, each on a new "
                      f"connection, alternating the two endpoints; a failure is no 200 within {args.timeout:g} s. "
                      f"p50/p99/max are medians over {args.repeats} runs per configuration, the configurations "
                      f"alternating in one run.", text)


if __name__ == "__main__":
    main()
