"""POST/GET /api/v1/messages: success and every error path."""
import pytest

from service.extensions import db
from service.models import DialerMessage
from tests.support.db import count_rows, stored_counts

VALID = {"recipient": "+420777123456", "content": "Your parcel arrives today."}


def test_send_message_stores_and_publishes_it(api, app_context):
    response = api.post(
        "/api/v1/messages",
        json={
            **VALID,
            "tag": "parcels",
            "extra_data": {"order": 7},
            "priority": 1,
            "is_autodialer": False,
            "related_objects": [{"content_type": "shop.order", "object_id": 42}],
        },
    )
    assert response.status_code == 201, response.json
    body = response.json
    assert body["state"] == "DEBUG" and body["is_final_state"] is True and body["failed"] is False
    assert body["recipient"] == "+420777123456"
    assert body["backend"] == "service.backends.dummy.DummyDialerBackend"
    assert body["tag"] == "parcels" and body["extra_data"] == {"order": 7}
    assert body["priority"] == 1 and body["is_autodialer"] is False
    assert body["related_objects"] == [{"content_type": "shop.order", "object_id": 42}]
    assert body["number_of_send_attempts"] == 1 and body["number_of_status_check_attempts"] == 0
    assert body["created_at"].endswith("+00:00") and body["sent_at"].endswith("+00:00")
    stored = db.session.get(DialerMessage, body["id"])
    assert stored.state.value == "DEBUG" and stored.related_objects[0].object_id_int == 42


def test_defaults_of_an_optional_field_free_message(api):
    body = api.post("/api/v1/messages", json=VALID).json
    assert body["priority"] == 3 and body["is_autodialer"] is True
    assert body["tag"] is None and body["extra_data"] == {} and body["related_objects"] == []
    assert body["template_slug"] is None and body["template_id"] is None


def test_national_number_uses_the_default_region(make_app, auth):
    client = make_app(default_phone_region="CZ").test_client()
    response = client.post("/api/v1/messages", headers=auth, json={**VALID, "recipient": "777 123 456"})
    assert response.status_code == 201
    assert response.json["recipient"] == "+420777123456"


@pytest.mark.parametrize(
    "payload, field",
    [
        ({**VALID, "recipient": "777123456"}, "recipient"),
        ({**VALID, "recipient": "+420 1"}, "recipient"),
        ({**VALID, "recipient": 420777123456}, "recipient"),
        ({**VALID, "content": ""}, "content"),
        ({**VALID, "content": "   "}, "content"),
        ({**VALID, "content": "x" * 10_001}, "content"),
        ({**VALID, "priority": 0}, "priority"),
        ({**VALID, "priority": 4}, "priority"),
        ({**VALID, "priority": "1"}, "priority"),
        ({**VALID, "is_autodialer": "maybe"}, "is_autodialer"),
        ({**VALID, "unknown": 1}, "unknown"),
        ({**VALID, "extra_data": [1]}, "extra_data"),
        ({**VALID, "tag": "t" * 256}, "tag"),
        ({**VALID, "related_objects": [{"content_type": "shop.order"}]}, "related_objects"),
        ({**VALID, "related_objects": [{"content_type": "", "object_id": 1}]}, "related_objects"),
        ({**VALID, "related_objects": [{"content_type": "a", "object_id": True}]}, "related_objects"),
        ({"content": "hi"}, "recipient"),
        ({"recipient": "+420777123456"}, "content"),
    ],
)
def test_invalid_fields_get_422_naming_the_field_and_store_nothing(api, app_context, payload, field):
    response = api.post("/api/v1/messages", json=payload)
    assert response.status_code == 422
    assert response.json["code"] == 422 and response.json["status"] == "Unprocessable Entity"
    assert field in response.json["errors"]["json"]
    assert stored_counts() == {"messages": 0, "related": 0, "idempotency_keys": 0}


def test_malformed_json_is_400(api, app_context):
    response = api.post("/api/v1/messages", data='{"recipient": ', content_type="application/json")
    assert response.status_code == 400
    assert response.json["message"] == "The request body is not valid JSON."
    assert count_rows() == 0


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_non_json_body_is_415(api, app_context, content_type):
    response = api.post("/api/v1/messages", data="recipient=1", content_type=content_type)
    assert response.status_code == 415 and response.json["code"] == 415
    assert count_rows() == 0


def test_body_over_one_mebibyte_is_413(api, app_context):
    big = {**VALID, "extra_data": {"blob": "x" * (1024 * 1024)}}
    response = api.post("/api/v1/messages", json=big)
    assert response.status_code == 413 and response.json["code"] == 413
    assert count_rows() == 0


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic dGVzdDp0ZXN0"},
     {"Authorization": "Bearer"}, {"Authorization": "test-key-1"}],
)
def test_missing_or_wrong_api_key_is_401(client, app_context, headers):
    for method, path in [("POST", "/api/v1/messages"), ("GET", "/api/v1/messages"),
                         ("GET", "/api/v1/messages/1"), ("GET", "/api/v1/templates")]:
        response = client.open(path, method=method, headers=headers, json=VALID)
        assert response.status_code == 401, (method, path)
        assert response.json["code"] == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert count_rows() == 0


def test_every_configured_key_is_accepted(client):
    for key in ("test-key-1", "test-key-2"):
        response = client.post("/api/v1/messages", headers={"Authorization": f"Bearer {key}"}, json=VALID)
        assert response.status_code == 201


def test_read_one_message_and_unknown_id(api):
    created = api.post("/api/v1/messages", json=VALID).json
    assert api.get(f"/api/v1/messages/{created['id']}").json == created
    missing = api.get(f"/api/v1/messages/{created['id'] + 1000}")
    assert missing.status_code == 404 and missing.json["code"] == 404


def test_unknown_route_and_method_use_the_envelope(api):
    assert api.get("/api/v1/nothing").json["code"] == 404
    response = api.delete("/api/v1/messages")
    assert response.status_code == 405 and response.json["code"] == 405


def test_bulk_send_creates_one_message_per_recipient(make_app, auth, app_context):
    from tests.support.backends import RecordingBackend

    RecordingBackend.calls.clear()
    client = make_app(sender_backend="tests.support.backends.RecordingBackend").test_client()
    response = client.post(
        "/api/v1/messages/bulk",
        headers=auth,
        json={"recipients": ["+420777123456", "+420777123457"], "content": "Hi", "tag": "b"},
    )
    assert response.status_code == 201
    items = response.json["items"]
    assert [item["recipient"] for item in items] == ["+420777123456", "+420777123457"]
    assert {item["state"] for item in items} == {"READY"} and {item["tag"] for item in items} == {"b"}
    assert RecordingBackend.calls == [
        {"method": "publish_messages", "message_ids": [i["id"] for i in items], "connections_in_use": 0}
    ]


@pytest.mark.parametrize(
    "recipients, error",
    [
        ([], {"recipients": ["Shorter than minimum length 1."]}),
        (["+420777123456", "bad"], {"recipients": {"1": ["Not a valid phone number: write it with its country code, e.g. +420777123456."]}}),
        (["+420777123456", "+420 777 123 456"], {"recipients": {"1": ["Repeats recipient 0."]}}),
    ],
)
def test_bulk_with_any_bad_recipient_stores_nothing(api, app_context, recipients, error):
    response = api.post("/api/v1/messages/bulk", json={"recipients": recipients, "content": "Hi"})
    assert response.status_code == 422
    errors = response.json["errors"]
    assert errors.get("json", errors) == error
    assert count_rows() == 0


def test_bulk_is_limited_in_size(make_app, auth, app_context):
    client = make_app(bulk_max_recipients=2).test_client()
    numbers = ["+420777123451", "+420777123452", "+420777123453"]
    response = client.post("/api/v1/messages/bulk", headers=auth, json={"recipients": numbers, "content": "x"})
    assert response.status_code == 422
    assert response.json["errors"] == {"recipients": ["Give 1 to 2 recipients."]}
    assert count_rows() == 0


@pytest.mark.parametrize("method, path, body, field", [
    ("POST", "/api/v1/messages", {"recipient": "+420777123456", "content": "Hel\x00lo"}, "content"),
    ("POST", "/api/v1/messages", {"recipient": "+420777123456", "content": "x", "extra_data": {"a": ["b\x00"]}},
     "extra_data.a.0"),
    ("POST", "/api/v1/messages", {"recipient": "+420777123456", "content": "x", "extra_data": {"k\x00": 1}},
     "extra_data.k\\0"),
    ("POST", "/api/v1/templates", {"slug": "greeting", "body": "Hi\x00"}, "body"),
    ("GET", "/api/v1/messages?tag=a%00b", None, "tag"),
])
def test_nul_characters_are_refused_with_the_field_named(api, method, path, body, field):
    """No database column can hold NUL (PostgreSQL refuses it), so it is a clear 422, never a 500."""
    response = api.request(method, path, json=body)
    assert response.status_code == 422, response.json
    errors = next(iter(response.json["errors"].values()))
    assert errors == {field: ["Must not contain NUL characters."]}
    assert api.get("/api/v1/messages").json["items"] == []


def test_a_template_slug_with_a_nul_character_is_not_found(api):
    assert api.get("/api/v1/templates/a%00b").status_code == 404


def test_a_post_without_a_body_names_the_missing_fields(api, app_context):
    response = api.post("/api/v1/messages")
    assert response.status_code == 422 and "recipient" in response.json["errors"]["json"]
    assert count_rows() == 0
