"""/api/v1/callback-endpoints: create (the secret shown once), list, read, change, delete."""
import pytest

from config import CallbackConfig


@pytest.fixture
def app(make_app):
    return make_app(callbacks=CallbackConfig(allow_private_networks=True))


def test_an_endpoint_is_created_listed_changed_and_deleted_and_its_secret_shown_once(api):
    created = api.post("/api/v1/callback-endpoints", json={
        "url": "http://127.0.0.1:9/cb", "description": "CRM", "event_types": ["message.final", "message.final"],
        "tag": "parcels"})
    assert created.status_code == 201
    endpoint = created.get_json()
    assert endpoint["secret"].startswith("whsec_") and endpoint["event_types"] == ["message.final"]
    assert endpoint["enabled"] is True and endpoint["disabled_reason"] is None
    path = f"/api/v1/callback-endpoints/{endpoint['id']}"
    listed = api.get("/api/v1/callback-endpoints").get_json()
    assert [item["id"] for item in listed["items"]] == [endpoint["id"]] and "secret" not in listed["items"][0]
    changed = api.request("PATCH", path, json={"enabled": False, "event_types": []}).get_json()
    assert changed["enabled"] is False and changed["event_types"] == [] and changed["tag"] == "parcels"
    assert "secret" not in changed and "secret" not in api.get(path).get_json()
    assert api.delete(path).status_code == 204
    assert api.get(path).status_code == 404


@pytest.mark.parametrize("body, field", [
    ({"url": "http://127.0.0.1:9/cb", "event_types": ["message.deleted"]}, "event_types"),
    ({"url": ""}, "url"), ({}, "url"), ({"url": "http://127.0.0.1:9/cb", "secret": "mine"}, "secret"),
    ({"url": "http://127.0.0.1:9/" + "x" * 2100}, "url"), ({"url": "http://127.0.0.1:9/cb", "enabled": "yes"}, "enabled"),
])
def test_bad_endpoints_are_refused_in_the_one_envelope(api, body, field):
    response = api.post("/api/v1/callback-endpoints", json=body)
    assert response.status_code == 422
    assert field in response.get_json()["errors"]["json"]


def test_unknown_ids_are_404(api):
    assert api.get("/api/v1/callback-endpoints/999").status_code == 404
    assert api.post("/api/v1/callback-endpoints/999/rotate-secret", json={}).status_code == 404
    assert api.get("/api/v1/callback-endpoints/999/deliveries").status_code == 404
    assert api.post("/api/v1/callback-deliveries/999/retry", json={}).status_code == 404
    assert api.get("/api/v1/messages/999/callbacks").status_code == 404
    assert api.get(f"/api/v1/callback-endpoints/{2**63}").status_code == 404
    assert api.get("/api/v1/callback-endpoints/1/deliveries?status=lost").status_code == 422


def test_rotate_secret_and_retry_take_no_body(api):
    endpoint = api.post("/api/v1/callback-endpoints", json={"url": "http://127.0.0.1:9/cb"}).get_json()
    rotated = api.post(f"/api/v1/callback-endpoints/{endpoint['id']}/rotate-secret")
    assert rotated.status_code == 200 and rotated.get_json()["secret"] != endpoint["secret"]
    assert api.post("/api/v1/callback-deliveries/999/retry").status_code == 404  # not 415
    with_text = api.post(f"/api/v1/callback-endpoints/{endpoint['id']}/rotate-secret", data="x",
                         headers={"Content-Type": "text/plain"})
    assert with_text.status_code == 415
