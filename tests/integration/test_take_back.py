"""Cancel and expiry take published calls back: the Daktela record is removed (the simulator's
DELETE counted) before a message is reported CANCELLED or EXPIRED; over real HTTP on loopback."""
from datetime import timedelta

import pytest

from config import BatchConfig, TimingConfig
from service.dialer import cancel, send
from service.dialer.timing.withdrawal import take_back_due_records
from service.extensions import db
from service.models import DialerMessage
from service.models.types import utcnow
from tests.support.clock import ManualClock

RECIPIENT = "+420777123456"
SECRET = "webhook-secret-1"


@pytest.fixture
def setup(make_app, daktela_settings, simulator, auth):
    """(app, client, clock) with the Daktela backend on the simulator and a clock the test moves."""

    def make(batch_sending=False, daktela_timeout=0.5, **timing):
        app = make_app(sender_backend="daktela",
                       daktela=daktela_settings(webhook_secrets=(SECRET,), timeout_seconds=daktela_timeout),
                       batch=BatchConfig(sending=batch_sending, retry_base_seconds=0.01, retry_max_seconds=0.02),
                       timing=TimingConfig(**timing))
        clock = ManualClock(utcnow()).install(app)
        return app, app.test_client(), clock

    return make


def deletes(simulator):
    return simulator.simulator.stats["deletes"]


def held(simulator, message_id):
    return simulator.simulator.get(f"test_{message_id}") is not None


def post(client, auth, path, **kwargs):
    return client.post(path, headers=auth, **kwargs)


def test_cancel_while_ready_removes_the_record_then_reports_cancelled(setup, simulator, auth):
    app, client, _ = setup()
    body = post(client, auth, "/api/v1/messages", json={"recipient": RECIPIENT, "content": "Hi."}).json
    assert body["state"] == "READY" and held(simulator, body["id"])
    cancelled = post(client, auth, f"/api/v1/messages/{body['id']}/cancel")
    assert cancelled.status_code == 200
    assert cancelled.json["state"] == "CANCELLED" and cancelled.json["is_final_state"] is True
    assert cancelled.json["pending_take_back"] is None
    assert not held(simulator, body["id"]) and deletes(simulator) == 1
    again = post(client, auth, f"/api/v1/messages/{body['id']}/cancel")
    assert (again.status_code, again.json["state"], deletes(simulator)) == (200, "CANCELLED", 1)
    events = client.get(f"/api/v1/messages/{body['id']}/events", headers=auth).json["items"]
    assert [(e["source"], e["new_state"]) for e in events[-2:]] == [("cancel", "READY"), ("cancel", "CANCELLED")]
    assert events[-1]["payload"] == {"channel": "api"}


def test_a_failed_removal_keeps_the_message_ready_until_the_worker_removes_it(setup, simulator, auth):
    app, client, _ = setup()
    body = post(client, auth, "/api/v1/messages", json={"recipient": RECIPIENT, "content": "Hi."}).json
    simulator.simulator.inject("500", count=1, method="DELETE")
    pending = post(client, auth, f"/api/v1/messages/{body['id']}/cancel").json
    assert pending["state"] == "READY" and pending["pending_take_back"] == "cancel"
    assert held(simulator, body["id"])
    with app.app_context():
        assert take_back_due_records() == 1
    after = client.get(f"/api/v1/messages/{body['id']}", headers=auth).json
    # The failed DELETE never reached the records (the simulator counts those that did).
    assert after["state"] == "CANCELLED" and not held(simulator, body["id"]) and deletes(simulator) == 1


def test_cancel_in_each_state_before_publishing_calls_daktela_only_when_a_record_may_exist(setup, simulator, auth):
    app, client, clock = setup(batch_sending=True)
    waiting = post(client, auth, "/api/v1/messages", json={"recipient": RECIPIENT, "content": "Hi."}).json
    scheduled = post(client, auth, "/api/v1/messages", json={
        "recipient": RECIPIENT, "content": "Hi.", "send_at": (clock() + timedelta(hours=1)).isoformat()}).json
    assert waiting["state"] == "WAITING"
    with app.app_context():
        from service.dialer.publishing import publish_due_messages

        simulator.simulator.inject("500", count=5, method="POST")
        publish_due_messages()
        retrying = db.session.get(DialerMessage, waiting["id"])
        assert db.session.get(DialerMessage, scheduled["id"]).state.value == "SCHEDULED"
        assert retrying.state.value == "ERROR_RETRY"
        db.session.commit()
    # WAITING → CANCELLED was checked through the other message: ERROR_RETRY had an attempt.
    other = post(client, auth, "/api/v1/messages", json={"recipient": RECIPIENT, "content": "Bye."}).json
    assert post(client, auth, f"/api/v1/messages/{other['id']}/cancel").json["state"] == "CANCELLED"
    assert post(client, auth, f"/api/v1/messages/{scheduled['id']}/cancel").json["state"] == "CANCELLED"
    assert deletes(simulator) == 0
    # The failed attempt may have reached Daktela: its record name is deleted (404 counts as removed).
    assert post(client, auth, f"/api/v1/messages/{waiting['id']}/cancel").json["state"] == "CANCELLED"
    assert deletes(simulator) == 1


def test_cancel_of_a_call_in_progress_or_a_final_message_is_409_with_the_state(setup, simulator, auth):
    app, client, _ = setup()
    body = post(client, auth, "/api/v1/messages", json={"recipient": RECIPIENT, "content": "Hi."}).json
    simulator.simulator.play_call(f"test_{body['id']}", action=3)
    client.post("/webhooks/daktela", json={"name": f"test_{body['id']}"}, headers={"X-Webhook-Secret": SECRET})
    response = post(client, auth, f"/api/v1/messages/{body['id']}/cancel")
    assert response.status_code == 409 and response.json["errors"] == {"state": "CALL_IN_PROGRESS"}
    assert held(simulator, body["id"]) and deletes(simulator) == 0
    assert post(client, auth, "/api/v1/messages/999999/cancel").status_code == 404


def test_valid_until_after_publishing_removes_the_record_then_expires(setup, simulator, auth):
    app, client, clock = setup()
    until = clock() + timedelta(hours=1)
    body = post(client, auth, "/api/v1/messages", json={
        "recipient": RECIPIENT, "content": "Hi.", "valid_until": until.isoformat()}).json
    assert body["state"] == "READY"
    with app.app_context():
        clock.set(until - timedelta(seconds=1))
        assert take_back_due_records() == 0
        clock.set(until)
        simulator.simulator.inject("500", count=1, method="DELETE")
        assert take_back_due_records() == 0  # Daktela could still dial it: not EXPIRED yet
        assert db.session.get(DialerMessage, body["id"]).state.value == "READY"
        db.session.commit()
        assert take_back_due_records() == 1
    after = client.get(f"/api/v1/messages/{body['id']}", headers=auth).json
    assert after["state"] == "EXPIRED" and "valid_until" in after["error"]
    assert not held(simulator, body["id"]) and deletes(simulator) == 1


def test_a_record_already_gone_counts_as_removed(setup, simulator, auth):
    app, client, clock = setup()
    body = post(client, auth, "/api/v1/messages", json={
        "recipient": RECIPIENT, "content": "Hi.", "valid_until": (clock() + timedelta(minutes=5)).isoformat()}).json
    with simulator.simulator.lock:
        simulator.simulator.records.pop(f"test_{body['id']}")
    clock.advance(minutes=5)
    with app.app_context():
        assert take_back_due_records() == 1
    assert client.get(f"/api/v1/messages/{body['id']}", headers=auth).json["state"] == "EXPIRED"
    assert deletes(simulator) == 1


def test_a_call_in_progress_at_valid_until_finishes_normally(setup, simulator, auth):
    app, client, clock = setup()
    body = post(client, auth, "/api/v1/messages", json={
        "recipient": RECIPIENT, "content": "Hi.", "valid_until": (clock() + timedelta(minutes=5)).isoformat()}).json
    simulator.simulator.play_call(f"test_{body['id']}", action=3)
    client.post("/webhooks/daktela", json={"name": f"test_{body['id']}"}, headers={"X-Webhook-Secret": SECRET})
    clock.advance(minutes=5)
    with app.app_context():
        assert take_back_due_records() == 0
    after = client.get(f"/api/v1/messages/{body['id']}", headers=auth).json
    assert after["state"] == "CALL_IN_PROGRESS" and held(simulator, body["id"]) and deletes(simulator) == 0


def test_cancel_by_filter_answers_counts_by_outcome(setup, simulator, auth):
    app, client, clock = setup()
    order = [{"content_type": "shop.order", "object_id": 42}]
    ready = post(client, auth, "/api/v1/messages", json={
        "recipient": RECIPIENT, "content": "Pay.", "related_objects": order}).json
    later = post(client, auth, "/api/v1/messages", json={
        "recipient": RECIPIENT, "content": "Pay!", "related_objects": order,
        "send_at": (clock() + timedelta(days=1)).isoformat()}).json
    other = post(client, auth, "/api/v1/messages", json={"recipient": RECIPIENT, "content": "Other."}).json
    simulator.simulator.inject("500", count=1, method="DELETE")
    report = post(client, auth, "/api/v1/messages/cancel", json={"content_type": "shop.order", "object_id": "42"})
    assert report.status_code == 200
    assert report.json == {"matched": 2, "cancelled": 1, "pending": 1, "refused": 0, "more": False}
    states = {m: client.get(f"/api/v1/messages/{m}", headers=auth).json["state"]
              for m in (ready["id"], later["id"], other["id"])}
    assert states == {ready["id"]: "READY", later["id"]: "CANCELLED", other["id"]: "READY"}
    assert post(client, auth, "/api/v1/messages/cancel", json={}).status_code == 422
    assert post(client, auth, "/api/v1/messages/cancel", json={"tag": "x", "state": "READY"}).status_code == 422


def test_the_python_api_cancels_and_records_its_channel(setup, simulator, auth):
    app, client, _ = setup()
    with app.app_context():
        message = send(RECIPIENT, "Hi.")
        assert message.state.value == "READY"
        assert cancel(message).value == "cancelled"
        assert message.state.value == "CANCELLED" and not held(simulator, message.id)
    events = client.get(f"/api/v1/messages/{message.id}/events", headers=auth).json["items"]
    assert events[-1]["payload"] == {"channel": "python"}


def test_a_call_that_starts_while_its_record_is_removed_is_not_reported_cancelled(setup, simulator, auth):
    import threading
    import time

    app, client, _ = setup(daktela_timeout=5)
    body = post(client, auth, "/api/v1/messages", json={"recipient": RECIPIENT, "content": "Hi."}).json
    name = f"test_{body['id']}"
    sim = simulator.simulator
    sim.latency_seconds = 1.0  # the DELETE is held this long before it removes the record
    answer = {}
    cancelling = threading.Thread(target=lambda: answer.update(
        response=post(app.test_client(), auth, f"/api/v1/messages/{body['id']}/cancel")))
    cancelling.start()
    deadline = time.monotonic() + 10
    while not any(e["method"] == "DELETE" for e in list(sim.request_log)):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    # Daktela starts the call while our DELETE is under way, and its webhook arrives first.
    record = sim.play_call(name, action=3)
    hook = client.post("/webhooks/daktela", headers={"X-Webhook-Secret": SECRET},
                       json={"name": name, "action": "3", "edited": record["edited"]})
    assert hook.status_code in (200, 202)
    cancelling.join(10)
    response = answer["response"]
    assert response.status_code == 409 and response.json["errors"] == {"state": "CALL_IN_PROGRESS"}
    after = client.get(f"/api/v1/messages/{body['id']}", headers=auth).json
    assert after["state"] == "CALL_IN_PROGRESS" and after["pending_take_back"] is None
