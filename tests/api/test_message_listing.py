"""GET /api/v1/messages: filters and cursor pagination."""
from datetime import datetime, timezone

import pytest

from service.extensions import db
from service.models import DialerMessage


def send(api, **fields):
    payload = {"recipient": "+420777123456", "content": "Hello", **fields}
    response = api.post("/api/v1/messages", json=payload)
    assert response.status_code == 201, response.json
    return response.json


def ids(response):
    assert response.status_code == 200, response.json
    return [item["id"] for item in response.json["items"]]


def test_filters_by_related_object_integer_and_text_ids(api):
    order_42 = send(api, related_objects=[{"content_type": "shop.order", "object_id": 42}])
    order_42_str = send(api, related_objects=[{"content_type": "shop.order", "object_id": "42"}])
    order_43 = send(api, related_objects=[{"content_type": "shop.order", "object_id": 43}])
    invoice_42 = send(api, related_objects=[{"content_type": "shop.invoice", "object_id": 42}])
    uuid_obj = send(api, related_objects=[{"content_type": "crm.lead", "object_id": "a1b2-c3"},
                                          {"content_type": "shop.order", "object_id": 43}])
    send(api)
    assert ids(api.get("/api/v1/messages?content_type=shop.order&object_id=42")) == [
        order_42_str["id"], order_42["id"]
    ]
    assert ids(api.get("/api/v1/messages?content_type=shop.order&object_id=43")) == [
        uuid_obj["id"], order_43["id"]
    ]
    assert ids(api.get("/api/v1/messages?content_type=shop.invoice&object_id=42")) == [invoice_42["id"]]
    assert ids(api.get("/api/v1/messages?content_type=crm.lead&object_id=a1b2-c3")) == [uuid_obj["id"]]
    assert ids(api.get("/api/v1/messages?content_type=crm.lead&object_id=42")) == []


def test_related_object_filter_needs_both_parts(api):
    response = api.get("/api/v1/messages?content_type=shop.order")
    assert response.status_code == 422 and "object_id" in response.json["errors"]


def test_filters_by_tag_recipient_state_template_and_final_state(api):
    a = send(api, tag="a")
    b = send(api, tag="b", recipient="+420777000111")
    api.post("/api/v1/templates", json={"slug": "hello", "body": "Hi {{ who }}"})
    t = api.post("/api/v1/templates/hello/send", json={"recipient": "+420777123456", "context_data": {"who": "x"}}).json
    assert ids(api.get("/api/v1/messages?tag=a")) == [a["id"]]
    assert ids(api.get("/api/v1/messages?recipient=%2B420777000111")) == [b["id"]]
    assert ids(api.get("/api/v1/messages?template_slug=hello")) == [t["id"]]
    assert ids(api.get("/api/v1/messages?state=DEBUG&is_final_state=true")) == [t["id"], b["id"], a["id"]]
    assert ids(api.get("/api/v1/messages?state=READY")) == []
    assert ids(api.get("/api/v1/messages?is_final_state=false")) == []


def test_filters_by_creation_time(api, app_context):
    old, new = send(api), send(api)
    message = db.session.get(DialerMessage, old["id"])
    message.created_at = datetime(2020, 1, 1, 12, tzinfo=timezone.utc)
    db.session.commit()
    assert ids(api.get("/api/v1/messages?created_before=2020-01-02T00:00:00Z")) == [old["id"]]
    assert ids(api.get("/api/v1/messages?created_after=2020-01-02T00:00:00%2B00:00")) == [new["id"]]
    # A time without a zone is UTC; 13:00 in Prague (+01:00) is 12:00 UTC.
    assert ids(api.get("/api/v1/messages?created_after=2020-01-01T12:00:00")) == [new["id"], old["id"]]
    assert ids(api.get("/api/v1/messages?created_after=2020-01-01T13:00:01%2B01:00")) == [new["id"]]


def test_cursor_pagination_walks_every_message_once(api):
    created = [send(api)["id"] for _ in range(7)]
    seen, cursor, pages = [], None, 0
    while True:
        query = "limit=3" + (f"&cursor={cursor}" if cursor else "")
        response = api.get(f"/api/v1/messages?{query}")
        seen += ids(response)
        pages += 1
        cursor = response.json["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(created)) and pages == 3


@pytest.mark.parametrize(
    "query, field",
    [
        ("state=SENT", "state"),
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("cursor=not-a-cursor", "cursor"),
        ("cursor=eyJhZnRlciI6InRleHQifQ", "cursor"),
        ("created_after=yesterday", "created_after"),
        ("is_final_state=perhaps", "is_final_state"),
        ("recipient=12", "recipient"),
        ("stat=ERROR", "stat"),
    ],
)
def test_bad_query_parameters_get_422(api, query, field):
    response = api.get(f"/api/v1/messages?{query}")
    assert response.status_code == 422
    errors = response.json["errors"]
    assert field in errors.get("query", errors)
