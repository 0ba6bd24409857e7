"""Status callbacks delivered: retries on the schedule (a clock the tests move), dead letters, disabled
endpoints, budgets, SSRF refusals and concurrent dispatchers, with real receivers on loopback."""
from __future__ import annotations

import json
import random
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from service.extensions import db
from service.models import CallbackAttempt, CallbackDelivery, CallbackEndpoint
from tests.support.callbacks import (
    Clock,
    callback_settings,
    create_endpoint,
    dispatch,
    send_message,
)
from tests.support.receiver import Receiver


@pytest.fixture
def app(make_app):
    return make_app(callbacks=callback_settings())


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
        # Patient timeouts: on a loaded machine a timed-out delivery waits for its retry, which is
        # not what this test is about (that no delivery is sent twice).
        patient = {"connect_timeout_seconds": 10.0, "timeout_seconds": 10.0}
        threads = [threading.Thread(target=dispatch, args=(app,), kwargs=patient) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    ids = [r.headers["webhook-id"] for r in receiver.received]
    assert len(ids) == 180 and len(set(ids)) == 180


def test_a_receiver_dripping_its_answer_is_cut_at_the_total_time_limit(app, api):
    with Receiver(lambda number, request: "drip") as receiver:
        create_endpoint(api, receiver.url, event_types=["message.created"])
        message = send_message(api)
        started = time.monotonic()
        report = dispatch(app, timeout_seconds=1.0)  # each byte comes well within the read timeout
        elapsed = time.monotonic() - started
    assert elapsed < 2.5 and report.retrying == 1
    [item] = api.get(f"/api/v1/messages/{message['id']}/callbacks").get_json()["items"]
    assert item["status"] == "pending" and item["attempts"][0]["error"] == "DeadlineExceeded"
