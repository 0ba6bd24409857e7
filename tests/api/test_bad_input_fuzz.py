"""No body of any shape gives a 500 or stores a half-made message."""
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.db import stored_counts

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
message_bodies = st.fixed_dictionaries(
    {},
    optional={
        "recipient": st.one_of(json_values, st.just("+420777123456")),
        "recipients": st.one_of(json_values, st.lists(st.just("+420777123456"), max_size=2)),
        "content": st.one_of(json_values, st.just("Hi")),
        "context_data": json_values,
        "related_objects": st.one_of(json_values, st.lists(st.fixed_dictionaries(
            {"content_type": json_values, "object_id": json_values}), max_size=2)),
        "priority": json_values,
        "tag": json_values,
        "extra_data": json_values,
        "is_autodialer": json_values,
    },
) | json_values

ROUTES = ["/api/v1/messages", "/api/v1/messages/bulk", "/api/v1/templates/greet/send",
          "/api/v1/templates/greet/preview", "/api/v1/templates"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(route=st.sampled_from(ROUTES), body=message_bodies)
def test_any_json_body_gets_a_4xx_or_a_complete_message(api, app_context, route, body):
    if route.startswith("/api/v1/templates/greet"):
        api.post("/api/v1/templates", json={"slug": "greet", "body": "Hi {{ name }}"})
    before = stored_counts()
    response = api.post(route, data=json.dumps(body), content_type="application/json")
    assert response.status_code in (200, 201, 404, 409, 422), (response.status_code, response.json)
    if response.status_code >= 400:
        assert {"code", "status", "message"} <= set(response.json)
        after = stored_counts()
        assert after["messages"] == before["messages"] and after["related"] == before["related"]
    elif "state" in response.json:
        assert response.json["state"] == "DEBUG"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=64))
def test_any_raw_bytes_get_400_or_422(api, app_context, raw):
    response = api.post("/api/v1/messages", data=raw, content_type="application/json")
    assert response.status_code in (400, 422)
    assert response.json["code"] == response.status_code
