"""Status callbacks end to end: what is sent and how it is signed, verified as a receiver would
(the `standardwebhooks` library), with real receivers on loopback."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from service.extensions import db
from service.models import CallbackAttempt, CallbackDelivery, CallbackEndpoint
from tests.support.callbacks import (
    SIGNING_SECRET,
    Clock,
    callback_settings,
    create_endpoint,
    dispatch,
    send_message,
    verified,
)
from tests.support.receiver import Receiver


@pytest.fixture
def app(make_app):
    return make_app(callbacks=callback_settings())


def test_an_endpoint_receives_created_state_change_and_final_each_signed_in_order(app, api):
    with Receiver() as receiver:
        endpoint = create_endpoint(api, receiver.url)
        assert endpoint["secret"].startswith("whsec_")
        message = send_message(api)  # the dummy backend makes it DEBUG, final
        report = dispatch(app)
    events = [verified(received, endpoint["secret"]) for received in receiver.received]
    assert [(e["type"], e["data"]["previous_state"], e["data"]["state"], e["data"]["sequence"]) for e in events] == [
        ("message.created", None, "WAITING", 1), ("message.state_changed", "WAITING", "DEBUG", 2),
        ("message.final", "WAITING", "DEBUG", 3)]
    assert report.delivered == 3
    final = events[-1]["data"]
    shown = api.get(f"/api/v1/messages/{message['id']}").get_json()
    assert {k: v for k, v in final.items() if k not in ("previous_state", "sequence")} == shown
    assert len({received.headers["webhook-id"] for received in receiver.received}) == 3


def test_the_message_callbacks_route_shows_each_delivery_and_its_attempts(app, api):
    with Receiver() as receiver:
        create_endpoint(api, receiver.url, event_types=["message.final"])
        message = send_message(api)
        dispatch(app)
    page = api.get(f"/api/v1/messages/{message['id']}/callbacks").get_json()
    assert [(item["event_type"], item["status"], item["attempt_count"]) for item in page["items"]] == [
        ("message.final", "delivered", 1)]
    attempt = page["items"][0]["attempts"][0]
    assert attempt["status_code"] == 200 and attempt["response_body"] == "ok" and attempt["error"] is None


def test_endpoint_filters_by_event_type_and_tag(app, api):
    with Receiver() as receiver:
        create_endpoint(api, receiver.url, event_types=["message.created"], tag="parcels")
        send_message(api, tag="parcels")
        send_message(api, tag="other")
        dispatch(app)
    assert [json.loads(r.body)["type"] for r in receiver.received] == ["message.created"]


def test_a_message_callback_url_is_signed_with_the_service_secret(app, api):
    with Receiver() as receiver:
        message = send_message(api, callback_url=receiver.url + "?order=42")
        dispatch(app)
    assert message["callback_url"].endswith("?order=42")
    assert [verified(r, SIGNING_SECRET)["type"] for r in receiver.received] == [
        "message.created", "message.state_changed", "message.final"]
    assert {r.path for r in receiver.received} == {"/callbacks?order=42"}


def test_a_callback_url_without_a_signing_secret_is_refused_and_nothing_stored(make_app):
    app = make_app(callbacks=callback_settings(signing_secret=""))
    response = app.test_client().post("/api/v1/messages", headers={"Authorization": "Bearer test-key-1"},
                                      json={"recipient": "+420777123456", "content": "Hi",
                                            "callback_url": "http://127.0.0.1:9/x"})
    assert response.status_code == 422
    assert "DIALER_CALLBACK_SIGNING_SECRET" in response.get_json()["errors"]["callback_url"][0]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(CallbackDelivery)) == 0


def test_a_tampered_body_or_an_old_timestamp_fails_verification(app, api):
    with Receiver() as receiver:
        endpoint = create_endpoint(api, receiver.url, event_types=["message.created"])
        send_message(api)
        dispatch(app)
    [received] = receiver.received
    assert verified(received, endpoint["secret"])["type"] == "message.created"
    tampered = type(received)(received.headers, received.body.replace("Hello", "Hallo"), received.path)
    with pytest.raises(WebhookVerificationError, match="No matching signature"):
        verified(tampered, endpoint["secret"])
    # The same request replayed ten minutes later (its signature and timestamp intact).
    ten_minutes_ago = datetime.now(timezone.utc) - timedelta(minutes=10)
    replayed_headers = {**received.headers, "webhook-timestamp": str(int(ten_minutes_ago.timestamp())),
                        "webhook-signature": Webhook(endpoint["secret"]).sign(
                            received.headers["webhook-id"], ten_minutes_ago, received.body)}
    with pytest.raises(WebhookVerificationError, match="too old"):
        verified(type(received)(replayed_headers, received.body, received.path), endpoint["secret"])


def test_after_a_rotation_deliveries_carry_both_signatures_until_the_overlap_ends(app, api):
    clock = Clock()
    with Receiver() as receiver:
        endpoint = create_endpoint(api, receiver.url, event_types=["message.created"])
        rotated = api.post(f"/api/v1/callback-endpoints/{endpoint['id']}/rotate-secret", json={}).get_json()
        send_message(api)
        dispatch(app, clock)
        with app.app_context():
            db.session.execute(CallbackEndpoint.__table__.update().values(
                previous_secret_expires_at=datetime.now(timezone.utc) - timedelta(seconds=1)))
            db.session.commit()
        send_message(api)
        dispatch(app, clock)
    during, after = receiver.received
    assert rotated["secret"] != endpoint["secret"] and rotated["previous_secret_expires_at"]
    assert len(during.headers["webhook-signature"].split(" ")) == 2
    assert verified(during, endpoint["secret"]) and verified(during, rotated["secret"])
    assert len(after.headers["webhook-signature"].split(" ")) == 1
    assert verified(after, rotated["secret"])
    with pytest.raises(WebhookVerificationError):
        verified(after, endpoint["secret"])
    assert "secret" not in api.get(f"/api/v1/callback-endpoints/{endpoint['id']}").get_json()


def test_a_rolled_back_change_owes_no_callback_and_a_committed_one_always_does(app, api):
    from service.models import DialerMessage, DialerMessageState
    from service.models.state_machine import transition

    create_endpoint(api, "http://127.0.0.1:9/callbacks")
    with app.app_context():
        message = DialerMessage(recipient="+420777123456", content="x", state=DialerMessageState.WAITING,
                                extra_data={}, extra_sender_data={})
        db.session.add(message)
        db.session.flush()
        assert db.session.scalar(select(func.count()).select_from(CallbackDelivery)) == 1
        db.session.rollback()
        assert db.session.scalar(select(func.count()).select_from(CallbackDelivery)) == 0
        message = DialerMessage(recipient="+420777123456", content="x", state=DialerMessageState.WAITING,
                                extra_data={}, extra_sender_data={})
        db.session.add(message)
        db.session.commit()
        transition(message, DialerMessageState.ERROR, source="publish", final=True, error="gave up")
        db.session.commit()
        types = db.session.scalars(select(CallbackDelivery.event_type).order_by(CallbackDelivery.sequence))
        assert list(types) == ["message.created", "message.state_changed", "message.final"]


def test_without_a_signing_secret_a_message_callback_is_a_dead_letter_never_sent_unsigned(app, api):
    with Receiver() as receiver:
        send_message(api, callback_url=receiver.url)
        report = dispatch(app, signing_secret="")
    assert receiver.received == [] and report.sent == 0
    with app.app_context():
        assert set(db.session.scalars(select(CallbackDelivery.status))) == {"failed"}
        assert set(db.session.scalars(select(CallbackAttempt.error))) == {"NoSigningSecret"}


def test_bulk_and_template_sends_take_a_callback_url_checked_once(make_app):
    app = make_app(callbacks=callback_settings(allow_private_networks=False))
    client = app.test_client()
    headers = {"Authorization": "Bearer test-key-1"}
    refused = client.post("/api/v1/messages/bulk", headers=headers, json={
        "recipients": ["+420777123456", "+420777123457"], "content": "Hi", "callback_url": "http://10.1.2.3/cb"})
    assert refused.status_code == 422 and "private" in refused.get_json()["errors"]["callback_url"][0]
    client.post("/api/v1/templates", headers=headers, json={"slug": "hello", "body": "Hello {{ name }}"})
    refused = client.post("/api/v1/templates/hello/send", headers=headers, json={
        "recipient": "+420777123456", "context_data": {"name": "Jana"}, "callback_url": "http://[::1]/cb"})
    assert refused.status_code == 422 and "loopback" in refused.get_json()["errors"]["callback_url"][0]
    app = make_app(callbacks=callback_settings())
    client = app.test_client()
    bulk = client.post("/api/v1/messages/bulk", headers=headers, json={
        "recipients": ["+420777123456", "+420777123457"], "content": "Hi", "callback_url": "http://127.0.0.1:9/cb"})
    assert {item["callback_url"] for item in bulk.get_json()["items"]} == {"http://127.0.0.1:9/cb"}
    sent = client.post("/api/v1/templates/hello/send", headers=headers, json={
        "recipient": "+420777123456", "context_data": {"name": "Jana"}, "callback_url": "http://127.0.0.1:9/t"})
    assert sent.status_code == 201 and sent.get_json()["callback_url"] == "http://127.0.0.1:9/t"
    with app.app_context():
        per_message = db.session.scalar(select(func.count()).select_from(CallbackDelivery)
                                        .where(CallbackDelivery.endpoint_id.is_(None)))
    assert per_message == 9  # created, state changed, final for each of the three messages
