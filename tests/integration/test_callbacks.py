"""Status callbacks end to end: real receivers on loopback, verified as a receiver would
(the `standardwebhooks` library), a clock the tests move for the retry schedule."""
from __future__ import annotations

import json
import random
import time
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from config import CallbackConfig
from service.dialer.callbacks.dispatch import Dispatcher
from service.extensions import db
from service.models import CallbackAttempt, CallbackDelivery, CallbackEndpoint
from tests.support.receiver import Receiver

SIGNING_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


class Clock:
    """The real time moved on by as much as the test says (so that what was stored a moment ago
    is due, and signatures made without a move verify)."""

    def __init__(self):
        self.offset = timedelta()

    @property
    def now(self) -> datetime:
        return datetime.now(timezone.utc) + self.offset

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)


def callback_settings(**overrides) -> CallbackConfig:
    values = dict(signing_secret=SIGNING_SECRET, allow_private_networks=True, concurrency=4,
                  connect_timeout_seconds=1.0, timeout_seconds=0.5)
    return CallbackConfig(**{**values, **overrides})


@pytest.fixture
def app(make_app):
    return make_app(callbacks=callback_settings())


def create_endpoint(api, url, **fields):
    response = api.post("/api/v1/callback-endpoints", json={"url": url, **fields})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def send_message(api, **fields):
    response = api.post("/api/v1/messages", json={"recipient": "+420777123456", "content": "Hello", **fields})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def dispatch(app, clock=None, **settings):
    with app.app_context():
        dispatcher = Dispatcher(callback_settings(**settings), clock=clock or Clock())
        try:
            return dispatcher.run()
        finally:
            dispatcher.transport.close()


def verified(received, secret):
    return Webhook(secret).verify(received.body, received.headers)


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


def test_a_flaky_receiver_gets_every_event_in_order_per_message_with_one_webhook_id_each(app, api):
    chance = random.Random(10)

    def flaky(number, request):
        return chance.choice(["reset", 500, "hang"]) if chance.random() < 0.3 else 200

    clock = Clock()
    with Receiver(flaky, hang_seconds=1.0) as receiver:
        create_endpoint(api, receiver.url)
        ids = [send_message(api)["id"] for _ in range(10)]
        for _ in range(40):
            dispatch(app, clock)
            clock.advance(36000 * 1.2)  # past the longest retry delay and its jitter
        delivered = receiver.delivered()
    with app.app_context():
        deliveries = list(db.session.scalars(select(CallbackDelivery)))
    assert len(deliveries) == 30 and {d.status for d in deliveries} == {"delivered"}
    assert {d.webhook_id for d in deliveries} == {r.headers["webhook-id"] for r in delivered}
    by_id = {}
    for received in receiver.received:
        by_id.setdefault(received.headers["webhook-id"], set()).add(received.body)
    assert all(len(bodies) == 1 for bodies in by_id.values())  # a retry is the same event, same id
    assert len(receiver.received) > len(deliveries)  # some were retried
    first_seen = {}
    for received in delivered:
        data = json.loads(received.body)["data"]
        first_seen.setdefault(data["id"], []).append(data["sequence"])
    assert sorted(first_seen) == sorted(ids)
    assert all(sequences == sorted(sequences) for sequences in first_seen.values())


def test_410_gone_disables_the_endpoint_and_its_other_deliveries_wait(app, api):
    with Receiver(lambda number, request: 410) as receiver:
        endpoint = create_endpoint(api, receiver.url)
        send_message(api)
        dispatch(app)
    shown = api.get(f"/api/v1/callback-endpoints/{endpoint['id']}").get_json()
    assert shown["enabled"] is False and "410" in shown["disabled_reason"]
    assert len(receiver.received) == 1
    failed = api.get(f"/api/v1/callback-endpoints/{endpoint['id']}/deliveries?status=failed").get_json()
    pending = api.get(f"/api/v1/callback-endpoints/{endpoint['id']}/deliveries?status=pending").get_json()
    assert len(failed["items"]) == 1 and len(pending["items"]) == 2


def test_a_delivery_failing_every_attempt_becomes_a_dead_letter_and_a_retry_sends_it_again(app, api):
    clock = Clock()
    answers = iter([500, 503] + [200] * 10)
    with Receiver(lambda number, request: next(answers)) as receiver:
        endpoint = create_endpoint(api, receiver.url, event_types=["message.created"])
        send_message(api)
        dispatch(app, clock, retry_schedule=(0.0, 5.0))
        clock.advance(4)
        dispatch(app, clock, retry_schedule=(0.0, 5.0))
        assert len(receiver.received) == 1  # not due before its delay
        clock.advance(2)
        dispatch(app, clock, retry_schedule=(0.0, 5.0))
        failed = api.get(f"/api/v1/callback-endpoints/{endpoint['id']}/deliveries?status=failed").get_json()
        [dead] = failed["items"]
        assert [a["status_code"] for a in dead["attempts"]] == [503, 500]
        assert api.post(f"/api/v1/callback-deliveries/{dead['id']}/retry", json={}).status_code == 202
        dispatch(app, clock)
        replayed = api.post(f"/api/v1/callback-endpoints/{endpoint['id']}/replay",
                            json={"since": (clock.now - timedelta(hours=1)).isoformat()})
        assert replayed.get_json() == {"queued": 1}
        dispatch(app, clock)
    assert [r.headers["webhook-id"] for r in receiver.received] == [dead["webhook_id"]] * 4
    assert len({r.body for r in receiver.received}) == 1


def test_an_endpoint_failing_for_the_disable_period_is_disabled(app, api):
    clock = Clock()
    with Receiver(lambda number, request: 500) as receiver:
        endpoint = create_endpoint(api, receiver.url)
        send_message(api)
        for _ in range(3):
            dispatch(app, clock, disable_after_hours=1, retry_schedule=(0.0, 3000.0, 3000.0, 3000.0))
            clock.advance(3600)
    shown = api.get(f"/api/v1/callback-endpoints/{endpoint['id']}").get_json()
    assert shown["enabled"] is False and "every delivery failed for 1 hours" in shown["disabled_reason"]
    assert len(receiver.received) == 2


def test_a_receiver_streaming_for_ever_holds_a_sender_no_longer_than_its_budget(app, api):
    with Receiver(lambda number, request: "stream") as receiver:
        create_endpoint(api, receiver.url, event_types=["message.created"])
        message = send_message(api)
        started = time.monotonic()
        dispatch(app)
        elapsed = time.monotonic() - started
    assert elapsed < 2
    [item] = api.get(f"/api/v1/messages/{message['id']}/callbacks").get_json()["items"]
    assert item["status"] == "delivered" and len(item["attempts"][0]["response_body"]) == 1024


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


def test_ssrf_guard_refuses_private_loopback_link_local_and_names_resolving_inside(make_app):
    app = make_app(callbacks=callback_settings(allow_private_networks=False))
    client = app.test_client()
    headers = {"Authorization": "Bearer test-key-1"}
    for url in ("http://127.0.0.1/x", "http://10.0.0.1/x", "http://169.254.169.254/latest/meta-data",
                "http://[::1]/x", "http://localhost:8080/x", "ftp://example.com/x", "http://user:pw@example.com/"):
        response = client.post("/api/v1/callback-endpoints", headers=headers, json={"url": url})
        assert response.status_code == 422, url
        assert response.get_json()["errors"]["url"], url
    metadata = client.post("/api/v1/callback-endpoints", headers=headers,
                           json={"url": "http://169.254.169.254/"}).get_json()
    assert "metadata" in metadata["errors"]["url"][0]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(CallbackEndpoint)) == 0


def test_the_address_is_checked_again_at_every_connection(app, api):
    with Receiver() as receiver:
        create_endpoint(api, receiver.url)  # saved while private networks were allowed
        send_message(api)
        dispatch(app, allow_private_networks=False)
    assert receiver.received == []
    with app.app_context():
        errors = set(db.session.scalars(select(CallbackAttempt.error)))
    assert errors == {"ForbiddenAddressError"}


def test_two_dispatchers_at_once_never_send_a_delivery_twice(app, api):
    import threading

    with Receiver(delay_seconds=0.005) as receiver:
        create_endpoint(api, receiver.url)
        with app.app_context():
            from service.dialer import send

            for index in range(60):
                send("+420777123456", f"Message {index}")
        threads = [threading.Thread(target=dispatch, args=(app,)) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    ids = [r.headers["webhook-id"] for r in receiver.received]
    assert len(ids) == 180 and len(set(ids)) == 180


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
