"""Several worker processes publishing the same queue never publish a message twice."""
import os
import threading

import pytest

from config import BatchConfig
from service.dialer import send
from service.dialer.publishing import publish_due_messages
from service.extensions import db
from service.models import DialerMessage, DialerMessageState

pytestmark = pytest.mark.skipif(
    not os.environ.get("TEST_DATABASE_URL"),
    reason="several workers need PostgreSQL (row locks); on SQLite one worker is assumed",
)


def test_two_workers_publish_500_messages_each_exactly_once(daktela_app, simulator):
    batch = BatchConfig(sending=True, size=20)
    # Daktela's answers may take their time on a loaded machine: a timed-out create would
    # (rightly) leave its message ERROR_RETRY, which is not what this test is about.
    patient = {"timeout_seconds": 10.0}
    with daktela_app(batch=batch, **patient).app_context():
        for n in range(500):
            send(f"+4207770{n:05d}", f"Message {n}")
    workers = [daktela_app(batch=batch, **patient) for _ in range(2)]
    published = [0, 0]
    errors = []

    def run(index):
        try:
            with workers[index].app_context():
                published[index] = publish_due_messages().claimed
        except Exception as exc:  # surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    sim = simulator.simulator
    assert sum(published) == 500 and min(published) > 0, published
    assert sim.stats["creates"] == 500 and len(sim.create_attempts) == 500
    assert max(sim.create_attempts.values()) == 1
    with workers[0].app_context():
        states = {m.state for m in db.session.query(DialerMessage)}
    assert states == {DialerMessageState.READY}
