"""DIALER_RECIPIENT_DAILY_LIMIT across publishers (PostgreSQL, several worker and web processes): a
publisher deciding for a recipient waits while another one's decision for that recipient is not
committed yet, so the two never let through one message more than the limit."""
from __future__ import annotations

import os
import threading

import pytest

from config import BatchConfig, TimingConfig
from service.dialer import send
from service.dialer.publishing import publish_due_messages
from service.extensions import db
from service.infrastructure.locks import lock_keys
from service.models import DialerMessage, DialerMessageState
from service.models.types import utcnow

pytestmark = pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"),
                                reason="several publishers at once need PostgreSQL; on SQLite one worker is assumed")
RECIPIENT = "+420777123456"


def test_a_publisher_waits_for_another_ones_decision_on_the_same_recipient(make_app):
    app = make_app(batch=BatchConfig(sending=True), timing=TimingConfig(recipient_daily_limit=1))
    with app.app_context():
        other_id = send(RECIPIENT, "Being published by the other publisher").id
        db.session.get(DialerMessage, other_id).state = DialerMessageState.READY  # not the thread's to claim
        db.session.commit()
        waiting = send(RECIPIENT, "Due now").id
        # The other publisher is deciding: it holds the recipient's key and has not committed yet.
        lock_keys("recipient-daily-limit", {RECIPIENT})
        db.session.get(DialerMessage, other_id).published_at = utcnow()
        db.session.flush()
        published = threading.Thread(target=lambda: _publish(app))
        published.start()
        published.join(timeout=1.0)
        still_deciding = published.is_alive()
        db.session.commit()  # the other publisher's decision: its message counts today
    published.join(timeout=30)
    assert still_deciding, "the second publisher did not wait for the first one's decision"
    with app.app_context():
        message = db.session.get(DialerMessage, waiting)
        assert message.state == DialerMessageState.SCHEDULED
        assert "limit of 1 messages in 24 hours" in message.schedule_note


def _publish(app) -> None:
    with app.app_context():
        publish_due_messages(max_batches=1)
