"""Metrics and logs of the Procfile's processes: the web command (gunicorn, several workers) and the
worker count into one scrape through prometheus-client's multiprocess folder; without a folder given
the web command makes one per run and removes it; LOG_FORMAT=json makes every line a JSON object."""
import json
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import requests
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import func, select

from config import BatchConfig
from service.extensions import db
from service.models import DialerMessage, DialerMessageState
from tests.conftest import API_KEY, WEBHOOK_SECRET
from tests.support.metrics import Scrape
from tests.support.processes import ROOT, procfile_command, service_environment

TOKEN = "metrics-token-0123456789"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(process: str, env: dict, log: Path, workers: int = 0) -> subprocess.Popen:
    """The Procfile's `process`; for the web command, once its `workers` say they are ready."""
    with open(log, "w") as output:
        started = subprocess.Popen(procfile_command(process), cwd=ROOT, env=env, stdout=output,
                                   stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while len(re.findall(r"Worker ready \(pid: \d+\)", log.read_text())) < workers:
        assert started.poll() is None and time.monotonic() < deadline, log.read_text()
        time.sleep(0.1)
    return started


def stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def scrape(base_url: str) -> Scrape:
    response = requests.get(f"{base_url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    assert response.status_code == 200, response.text
    return Scrape(response.text)


def healthz_counts_by_file(folder: Path) -> dict[str, float]:
    """Each process's own count of GET /healthz, read from its file in the metrics folder."""
    counts = {}
    for path in folder.glob("counter_*.db"):
        for metric in MultiProcessCollector.merge([str(path)], accumulate=False):
            for sample in metric.samples:
                if sample.name == "dialer_http_requests_total" and sample.labels.get("route") == "/healthz":
                    counts[path.name] = counts.get(path.name, 0) + sample.value
    return counts


def ready_count(app) -> int:
    with app.app_context():
        count = db.session.scalar(select(func.count()).select_from(DialerMessage)
                                  .where(DialerMessage.state == DialerMessageState.READY))
        db.session.commit()
    return count


def test_every_web_worker_and_the_worker_process_count_into_one_scrape(daktela_app, database_url, simulator,
                                                                     tmp_path):
    app = daktela_app(batch=BatchConfig(sending=True))
    folder, port = tmp_path / "metrics", free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = service_environment(database_url, simulator.url, DIALER_API_KEYS=API_KEY, METRICS_TOKEN=TOKEN,
                              PORT=str(port), WEB_CONCURRENCY="2", DIALER_BATCH_SENDING="true",
                              PROMETHEUS_MULTIPROC_DIR=str(folder))
    web = start("web", env, tmp_path / "web.log", workers=2)
    worker = None
    try:
        for n in range(5):  # stored by the web workers; published by the worker process
            response = requests.post(f"{base_url}/api/v1/messages", headers={"Authorization": f"Bearer {API_KEY}"},
                                     json={"recipient": f"+42077712340{n}", "content": "Hi"}, timeout=10)
            assert response.status_code == 201 and response.json()["state"] == "WAITING"
        worker = start("worker", env, tmp_path / "worker.log")
        deadline = time.monotonic() + 30
        while ready_count(app) < 5:
            assert worker.poll() is None and time.monotonic() < deadline, (tmp_path / "worker.log").read_text()
            time.sleep(0.1)
        for _ in range(40):  # a new connection each: the kernel spreads them over the workers' sockets
            assert requests.get(f"{base_url}/healthz", headers={"Connection": "close"}, timeout=10).ok
        scraped = scrape(base_url)
        per_process = healthz_counts_by_file(folder)
    finally:
        for process in (worker, web):
            if process is not None:
                stop(process)
    assert scraped.value("dialer_http_requests_total", route="/healthz", method="GET", status="200") == 40
    assert sum(per_process.values()) == 40 and len([n for n in per_process.values() if n]) == 2, per_process
    assert scraped.total("dialer_messages_created_total") == 5
    # Only the worker process called Daktela.
    assert scraped.value("dialer_daktela_requests_total", operation="create_record", outcome="ok") == 5
    assert scraped.value("dialer_state_changes_total", from_state="WAITING", to_state="READY") == 5
    assert scraped.value("dialer_backlog_messages", state="READY") == 5
    assert folder.exists()  # given by the operator: kept


def test_without_a_folder_given_the_web_command_makes_one_for_the_run_and_removes_it(make_app, database_url,
                                                                                   simulator, tmp_path):
    make_app()
    port = free_port()
    env = service_environment(database_url, simulator.url, METRICS_TOKEN=TOKEN, PORT=str(port),
                              WEB_CONCURRENCY="1")
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    log = tmp_path / "web.log"
    web = start("web", env, log, workers=1)
    try:
        folder = Path(re.search(r"Metrics folder of this run: (\S+)", log.read_text()).group(1))
        assert requests.get(f"http://127.0.0.1:{port}/healthz", timeout=10).ok
        scraped = scrape(f"http://127.0.0.1:{port}")
        assert folder.is_dir() and list(folder.glob("counter_*.db"))
    finally:
        stop(web)
    assert scraped.value("dialer_http_requests_total", route="/healthz", method="GET", status="200") == 1
    assert not folder.exists()


def test_log_format_json_writes_one_object_per_line_with_the_request_id(make_app, database_url, simulator,
                                                                       tmp_path):
    make_app()
    port = free_port()
    env = service_environment(database_url, simulator.url, PORT=str(port), WEB_CONCURRENCY="1",
                              LOG_FORMAT="json", DAKTELA_WEBHOOK_SECRETS=WEBHOOK_SECRET,
                              GUNICORN_CMD_ARGS="--access-logfile -")
    log = tmp_path / "web.log"
    web = start("web", env, log, workers=1)
    try:
        refused = requests.post(f"http://127.0.0.1:{port}/webhooks/daktela?token=a-near-miss", json={},
                                headers={"X-Request-ID": "trace-4711"}, timeout=10)
    finally:
        stop(web)
    assert refused.status_code == 401 and refused.headers["X-Request-ID"] == "trace-4711"
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    assert all({"time", "level", "logger", "message"} <= set(line) for line in lines), lines
    [warning] = [line for line in lines if line["logger"] == "service.api.webhooks"]
    assert warning["request_id"] == "trace-4711" and warning["level"] == "WARNING"
    assert "webhook refused" in warning["message"]
    [access] = [line for line in lines if line["logger"] == "gunicorn.access"]
    assert "POST /webhooks/daktela?token=*** " in access["message"] and "a-near-miss" not in log.read_text()
    assert any(line["logger"] == "gunicorn.error" and "Worker ready" in line["message"] for line in lines)
