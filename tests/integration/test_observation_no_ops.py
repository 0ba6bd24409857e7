"""A duplicate or ignored observation leaves the message exactly as the API shows it; a hint
about a record Daktela no longer has ends the message at once."""
import pytest

from config import BatchConfig
from service.dialer import send
from service.dialer.tracking.poll import check_dialer_status
from service.extensions import db
from service.models import DialerMessageEvent, DialerMessageState
from tests.conftest import WEBHOOK_SECRET

S = DialerMessageState
MAPPING = {"statuses_answered_complete": "ANSWERED_COMPLETE", "statuses_declined": "DECLINED"}


@pytest.fixture
def app(daktela_app):
    return daktela_app(webhook_secrets=(WEBHOOK_SECRET,), states_mapping=MAPPING, timezone="UTC",
                       batch=BatchConfig(sending=False))


@pytest.fixture
def message_id(app):
    with app.app_context():
        message = send("+420777123456", "Hello")
        assert message.state == S.READY
        return message.id


def webhook(client, body):
    response = client.post("/webhooks/daktela", json=body, headers={"X-Webhook-Secret": WEBHOOK_SECRET})
    assert response.status_code == 200, response.json
    return response.json["result"]


def history_length(app, message_id):
    with app.app_context():
        count = db.session.query(DialerMessageEvent).filter_by(dialer_message_id=message_id).count()
        db.session.commit()
        return count


def test_repeated_older_and_after_final_webhooks_leave_the_message_as_the_api_showed_it(app, message_id, auth):
    client = app.test_client()
    name = f"test_{message_id}"
    assert webhook(client, {"name": name, "action": "3", "edited": "2030-01-01 10:00:00"}) == "applied"
    assert webhook(client, {"name": name, "action": "5", "statuses": ["statuses_declined"],
                            "edited": "2030-01-01 10:00:10"}) == "applied"
    shown = client.get(f"/api/v1/messages/{message_id}", headers=auth).json
    events = history_length(app, message_id)
    ignored = [
        {"name": name, "action": "5", "statuses": ["statuses_declined"], "edited": "2030-01-01 10:00:10"},
        {"name": name, "action": "5", "edited": "2030-01-01 10:00:05"},  # an older final: recorded, ignored
        {"name": name, "action": "3", "edited": "2030-01-01 10:00:20"},  # after the final answer
        {"name": name, "action": "1", "edited": "2030-01-01 09:00:00"},
    ]
    for body in ignored:
        assert webhook(client, body) == "ignored"
    assert client.get(f"/api/v1/messages/{message_id}", headers=auth).json == shown
    assert history_length(app, message_id) == events + len(ignored)


def test_a_record_the_poller_sees_again_unchanged_leaves_the_message_as_the_api_showed_it(
        app, message_id, simulator, auth):
    simulator.simulator.play_call(f"test_{message_id}", action=3)
    with app.app_context():
        check_dialer_status()  # the first run takes Daktela's clock and looks pending messages up
        assert check_dialer_status().errors == []
    client = app.test_client()
    shown = client.get(f"/api/v1/messages/{message_id}", headers=auth).json
    assert shown["state"] == "CALL_IN_PROGRESS"
    with app.app_context():
        # The feed's overlap shows the same record again.
        report = check_dialer_status()
    assert report.records_seen >= 1 and report.applied == 0 and report.errors == []
    assert client.get(f"/api/v1/messages/{message_id}", headers=auth).json == shown


def test_a_hint_about_a_record_daktela_no_longer_has_ends_the_message_at_once(app, message_id, simulator):
    simulator.simulator.records.pop(f"test_{message_id}")
    response = app.test_client().post("/webhooks/daktela", json={"name": f"test_{message_id}"},
                                      headers={"X-Webhook-Secret": WEBHOOK_SECRET})
    assert response.status_code == 200
    assert response.json == {"result": "fetched", "message_id": message_id, "state": "ERROR_UPDATE"}
    with app.app_context():
        from service.models import DialerMessage

        message = db.session.get(DialerMessage, message_id)
        assert message.is_final_state and f"Daktela has no record named test_{message_id}" in message.error
