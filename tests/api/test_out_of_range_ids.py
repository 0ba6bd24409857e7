"""Integers beyond the database's range (bigint) in paths and query values:
a path names nothing (404), a query value is invalid (422); never a 500."""
import base64
import json

import pytest

TOO_BIG = [2**63, 10**30]
TOO_SMALL = -(2**63) - 1


def cursor_after(value) -> str:
    raw = json.dumps({"after": value}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def send(api, **fields):
    response = api.post("/api/v1/messages", json={"recipient": "+420777123456", "content": "Hi", **fields})
    assert response.status_code == 201, response.json
    return response.json


@pytest.mark.parametrize("number", TOO_BIG)
@pytest.mark.parametrize("suffix", ["", "/events"])
def test_a_message_id_beyond_bigint_is_404(api, number, suffix):
    response = api.get(f"/api/v1/messages/{number}{suffix}")
    assert response.status_code == 404
    assert response.json["code"] == 404 and response.json["status"] == "Not Found"


@pytest.mark.parametrize("suffix", ["", "/events"])
def test_the_largest_bigint_id_is_an_ordinary_unknown_id(api, suffix):
    assert api.get(f"/api/v1/messages/{2**63 - 1}{suffix}").status_code == 404


@pytest.mark.parametrize("after", [*TOO_BIG, TOO_SMALL])
def test_a_cursor_beyond_bigint_is_422_on_every_list(api, after):
    message_id = send(api)["id"]
    for path in ("/api/v1/messages", f"/api/v1/messages/{message_id}/events", "/api/v1/templates"):
        response = api.get(path, query_string={"cursor": cursor_after(after)})
        assert response.status_code == 422, (path, response.json)
        assert response.json["errors"] == {"cursor": ["Not a cursor returned by this API."]}


@pytest.mark.parametrize("number", [*TOO_BIG, TOO_SMALL])
def test_a_limit_beyond_bigint_is_422(api, number):
    response = api.get("/api/v1/messages", query_string={"limit": str(number)})
    assert response.status_code == 422
    assert "limit" in response.json["errors"]["query"]


def test_an_object_id_beyond_bigint_filters_as_text(api):
    huge = str(2**64)
    mine = send(api, related_objects=[{"content_type": "shop.order", "object_id": huge}])
    send(api, related_objects=[{"content_type": "shop.order", "object_id": 1}])
    response = api.get("/api/v1/messages", query_string={"content_type": "shop.order", "object_id": huge})
    assert response.status_code == 200
    assert [item["id"] for item in response.json["items"]] == [mine["id"]]
