"""The Procfile's worker command stops cleanly on SIGTERM, as platforms stop dynos."""
import signal
import subprocess
import time

from sqlalchemy import func, select

from config import BatchConfig
from service.dialer import send
from service.extensions import db
from service.models import DialerMessage, DialerMessageState
from service.models.types import utcnow
from tests.support.processes import ROOT, procfile_command, service_environment


def counts(app) -> dict:
    with app.app_context():
        rows = db.session.execute(select(DialerMessage.state, func.count()).group_by(DialerMessage.state)).all()
        leased = db.session.scalar(select(func.count()).select_from(DialerMessage).where(
            DialerMessage.state == DialerMessageState.WAITING, DialerMessage.next_attempt_at > utcnow()))
        db.session.rollback()
    return {**{state.name: count for state, count in rows}, "leased": leased}


def queued_messages(daktela_app, count):
    """An app whose `count` messages wait for the worker (batch sending)."""
    app = daktela_app(batch=BatchConfig(sending=True))
    with app.app_context():
        for n in range(count):
            send(f"+42077700{n:04d}", f"Message {n}")
    return app


def start_worker(database_url, simulator, tmp_path):
    """The Procfile's worker, publishing batches of 5 one record at a time; (process, log path)."""
    env = service_environment(database_url, simulator.url, DIALER_BATCH_SENDING="true", DIALER_BATCH_SIZE="5",
                              DAKTELA_MAX_CONCURRENCY="1")
    log = tmp_path / "worker.log"
    with open(log, "w") as output:
        worker = subprocess.Popen(procfile_command("worker"), cwd=ROOT, env=env, stdout=output,
                                  stderr=subprocess.STDOUT)
    return worker, log


def test_sigterm_lets_the_batch_in_flight_finish_and_leases_no_more(daktela_app, database_url, simulator, tmp_path):
    app = queued_messages(daktela_app, 60)
    simulator.simulator.latency_seconds = 0.1  # each batch of 5 takes about half a second
    worker, log = start_worker(database_url, simulator, tmp_path)
    try:
        deadline = time.monotonic() + 30
        while counts(app).get("READY", 0) == 0:
            assert worker.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(15) == 0, log.read_text()
    finally:
        if worker.poll() is None:
            worker.kill()
    output = log.read_text()
    assert "dialer worker stopping: finishing the jobs in flight" in output and "dialer worker stopped" in output
    after = counts(app)
    assert after["leased"] == 0, after  # every message it leased was published before it stopped
    assert 0 < after.get("READY", 0) < 60 and after["READY"] % 5 == 0, after  # whole batches, then no more
    assert after["READY"] + after.get("WAITING", 0) == 60, after


def test_kill_9_mid_batch_still_counts_the_attempt_of_every_message_it_held(daktela_app, database_url, simulator,
                                                                            tmp_path):
    app = queued_messages(daktela_app, 10)
    sim = simulator.simulator
    sim.latency_seconds = 2.0  # the first record of the batch is still being created when the worker dies
    worker, log = start_worker(database_url, simulator, tmp_path)
    try:
        deadline = time.monotonic() + 30
        while not any(entry["method"] == "POST" for entry in list(sim.request_log)):
            assert worker.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.02)
        worker.kill()
        worker.wait(10)
    finally:
        if worker.poll() is None:
            worker.kill()
    with app.app_context():
        attempts = dict(db.session.execute(
            select(DialerMessage.number_of_send_attempts, func.count()).group_by(DialerMessage.number_of_send_attempts)
        ).all())
        db.session.rollback()
    assert counts(app) == {"WAITING": 10, "leased": 5}
    assert attempts == {1: 5, 0: 5}  # the batch it held counted, before anything was sent
