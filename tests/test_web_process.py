"""The Procfile's web command: gunicorn with gunicorn.conf.py serves the app, webhooks included."""
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
from tests.support.processes import ROOT, procfile_command, service_environment


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
                              GUNICORN_THREADS="4")
    with open(log, "w") as output:
        process = subprocess.Popen(procfile_command("web"), cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}"
    try:
        # Each worker listens on its own socket (reuse_port) from the moment it
        # forks, and a connection handed to a worker still loading the app waits
        # in that socket's backlog: wait until every worker says it is ready.
        deadline = time.monotonic() + 60
        while len(re.findall(r"Worker ready \(pid: \d+\)", log.read_text())) < 2:
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        assert requests.get(f"{base_url}/healthz", timeout=10).status_code == 200
        yield app, base_url, log
    finally:
        process.terminate()
        process.wait(10)


def test_the_web_command_serves_threaded_workers_that_apply_concurrent_webhooks(web_process):
    app, base_url, log = web_process
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
    assert re.search(r"Using worker: gthread", log.read_text())
