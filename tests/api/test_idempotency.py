"""Idempotency-Key on the three routes that send."""
from datetime import timedelta

import pytest

from service.api.auth import api_key_digest
from service.extensions import db
from service.models import IdempotencyKey
from service.models.types import utcnow
from tests.conftest import API_KEY, OTHER_API_KEY
from tests.support.db import count_rows

MESSAGE = {"recipient": "+420777123456", "content": "Hello"}
ROUTES = [
    ("/api/v1/messages", MESSAGE),
    ("/api/v1/messages/bulk", {"recipients": ["+420777123456", "+420777123457"], "content": "Hi"}),
    ("/api/v1/templates/greet/send", {"recipient": "+420777123456", "context_data": {"name": "J"}}),
]


@pytest.fixture(autouse=True)
def greet_template(api):
    assert api.post("/api/v1/templates", json={"slug": "greet", "body": "Hi {{ name }}"}).status_code == 201


@pytest.mark.parametrize("path, payload", ROUTES)
def test_replay_returns_the_original_response(api, app_context, path, payload):
    headers = {"Idempotency-Key": "order-7-reminder"}
    first = api.post(path, json=payload, headers=headers)
    assert first.status_code == 201 and "Idempotent-Replayed" not in first.headers
    messages_after_first = count_rows()
    replay = api.post(path, json=payload, headers=headers)
    assert replay.status_code == 201
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json == first.json
    assert count_rows() == messages_after_first


def test_key_order_in_the_body_does_not_matter(api):
    headers = {"Idempotency-Key": "k"}
    first = api.post("/api/v1/messages", json={"recipient": "+420777123456", "content": "x"}, headers=headers)
    replay = api.post("/api/v1/messages", json={"content": "x", "recipient": "+420777123456"}, headers=headers)
    assert replay.headers.get("Idempotent-Replayed") == "true" and replay.json["id"] == first.json["id"]


@pytest.mark.parametrize("path, payload", ROUTES)
def test_same_key_with_a_different_body_is_422(api, app_context, path, payload):
    headers = {"Idempotency-Key": "k1"}
    assert api.post(path, json=payload, headers=headers).status_code == 201
    before = count_rows()
    changed = {**payload, "tag": "other"}
    response = api.post(path, json=changed, headers=headers)
    assert response.status_code == 422
    assert response.json["errors"] == {"Idempotency-Key": ["Already used with a different request."]}
    assert count_rows() == before


def test_same_key_on_another_route_is_a_different_request(api):
    headers = {"Idempotency-Key": "k"}
    assert api.post("/api/v1/messages", json=MESSAGE, headers=headers).status_code == 201
    response = api.post("/api/v1/templates/greet/send", json=MESSAGE, headers=headers)
    assert response.status_code == 422


def test_keys_are_scoped_to_the_api_key(client, app_context):
    headers = {"Idempotency-Key": "shared", "Authorization": f"Bearer {API_KEY}"}
    first = client.post("/api/v1/messages", json=MESSAGE, headers=headers)
    other = client.post("/api/v1/messages", json=MESSAGE,
                        headers={**headers, "Authorization": f"Bearer {OTHER_API_KEY}"})
    assert first.status_code == other.status_code == 201
    assert other.json["id"] != first.json["id"] and "Idempotent-Replayed" not in other.headers
    assert count_rows() == 2


def test_failed_request_releases_the_key(api, app_context):
    headers = {"Idempotency-Key": "retry-me"}
    bad = api.post("/api/v1/messages", json={**MESSAGE, "recipient": "nope"}, headers=headers)
    assert bad.status_code == 422
    missing = api.post("/api/v1/templates/absent/send", json=ROUTES[2][1], headers={"Idempotency-Key": "t"})
    assert missing.status_code == 404
    assert count_rows(IdempotencyKey) == 0
    fixed = api.post("/api/v1/messages", json=MESSAGE, headers=headers)
    assert fixed.status_code == 201 and "Idempotent-Replayed" not in fixed.headers


def _claim(key, age):
    db.session.add(IdempotencyKey(api_key_hash=api_key_digest(API_KEY), key=key,
                                  request_hash="0" * 64, created_at=utcnow() - age))
    db.session.commit()


def _fingerprint(app, path, payload):
    from service.api.idempotency import _request_fingerprint

    with app.test_request_context(path, method="POST", json=payload):
        return _request_fingerprint()


def test_a_request_still_in_progress_gets_409(api, app_context):
    db.session.add(IdempotencyKey(api_key_hash=api_key_digest(API_KEY), key="busy",
                                  request_hash=_fingerprint(app_context, "/api/v1/messages", MESSAGE),
                                  created_at=utcnow()))
    db.session.commit()
    response = api.post("/api/v1/messages", json=MESSAGE, headers={"Idempotency-Key": "busy"})
    assert response.status_code == 409 and response.json["code"] == 409
    assert count_rows() == 0


def test_an_abandoned_claim_is_taken_over(api, app_context):
    db.session.add(IdempotencyKey(api_key_hash=api_key_digest(API_KEY), key="dead",
                                  request_hash=_fingerprint(app_context, "/api/v1/messages", MESSAGE), created_at=utcnow() - timedelta(minutes=10)))
    db.session.commit()
    response = api.post("/api/v1/messages", json=MESSAGE, headers={"Idempotency-Key": "dead"})
    assert response.status_code == 201
    replay = api.post("/api/v1/messages", json=MESSAGE, headers={"Idempotency-Key": "dead"})
    assert replay.headers["Idempotent-Replayed"] == "true" and replay.json["id"] == response.json["id"]


@pytest.mark.parametrize("key", ["", "k" * 256, "naïve"])
def test_invalid_keys_are_422(api, app_context, key):
    response = api.post("/api/v1/messages", json=MESSAGE, headers={"Idempotency-Key": key})
    assert response.status_code == 422 and "Idempotency-Key" in response.json["errors"]
    assert count_rows() == 0


def test_expired_keys_are_purged(api, app_context):
    from service.dialer.idempotency import purge_expired_keys

    _claim("old", timedelta(hours=25))
    _claim("new", timedelta(hours=1))
    assert purge_expired_keys() == 1
    assert [k.key for k in db.session.query(IdempotencyKey)] == ["new"]


@pytest.mark.parametrize("path, payload", ROUTES)
def test_a_request_that_stored_its_messages_and_died_unanswered_is_never_sent_again(api, app_context, path, payload):
    headers = {"Idempotency-Key": "crashed"}
    first = api.post(path, json=payload, headers=headers)
    assert first.status_code == 201
    created = sorted(item["id"] for item in first.json.get("items", [first.json]))
    # What a process killed between the message's commit and storing the answer leaves behind.
    record = db.session.scalars(db.select(IdempotencyKey).filter_by(key="crashed")).one()
    record.status_code, record.response_body = None, None
    record.created_at = utcnow() - timedelta(minutes=10)
    db.session.commit()
    retry = api.post(path, json=payload, headers=headers)
    assert retry.status_code == 409, retry.json
    assert retry.json["errors"] == {"message_ids": created}
    assert count_rows() == len(created)


def test_a_failed_request_that_stored_messages_keeps_its_key(api, app_context):
    from service.dialer import send
    from service.dialer.idempotency import active, claim_key, release_claim

    fingerprint = _fingerprint(app_context, "/api/v1/messages", MESSAGE)
    claim_id, _ = claim_key(api_key_digest(API_KEY), "half-done", fingerprint)
    with active(claim_id):
        message = send(MESSAGE["recipient"], MESSAGE["content"])
    release_claim(claim_id)
    assert count_rows(IdempotencyKey) == 1
    retry = api.post("/api/v1/messages", json=MESSAGE, headers={"Idempotency-Key": "half-done"})
    assert retry.status_code == 409 and retry.json["errors"] == {"message_ids": [message.id]}
    assert count_rows() == 1
