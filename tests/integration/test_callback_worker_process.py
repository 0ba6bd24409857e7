"""The Procfile's worker delivers callbacks, and `kill -9` while they are in flight loses none."""
import subprocess
import time

from sqlalchemy import func, select

from service.extensions import db
from service.models import CallbackAttempt, CallbackDelivery, CallbackEndpoint
from tests.support.callbacks import SIGNING_SECRET, callback_settings
from tests.support.processes import ROOT, procfile_command
from tests.support.receiver import Receiver

# The worker's time limit per read: its lease on a delivery is twice (5 s to connect + this).
TIMEOUT_SECONDS = 3


def start_worker(database_url, tmp_path, name):
    import os

    env = {**os.environ, "APP_ENV": "production", "SECRET_KEY": "test", "DIALER_API_KEYS": "k",
           "DATABASE_URL": database_url, "DIALER_SENDER_BACKEND": "dummy",
           "DIALER_CALLBACK_ALLOW_PRIVATE_NETWORKS": "true", "DIALER_CALLBACK_SIGNING_SECRET": SIGNING_SECRET,
           "DIALER_CALLBACK_TIMEOUT_SECONDS": str(TIMEOUT_SECONDS), "DIALER_CALLBACK_POLL_SECONDS": "0.2", "DIALER_CALLBACK_CONCURRENCY": "20"}
    log = tmp_path / f"{name}.log"
    with open(log, "w") as output:
        process = subprocess.Popen(procfile_command("worker"), cwd=ROOT, env=env, stdout=output,
                                   stderr=subprocess.STDOUT)
    return process, log


def wait_until(condition, process, log, seconds=30):
    deadline = time.monotonic() + seconds
    while not condition():
        assert process.poll() is None and time.monotonic() < deadline, log.read_text()
        time.sleep(0.05)


def statuses(app):
    with app.app_context():
        rows = dict(db.session.execute(select(CallbackDelivery.status, func.count()).group_by(CallbackDelivery.status)
                                       ).all())
        rows["attempts recorded"] = db.session.scalar(select(func.count()).select_from(CallbackAttempt))
        db.session.rollback()
    return rows


def test_kill_9_with_deliveries_in_flight_then_a_restart_loses_nothing_and_leaves_nothing_stuck(
        make_app, database_url, tmp_path):
    app = make_app(callbacks=callback_settings())
    with Receiver(lambda number, request: "hang", hang_seconds=30) as hanging:
        with app.app_context():
            db.session.add(CallbackEndpoint(url=hanging.url, secret=SIGNING_SECRET, event_types=["message.created"]))
            db.session.commit()
            from service.dialer import send

            ids = [send("+420777123456", f"Message {n}").id for n in range(20)]
        first, first_log = start_worker(database_url, tmp_path, "first")
        try:
            wait_until(lambda: len(hanging.received) == 20, first, first_log)  # all 20 in flight at once
            first.kill()
            first.wait(10)
        finally:
            if first.poll() is None:
                first.kill()
    # Killed with all 20 unanswered: nothing recorded, nothing lost, each leased.
    assert statuses(app) == {"pending": 20, "attempts recorded": 0}
    with Receiver() as receiver:
        with app.app_context():
            db.session.execute(CallbackEndpoint.__table__.update().values(url=receiver.url))
            db.session.commit()
        second, second_log = start_worker(database_url, tmp_path, "second")
        try:
            wait_until(lambda: statuses(app) == {"delivered": 20, "attempts recorded": 20}, second, second_log,
                       seconds=60)
        finally:
            second.terminate()
            second.wait(15)
    delivered = sorted(__import__("json").loads(r.body)["data"]["id"] for r in receiver.received)
    assert delivered == sorted(ids)  # each once: the lease ran out, then each was sent again
