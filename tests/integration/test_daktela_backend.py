"""The Daktela backend against the simulator, over real HTTP on loopback."""
import logging
import time
from datetime import timedelta

import pytest

from config import BatchConfig
from service.dialer import send
from service.dialer.publishing import publish_due_messages
from service.extensions import db
from service.models import DialerMessage, DialerMessageState
from service.models.types import utcnow
from tests.conftest import SIMULATOR_TOKEN

RECIPIENT = "+420777123456"


def creates(simulator):
    return [e for e in simulator.simulator.request_log if e["method"] == "POST"]


def make_due(*messages):
    """Skip the back-off wait: the retry is due now."""
    for message in messages:
        message.next_attempt_at = utcnow() - timedelta(seconds=1)
    db.session.commit()


def test_publish_sends_the_record_daktela_expects(daktela_app, simulator, auth):
    app = daktela_app()
    response = app.test_client().post("/api/v1/messages", headers=auth, json={
        "recipient": RECIPIENT, "content": "Your parcel arrives today.",
        "extra_data": {"custom_fields": {"order": "A-1", "lang": ["cs"]}},
    })
    assert response.status_code == 201, response.json
    body = response.json
    [request] = creates(simulator)
    assert request["token_header"] == SIMULATOR_TOKEN and SIMULATOR_TOKEN not in request["query"]
    assert request["path"] == "/api/v6/campaignsRecords.json"
    assert request["json"] == {
        "name": f"test_{body['id']}", "record_type": "tts-autodialer", "number": "00420777123456",
        "customFields": {"order": ["A-1"], "lang": ["cs"], "autodialer_text": ["Your parcel arrives today."]},
    }
    assert body["state"] == "READY" and body["is_final_state"] is False and body["sent_at"]
    assert body["backend"] == "service.backends.daktela.backend.DaktelaDialerBackend"
    assert body["extra_sender_data"]["record_name"] == f"test_{body['id']}"
    assert body["extra_sender_data"]["action"] == 1 and body["extra_sender_data"]["statuses"] == []
    assert body["number_of_send_attempts"] == 1


def test_predictive_messages_use_the_predictive_record_type(daktela_app, simulator):
    with daktela_app(tts_field="tts_text").app_context():
        send(RECIPIENT, "Hello", is_autodialer=False)
    [request] = creates(simulator)
    assert request["json"]["record_type"] == "predictive-calls"
    assert request["json"]["customFields"] == {"tts_text": ["Hello"]}


def test_action_returned_as_integer_is_understood(daktela_app, simulator):
    simulator.simulator.action_as_int = True
    with daktela_app().app_context():
        message = send(RECIPIENT, "Hello")
    assert message.state == DialerMessageState.READY and message.extra_sender_data["action"] == 1


def test_validation_error_is_permanent(daktela_app, simulator):
    simulator.simulator.inject("400_validation")
    with daktela_app().app_context():
        message = send(RECIPIENT, "Hello")
        assert message.state == DialerMessageState.ERROR and message.is_final_state and message.failed
        assert message.error == "Daktela refused the record (400): Record is not valid; number: Invalid phone number"
        assert publish_due_messages().claimed == 0
    assert len(creates(simulator)) == 1


def test_missing_predictive_record_type_is_a_clear_permanent_error(daktela_app, simulator):
    with daktela_app(predictive_record_type="").app_context():
        message = send(RECIPIENT, "Hello", is_autodialer=False)
    assert message.state == DialerMessageState.ERROR
    assert message.error == "DAKTELA_PREDICTIVE_RECORD_TYPE is not set."
    assert creates(simulator) == []


@pytest.mark.parametrize(
    "fault", ["500", "502_html", "429", "401", "timeout", "garbage", "truncated", "lost_after_write",
              "timeout_after_write"],
)
def test_transient_failures_are_retried_until_ready_without_duplicates(daktela_app, simulator, fault):
    simulator.simulator.inject(fault)
    simulator.simulator.retry_after = "1"
    with daktela_app(batch=BatchConfig(retry_base_seconds=30)).app_context():
        message = send(RECIPIENT, "Hello")
        assert message.state == DialerMessageState.ERROR_RETRY and not message.is_final_state
        assert message.number_of_send_attempts == 1 and message.error
        assert SIMULATOR_TOKEN not in message.error
        # Back-off with jitter: between half and all of the 30 s base delay.
        assert utcnow() + timedelta(seconds=14) < message.next_attempt_at < utcnow() + timedelta(seconds=31)
        assert publish_due_messages().claimed == 0
        make_due(message)
        report = publish_due_messages()
        db.session.expire_all()
        message = db.session.get(DialerMessage, message.id)
    assert report.claimed == 1
    assert message.state == DialerMessageState.READY and message.error is None
    assert message.number_of_send_attempts == 2
    assert list(simulator.simulator.records) == [f"test_{message.id}"]


def test_retry_after_is_honoured(daktela_app, simulator):
    simulator.simulator.retry_after = "120"
    simulator.simulator.inject("429")
    with daktela_app().app_context():
        message = send(RECIPIENT, "Hello")
        assert message.state == DialerMessageState.ERROR_RETRY
        assert message.next_attempt_at >= utcnow() + timedelta(seconds=115)
        assert publish_due_messages().claimed == 0


def test_retries_end_in_error_after_the_maximum_attempts_once_daktela_confirms_it_has_no_record(
        daktela_app, simulator):
    simulator.simulator.inject("500", count=10, method="POST")
    batch = BatchConfig(max_number_of_send_attempts=3, retry_base_seconds=0.01, retry_max_seconds=0.02)
    with daktela_app(batch=batch).app_context():
        message = send(RECIPIENT, "Hello")
        for _ in range(3):
            make_due(message)
            publish_due_messages()
        db.session.expire_all()
        message = db.session.get(DialerMessage, message.id)
    assert message.state == DialerMessageState.ERROR and message.is_final_state
    assert len(creates(simulator)) == 3  # the fourth turn looked the record up instead
    assert message.error.startswith("Gave up after 3 attempts: Daktela answered 500.")
    assert message.error.endswith("(the provider confirmed it holds no record of the message)")


def test_retries_end_in_error_after_the_maximum_time(daktela_app, simulator):
    simulator.simulator.inject("500", count=10, method="POST")
    batch = BatchConfig(max_seconds_to_send=60, retry_base_seconds=0.01, retry_max_seconds=0.02)
    with daktela_app(batch=batch).app_context():
        message = send(RECIPIENT, "Hello")
        # The time limit counts from the first attempt (published_at), not from creation.
        message.created_at = message.published_at = utcnow() - timedelta(seconds=61)
        for _ in range(2):
            make_due(message)
            publish_due_messages()
        db.session.expire_all()
        message = db.session.get(DialerMessage, message.id)
    assert message.state == DialerMessageState.ERROR
    assert message.error.startswith("Gave up after 60 seconds")


def test_a_lost_response_after_the_record_was_created_reads_it_back(daktela_app, simulator):
    simulator.simulator.inject("lost_after_write")
    with daktela_app().app_context():
        message = send(RECIPIENT, "Hello")
        name = f"test_{message.id}"
        assert message.state == DialerMessageState.ERROR_RETRY
        assert name in simulator.simulator.records
        simulator.simulator.play_call(name, action=3)
        make_due(message)
        publish_due_messages()
        db.session.expire_all()
        message = db.session.get(DialerMessage, message.id)
    assert message.state == DialerMessageState.CALL_IN_PROGRESS
    assert simulator.simulator.create_attempts[name] == 2 and simulator.simulator.stats["creates"] == 1
    reads = [e for e in simulator.simulator.request_log if e["method"] == "GET"]
    assert [e["path"] for e in reads] == [f"/api/v6/campaignsRecords/{name}.json"]


def test_batch_sending_answers_waiting_and_the_worker_publishes_by_priority(daktela_app, simulator, auth):
    batch = BatchConfig(sending=True, size=2)
    app = daktela_app(batch=batch)
    client = app.test_client()
    ids = []
    for priority in (3, 3, 1, 2):
        response = client.post("/api/v1/messages", headers=auth,
                               json={"recipient": RECIPIENT, "content": "Hi", "priority": priority})
        assert response.status_code == 201 and response.json["state"] == "WAITING"
        ids.append(response.json["id"])
    assert creates(simulator) == []
    result = app.test_cli_runner().invoke(args=["dialer", "send-batch"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "published 4 messages (READY: 4)"
    # Batches of 2: priorities 1 and 2 first (sent concurrently, so in either order), then the rest.
    order = [e["json"]["name"] for e in creates(simulator)]
    assert set(order[:2]) == {f"test_{ids[2]}", f"test_{ids[3]}"}
    assert set(order[2:]) == {f"test_{ids[0]}", f"test_{ids[1]}"}
    assert client.get(f"/api/v1/messages/{ids[0]}", headers=auth).json["state"] == "READY"


def test_bulk_publishes_over_few_connections(daktela_app, simulator, auth):
    client = daktela_app().test_client()
    recipients = [f"+42077712{n:04d}" for n in range(40)]
    response = client.post("/api/v1/messages/bulk", headers=auth, json={"recipients": recipients, "content": "Hi"})
    assert response.status_code == 201
    assert {item["state"] for item in response.json["items"]} == {"READY"}
    stats = simulator.simulator.stats
    assert stats["creates"] == 40 and stats["requests"] == 40
    assert stats["connections"] <= 8


def test_no_duplicate_records_under_thirty_percent_failures_of_every_kind(daktela_app, simulator, caplog):
    caplog.set_level(logging.DEBUG)
    sim = simulator.simulator
    sim.timeout_seconds = 0.6
    sim.set_fault_rate(0.3, kinds=[k for k in ("500", "502_html", "429", "401", "timeout", "garbage",
                                               "truncated", "lost_after_write", "timeout_after_write")])
    batch = BatchConfig(sending=True, size=25, max_number_of_send_attempts=50,
                        retry_base_seconds=0.01, retry_max_seconds=0.02)
    sim.retry_after = "0"
    with daktela_app(batch=batch).app_context():
        messages = [send(f"+42077700{n:04d}", f"Message {n}") for n in range(60)]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            publish_due_messages()
            pending = db.session.query(DialerMessage).filter(DialerMessage.state != DialerMessageState.READY).count()
            db.session.commit()
            if pending == 0:
                break
            time.sleep(0.03)
        states = {m.state for m in db.session.query(DialerMessage)}
        db.session.commit()
    assert states == {DialerMessageState.READY}
    assert sim.stats["faults"] > 10
    assert SIMULATOR_TOKEN not in caplog.text
    assert sorted(sim.records) == sorted(f"test_{m.id}" for m in messages)
    assert sim.stats["creates"] == len(messages)


def test_one_keep_alive_session_serves_every_request_of_the_process(daktela_app, simulator, auth):
    client = daktela_app().test_client()
    for n in range(5):
        response = client.post("/api/v1/messages", headers=auth,
                               json={"recipient": f"+42077712345{n}", "content": "Hi"})
        assert response.json["state"] == "READY"
    assert simulator.simulator.stats["requests"] == 5
    assert simulator.simulator.stats["connections"] == 1
