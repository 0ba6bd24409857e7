"""The Procfile's worker command stops cleanly on SIGTERM, as platforms stop dynos."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import func, select

from config import BatchConfig
from service.dialer import send
from service.extensions import db
from service.models import DialerMessage, DialerMessageState
from service.models.types import utcnow
from tests.conftest import SIMULATOR_TOKEN

ROOT = Path(__file__).resolve().parent.parent


def worker_command() -> list[str]:
    line = next(line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith("worker:"))
    command = line.partition(":")[2].split()
    assert command[0] == "flask"
    return [sys.executable, "-m", *command]


def counts(app) -> dict:
    with app.app_context():
        rows = db.session.execute(select(DialerMessage.state, func.count()).group_by(DialerMessage.state)).all()
        leased = db.session.scalar(select(func.count()).select_from(DialerMessage).where(
            DialerMessage.state == DialerMessageState.WAITING, DialerMessage.next_attempt_at > utcnow()))
        db.session.rollback()
    return {**{state.name: count for state, count in rows}, "leased": leased}


def test_sigterm_lets_the_batch_in_flight_finish_and_leases_no_more(daktela_app, database_url, simulator, tmp_path):
    app = daktela_app(batch=BatchConfig(sending=True))
    with app.app_context():
        for n in range(60):
            send(f"+42077700{n:04d}", f"Message {n}")
    simulator.simulator.latency_seconds = 0.1  # each batch of 5 takes about half a second
    env = {**os.environ, "APP_ENV": "production", "SECRET_KEY": "test", "DIALER_API_KEYS": "k",
           "DATABASE_URL": database_url, "DIALER_SENDER_BACKEND": "daktela", "DAKTELA_URL": simulator.url,
           "DAKTELA_ACCESS_TOKEN": SIMULATOR_TOKEN, "DAKTELA_AUTODIALER_RECORD_TYPE": "tts-autodialer",
           "DAKTELA_RECORD_NAME_PREFIX": "test_", "DIALER_BATCH_SENDING": "true", "DIALER_BATCH_SIZE": "5",
           "DAKTELA_MAX_CONCURRENCY": "1"}
    log = tmp_path / "worker.log"
    with open(log, "w") as output:
        worker = subprocess.Popen(worker_command(), cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
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
