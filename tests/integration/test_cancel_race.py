"""Cancels racing the worker (the Procfile's process) on PostgreSQL: a message reported
CANCELLED never has a record in Daktela, at the moment of the answer or later."""
import os
import subprocess
import time

import pytest
from sqlalchemy import func, select

from service.extensions import db
from service.models import DialerMessage
from tests.integration.test_worker_process import queued_messages
from tests.support.processes import ROOT, procfile_command, service_environment

pytestmark = pytest.mark.skipif(
    not os.environ.get("TEST_DATABASE_URL"),
    reason="a cancel racing a worker process needs PostgreSQL (row locks); on SQLite one process is assumed",
)
COUNT = 60


def start_worker(database_url, simulator, tmp_path):
    env = service_environment(database_url, simulator.url, DIALER_BATCH_SENDING="true", DIALER_BATCH_SIZE="5",
                              DAKTELA_MAX_CONCURRENCY="1", DIALER_SEND_INTERVAL_SECONDS="0.2")
    log = tmp_path / "worker.log"
    with open(log, "w") as output:
        worker = subprocess.Popen(procfile_command("worker"), cwd=ROOT, env=env, stdout=output,
                                  stderr=subprocess.STDOUT)
    return worker, log


def unsettled(app) -> int:
    with app.app_context():
        count = db.session.scalar(select(func.count()).select_from(DialerMessage).where(
            DialerMessage.state != "CANCELLED"))
        db.session.rollback()
    return count


def test_cancelling_every_message_while_the_worker_publishes_leaves_no_record(daktela_app, database_url,
                                                                            simulator, tmp_path, auth):
    app = queued_messages(daktela_app, COUNT)
    sim = simulator.simulator
    sim.latency_seconds = 0.03  # each create takes a while: cancels land before, during and after it
    client = app.test_client()
    with app.app_context():
        ids = list(db.session.scalars(select(DialerMessage.id).order_by(DialerMessage.id)))
        db.session.rollback()
    worker, log = start_worker(database_url, simulator, tmp_path)
    answers = {}
    try:
        while not sim.stats["creates"]:
            assert worker.poll() is None, log.read_text()
            time.sleep(0.01)
        for message_id in ids:
            time.sleep(0.01)  # spread the cancels over the worker's batches
            response = client.post(f"/api/v1/messages/{message_id}/cancel", headers=auth)
            assert response.status_code == 200, response.json
            answers[message_id] = response.json["state"]
            if response.json["state"] == "CANCELLED":
                assert sim.get(f"test_{message_id}") is None, f"message {message_id} reported cancelled, record held"
        deadline = time.monotonic() + 60
        while unsettled(app):
            assert worker.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
    finally:
        worker.terminate()
        worker.wait(15)
    assert sim.stats["creates"] > 0 and sim.stats["deletes"] > 0  # some were published, then taken back
    assert "CANCELLED" in answers.values()
    with sim.lock:
        assert sim.records == {}
