"""The Procfile's web command: gunicorn with gunicorn.conf.py serves the app, webhooks included,
to everyone while slow or idle clients hold connections, and without writing secrets to its access log."""
import re
import socket
import subprocess
import threading
import time

import pytest
import requests
from sqlalchemy import func, select

from service.dialer import send
from service.extensions import db
from service.models import DialerMessageEvent
from tests.conftest import API_KEY, WEBHOOK_SECRET
from tests.support.processes import ROOT, Crowd, procfile_command, service_environment


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def web_process(daktela_app, database_url, simulator, tmp_path):
    app = daktela_app()
    port = free_port()
    log = tmp_path / "gunicorn.log"
    env = service_environment(database_url, simulator.url, DIALER_API_KEYS=API_KEY,
                              DAKTELA_WEBHOOK_SECRETS=WEBHOOK_SECRET, PORT=str(port), WEB_CONCURRENCY="2",
                              GUNICORN_CMD_ARGS="--access-logfile -")
    with open(log, "w") as output:
        process = subprocess.Popen(procfile_command("web"), cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}"
    try:
        # A connection accepted by a worker still loading the app waits for it:
        # wait until every worker says it is ready.
        deadline = time.monotonic() + 60
        while len(re.findall(r"Worker ready \(pid: \d+\)", log.read_text())) < 2:
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        assert requests.get(f"{base_url}/healthz", timeout=10).status_code == 200
        yield app, base_url, log, port
    finally:
        process.terminate()
        process.wait(10)


def test_the_web_command_serves_gevent_workers_that_apply_concurrent_webhooks(web_process):
    app, base_url, log, _ = web_process
    with app.app_context():
        message_id = send("+420777123456", "Hello").id
    statuses = []

    def deliver(second):
        response = requests.post(f"{base_url}/webhooks/daktela", headers={"X-Webhook-Secret": WEBHOOK_SECRET},
                                 json={"name": f"test_{message_id}", "action": "3",
                                       "edited": f"2030-01-01 10:00:{second:02d}"}, timeout=10)
        statuses.append(response.status_code)

    threads = [threading.Thread(target=deliver, args=(second,)) for second in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert statuses == [200] * 16
    with app.app_context():
        recorded = db.session.scalar(select(func.count()).select_from(DialerMessageEvent).where(
            DialerMessageEvent.dialer_message_id == message_id, DialerMessageEvent.source == "webhook"))
    assert recorded == 16
    message = requests.get(f"{base_url}/api/v1/messages/{message_id}",
                           headers={"Authorization": f"Bearer {API_KEY}"}, timeout=5).json()
    assert message["state"] == "CALL_IN_PROGRESS"
    assert re.search(r"Using worker: gevent", log.read_text())


def test_healthz_answers_while_slow_and_lingering_clients_hold_connections(web_process):
    _, base_url, _, port = web_process
    with Crowd(port, slow=200, lingering=20, drip_seconds=1) as crowd:
        deadline = time.monotonic() + 30
        while crowd.slow_connections < 200 or crowd.lingering_answers < 20:
            assert time.monotonic() < deadline, (crowd.slow_connections, crowd.lingering_answers)
            time.sleep(0.05)
        # Generous: a threaded worker whose threads the crowd holds never answers.
        statuses = [requests.get(f"{base_url}/healthz", timeout=5).status_code for _ in range(10)]
    assert statuses == [200] * 10


def test_a_second_server_on_a_port_in_use_stops_with_one_line_naming_the_port(web_process, database_url, simulator):
    _, base_url, _, port = web_process
    env = service_environment(database_url, simulator.url, PORT=str(port), WEB_CONCURRENCY="1")
    second = subprocess.run(procfile_command("web"), cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    errors = [line for line in second.stderr.splitlines() if "[ERROR]" in line]
    assert second.returncode != 0, second.stderr
    assert len(errors) == 1 and f"Port {port} is in use" in errors[0], second.stderr
    assert "Traceback" not in second.stderr
    assert requests.get(f"{base_url}/healthz", timeout=5).status_code == 200  # the first one still serves


def test_the_start_up_log_names_the_address_and_responses_name_no_server(web_process):
    _, base_url, log, port = web_process
    assert re.search(rf"Listening at: http://0\.0\.0\.0:{port} ", log.read_text()), log.read_text()
    assert "Server" not in requests.get(f"{base_url}/healthz", timeout=5).headers


def test_secrets_in_query_strings_never_reach_the_access_log(web_process):
    app, base_url, log, _ = web_process
    with app.app_context():
        message_id = send("+420777123456", "Hello").id
    requests.get(f"{base_url}/healthz?api_key=the-api-key&apiKey=another&access_token=a-token&x=1", timeout=5)
    response = requests.post(f"{base_url}/webhooks/daktela?token={WEBHOOK_SECRET}",
                             json={"name": f"test_{message_id}", "action": "3"}, timeout=5)
    assert response.status_code == 200
    deadline = time.monotonic() + 10
    while "POST /webhooks/daktela" not in log.read_text():  # access lines are written after the answer
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.05)
    output = log.read_text()
    assert "GET /healthz?api_key=***&apiKey=***&access_token=***&x=1 " in output, output
    assert "POST /webhooks/daktela?token=*** " in output, output
    for secret in ("the-api-key", "another", "a-token", WEBHOOK_SECRET):
        assert secret not in output
