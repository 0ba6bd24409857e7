"""Call timing's states reach client systems as callbacks: scheduling, cancelling and expiring
are state changes like any other (the outbox follows the history), on the dialer's one clock."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from standardwebhooks.webhooks import Webhook

from config import TimingConfig
from service.dialer.publishing import publish_due_messages
from tests.support.callbacks import callback_settings, create_endpoint, dispatch, send_message
from tests.support.clock import ManualClock
from tests.support.receiver import Receiver

MONDAY_NOON = datetime(2026, 12, 7, 11, 0, tzinfo=timezone.utc)  # 12:00 in Prague
FRIDAY_EVENING = datetime(2026, 12, 11, 19, 30, tzinfo=timezone.utc)  # 20:30 in Prague: closed


@pytest.fixture
def clock():
    return ManualClock(MONDAY_NOON)


@pytest.fixture
def app(make_app, clock):
    app = make_app(callbacks=callback_settings(),
                   timing=TimingConfig(calling_hours="mon-fri 08:00-20:00", timezone="Europe/Prague"))
    clock.install(app)
    return app


def _signed(received, secret) -> dict:
    """The body, once its signature is the library's for its id and timestamp (which follow the
    test's clock, days from the real one, so `Webhook.verify`'s freshness check cannot apply)."""
    headers = received.headers
    timestamp = datetime.fromtimestamp(int(headers["webhook-timestamp"]), tz=timezone.utc)
    expected = Webhook(secret).sign(headers["webhook-id"], timestamp, received.body)
    assert expected in headers["webhook-signature"].split(" ")
    return json.loads(received.body)


def _events(receiver, secret):
    return [(e["type"], e["data"]["previous_state"], e["data"]["state"])
            for e in (_signed(received, secret) for received in receiver.received)]


def test_a_scheduled_message_cancelled_sends_its_schedule_its_cancel_and_its_final(app, api):
    with Receiver() as receiver:
        endpoint = create_endpoint(api, receiver.url)
        message = send_message(api, send_at=(MONDAY_NOON + timedelta(hours=1)).isoformat())
        assert api.post(f"/api/v1/messages/{message['id']}/cancel").status_code == 200
        report = dispatch(app)
    assert report.delivered == 4
    assert _events(receiver, endpoint["secret"]) == [
        ("message.created", None, "WAITING"), ("message.state_changed", "WAITING", "SCHEDULED"),
        ("message.state_changed", "SCHEDULED", "CANCELLED"), ("message.final", "SCHEDULED", "CANCELLED")]


def test_a_message_expiring_outside_the_calling_hours_ends_with_an_expired_final_callback(app, api, clock):
    clock.set(FRIDAY_EVENING)
    with Receiver() as receiver:
        endpoint = create_endpoint(api, receiver.url, event_types=["message.final"])
        send_message(api, valid_until=(FRIDAY_EVENING + timedelta(hours=1)).isoformat())
        clock.advance(seconds=3601)
        with app.app_context():
            publish_due_messages()
        report = dispatch(app)
    assert report.delivered == 1
    assert _events(receiver, endpoint["secret"]) == [("message.final", "SCHEDULED", "EXPIRED")]
