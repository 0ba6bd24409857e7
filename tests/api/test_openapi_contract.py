"""The API description and the behaviour agree: routes outside /api/v1, object_id,
booleans, the recipient filter, and examples that call no one."""
import phonenumbers
import pytest
from openapi_spec_validator import validate


@pytest.fixture
def spec(client):
    document = client.get("/api/openapi.json").json
    validate(document)
    return document


def send(api, **fields):
    response = api.post("/api/v1/messages", json={"recipient": "+420777123456", "content": "Hi", **fields})
    assert response.status_code == 201, response.json
    return response.json


def test_probes_and_the_webhook_are_described_with_their_own_authentication(spec):
    assert spec["paths"]["/healthz"]["get"]["security"] == []
    assert spec["paths"]["/readyz"]["get"]["security"] == []
    assert set(spec["paths"]["/readyz"]["get"]["responses"]) >= {"200", "503"}
    webhook = spec["paths"]["/webhooks/daktela"]["post"]
    assert webhook["security"] == [{"webhookSecret": []}]
    assert spec["components"]["securitySchemes"]["webhookSecret"] == {
        "type": "apiKey", "in": "header", "name": "X-Webhook-Secret", "description": "DAKTELA_WEBHOOK_SECRETS"}
    body = webhook["requestBody"]["content"]
    assert set(body) == {"application/json", "application/x-www-form-urlencoded"}
    assert {"200", "202", "401", "503"} <= set(webhook["responses"])


def test_object_id_is_described_as_a_string_or_an_integer(spec):
    expected = [{"type": "string", "minLength": 1, "maxLength": 255}, {"type": "integer"}]
    schemas = spec["components"]["schemas"]
    assert schemas["RelatedObject"]["properties"]["object_id"]["oneOf"] == expected
    assert schemas["RelatedObjectResult"]["properties"]["object_id"]["oneOf"] == expected


def test_object_id_comes_back_as_it_was_given(api):
    given = [{"content_type": "shop.order", "object_id": 42}, {"content_type": "shop.invoice", "object_id": "42"},
             {"content_type": "crm.lead", "object_id": "a1b2-c3"}, {"content_type": "big", "object_id": 2**70}]
    created = send(api, related_objects=given)
    assert created["related_objects"] == given
    assert api.get(f"/api/v1/messages/{created['id']}").json["related_objects"] == given
    listed = api.get("/api/v1/messages", query_string={"content_type": "shop.order", "object_id": "42"}).json
    assert listed["items"][0]["related_objects"] == given


def test_the_python_api_keeps_an_integer_object_id(app_context):
    from service.dialer import send as send_message
    from service.dialer.messages import get_message
    from service.schemas.messages import MessageSchema

    message = send_message("+420777123456", "Hi", related_objects=[{"content_type": "shop.order", "object_id": 7},
                                                                  {"content_type": "shop.order", "object_id": "8"}])
    dumped = MessageSchema().dump(get_message(message.id))
    assert dumped["related_objects"] == [{"content_type": "shop.order", "object_id": 7},
                                         {"content_type": "shop.order", "object_id": "8"}]


@pytest.mark.parametrize("value", [1, 0, "true", "yes", None])
def test_a_boolean_field_takes_only_true_or_false(api, value):
    message = api.post("/api/v1/messages", json={"recipient": "+420777123456", "content": "Hi", "is_autodialer": value})
    assert message.status_code == 422 and "is_autodialer" in message.json["errors"]["json"]
    template = api.post("/api/v1/templates", json={"slug": "t", "body": "Hi", "is_active": value})
    assert template.status_code == 422 and "is_active" in template.json["errors"]["json"]


def test_json_booleans_are_accepted(api):
    assert send(api, is_autodialer=False)["is_autodialer"] is False
    created = api.post("/api/v1/templates", json={"slug": "t", "body": "Hi", "is_active": False})
    assert created.json["is_active"] is False
    assert api.put("/api/v1/templates/t", json={"body": "Hi", "is_active": True}).json["is_active"] is True


@pytest.mark.parametrize("value", ["1", "0", "yes", "True", ""])
def test_a_boolean_filter_takes_only_true_or_false(api, value):
    response = api.get("/api/v1/messages", query_string={"is_final_state": value})
    assert response.status_code == 422
    assert response.json["errors"]["query"]["is_final_state"] == ["Must be true or false."]


def test_boolean_filters_true_and_false(api, spec):
    final = send(api)  # the dummy backend makes it DEBUG, a final state
    assert [item["id"] for item in api.get("/api/v1/messages?is_final_state=true").json["items"]] == [final["id"]]
    assert api.get("/api/v1/messages?is_final_state=false").json["items"] == []
    parameter = next(p for p in spec["paths"]["/api/v1/messages"]["get"]["parameters"] if p["name"] == "is_final_state")
    assert parameter["schema"] == {"type": "boolean"}


def test_an_empty_recipient_filter_is_refused_as_described(api, spec):
    parameter = next(p for p in spec["paths"]["/api/v1/messages"]["get"]["parameters"] if p["name"] == "recipient")
    assert parameter["schema"]["minLength"] == 1 and "empty value is refused (422)" in parameter["description"]
    response = api.get("/api/v1/messages?recipient=")
    assert response.status_code == 422
    assert response.json["errors"] == {"query": {"recipient": ["Enter a phone number."]}}


def _examples(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "example":
                yield value
            yield from _examples(value)
    elif isinstance(node, list):
        for item in node:
            yield from _examples(item)


def test_no_example_is_a_number_anyone_has(spec, api):
    phone_like = [value for value in _examples(spec) if isinstance(value, str) and value.startswith("+")]
    assert phone_like, "no phone number examples found"
    for value in phone_like:
        assert not phonenumbers.is_valid_number(phonenumbers.parse(value)), value
        # "Try it out" with the example: refused, so no call is placed.
        response = api.post("/api/v1/messages", json={"recipient": value, "content": "Hi"})
        assert response.status_code == 422, value
