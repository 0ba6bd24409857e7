"""/api/v1/templates: CRUD, preview, send, and the custom template model."""
import pytest

from service.extensions import db
from service.models import DialerMessage
from tests.support.db import count_rows

TEMPLATE = {"slug": "payment-due", "body": "Hello {{ name }}, please pay {{ amount }} CZK."}
RECIPIENT = "+420777123456"


@pytest.fixture
def template(api):
    response = api.post("/api/v1/templates", json=TEMPLATE)
    assert response.status_code == 201, response.json
    return response.json


def test_create_read_list_update_delete(api, template):
    assert template["slug"] == "payment-due" and template["is_active"] is True
    assert api.get("/api/v1/templates/payment-due").json == template
    listed = api.get("/api/v1/templates").json
    assert listed == {"items": [template], "next_cursor": None}
    updated = api.put("/api/v1/templates/payment-due", json={"body": "Pay {{ amount }}.", "is_active": False})
    assert updated.status_code == 200
    assert updated.json["body"] == "Pay {{ amount }}." and updated.json["is_active"] is False
    assert api.delete("/api/v1/templates/payment-due").status_code == 204
    assert api.get("/api/v1/templates/payment-due").status_code == 404


def test_template_list_is_paginated(api):
    for index in range(5):
        assert api.post("/api/v1/templates", json={"slug": f"t{index}", "body": "x"}).status_code == 201
    first = api.get("/api/v1/templates?limit=3").json
    second = api.get(f"/api/v1/templates?limit=3&cursor={first['next_cursor']}").json
    assert [t["slug"] for t in first["items"] + second["items"]] == ["t0", "t1", "t2", "t3", "t4"]
    assert second["next_cursor"] is None


def test_duplicate_slug_is_409(api, template):
    response = api.post("/api/v1/templates", json=TEMPLATE)
    assert response.status_code == 409 and response.json["errors"] == {"slug": ["Already exists."]}


@pytest.mark.parametrize(
    "payload, field",
    [
        ({**TEMPLATE, "body": "Hello {{ name "}, "body"),
        ({**TEMPLATE, "body": "{% for x in y %}"}, "body"),
        ({**TEMPLATE, "body": ""}, "body"),
        ({**TEMPLATE, "slug": "Has Spaces"}, "slug"),
        ({**TEMPLATE, "slug": ""}, "slug"),
        ({**TEMPLATE, "extra": 1}, "extra"),
        ({"slug": "x"}, "body"),
    ],
)
def test_invalid_template_is_422_and_not_stored(api, app_context, payload, field):
    response = api.post("/api/v1/templates", json=payload)
    assert response.status_code == 422
    errors = response.json["errors"]
    assert field in errors.get("json", errors)
    assert api.get("/api/v1/templates").json["items"] == []


def test_syntax_error_on_update_keeps_the_old_body(api, template):
    response = api.put("/api/v1/templates/payment-due", json={"body": "{{ broken"})
    assert response.status_code == 422 and "line 1" in response.json["errors"]["body"][0]
    assert api.get("/api/v1/templates/payment-due").json["body"] == TEMPLATE["body"]


def test_unknown_slug_is_404_on_every_route(api, app_context):
    assert api.get("/api/v1/templates/nope").status_code == 404
    assert api.put("/api/v1/templates/nope", json={"body": "x"}).status_code == 404
    assert api.delete("/api/v1/templates/nope").status_code == 404
    assert api.post("/api/v1/templates/nope/preview", json={}).status_code == 404
    response = api.post("/api/v1/templates/nope/send", json={"recipient": RECIPIENT})
    assert response.status_code == 404 and response.json["code"] == 404
    assert count_rows() == 0


def test_preview_renders_without_sending(api, app_context, template):
    response = api.post("/api/v1/templates/payment-due/preview", json={"context_data": {"name": "Jana", "amount": 120}})
    assert response.json == {"content": "Hello Jana, please pay 120 CZK."}
    assert count_rows() == 0


def test_missing_variable_is_a_clear_error_never_empty_text(api, app_context, template):
    for path in ("preview", "send"):
        response = api.post(
            f"/api/v1/templates/payment-due/{path}",
            json={"recipient": RECIPIENT, "context_data": {"name": "Jana"}} if path == "send"
            else {"context_data": {"name": "Jana"}},
        )
        assert response.status_code == 422
        assert response.json["errors"] == {"context_data": ["missing template variable: 'amount' is undefined"]}
    assert count_rows() == 0


def test_send_template_stores_slug_template_and_rendered_content(api, app_context, template):
    response = api.post(
        "/api/v1/templates/payment-due/send",
        json={"recipient": RECIPIENT, "context_data": {"name": "Jana", "amount": 120}, "tag": "dues",
              "extra_data": {"invoice": "F1"}, "related_objects": [{"content_type": "billing.invoice", "object_id": "F1"}]},
    )
    assert response.status_code == 201, response.json
    body = response.json
    assert body["content"] == "Hello Jana, please pay 120 CZK."
    assert body["template_slug"] == "payment-due" and body["template_id"] == template["id"]
    assert body["tag"] == "dues" and body["extra_data"] == {"invoice": "F1"}
    assert body["related_objects"] == [{"content_type": "billing.invoice", "object_id": "F1"}]


def test_deleting_a_template_keeps_its_messages_and_slug(api, app_context, template):
    sent = api.post("/api/v1/templates/payment-due/send",
                    json={"recipient": RECIPIENT, "context_data": {"name": "J", "amount": 1}}).json
    assert api.delete("/api/v1/templates/payment-due").status_code == 204
    message = db.session.get(DialerMessage, sent["id"])
    db.session.refresh(message)
    assert message.template_id is None and message.template_slug == "payment-due"


def test_inactive_template_cannot_be_sent(api, app_context, template):
    api.put("/api/v1/templates/payment-due", json={"body": TEMPLATE["body"], "is_active": False})
    response = api.post("/api/v1/templates/payment-due/send",
                        json={"recipient": RECIPIENT, "context_data": {"name": "J", "amount": 1}})
    assert response.status_code == 422
    assert response.json["message"] == "This template cannot be sent to this recipient now."
    assert count_rows() == 0


def test_send_template_validates_recipient_and_fields(api, app_context, template):
    response = api.post("/api/v1/templates/payment-due/send",
                        json={"recipient": "123", "context_data": [], "bogus": True})
    assert response.status_code == 422
    assert set(response.json["errors"]["json"]) == {"recipient", "context_data", "bogus"}
    assert count_rows() == 0


def test_custom_template_model_overrides_can_send_and_get_body(make_app, auth, app_context):
    client = make_app(template_model="tests.support.templates.SlovakNumbersRefusedTemplate").test_client()
    client.post("/api/v1/templates", headers=auth, json={"slug": "shout", "body": "hi {{ n }}"})
    czech = client.post("/api/v1/templates/shout/send", headers=auth,
                        json={"recipient": RECIPIENT, "context_data": {"n": 1}})
    assert czech.status_code == 201 and czech.json["content"] == "Notice: hi 1"
    slovak = client.post("/api/v1/templates/shout/send", headers=auth,
                         json={"recipient": "+421905123456", "context_data": {"n": 1}})
    assert slovak.status_code == 422
    assert count_rows() == 1
