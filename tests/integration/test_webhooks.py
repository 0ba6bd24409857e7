"""POST /webhooks/daktela: authentication, lenient parsing, apply, hint, queue."""
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.dialer import send
from service.extensions import db
from service.models import DialerMessage, DialerMessageEvent, DialerMessageState
from tests.conftest import WEBHOOK_SECRET

S = DialerMessageState
MAPPING = {"statuses_answered_complete": "ANSWERED_COMPLETE", "statuses_declined": "DECLINED"}


@pytest.fixture
def app(daktela_app):
    return daktela_app(webhook_secrets=(WEBHOOK_SECRET, "webhook-secret-2"), states_mapping=MAPPING,
                       timezone="UTC")


@pytest.fixture
def message(app):
    with app.app_context():
        message = send("+420777123456", "Hello")
    assert message.state == S.READY
    return message


def post(client, body=None, secret=WEBHOOK_SECRET, form=False, query=""):
    headers = {"X-Webhook-Secret": secret} if secret else {}
    if form:
        return client.post(f"/webhooks/daktela{query}", data=body, headers=headers)
    return client.post(f"/webhooks/daktela{query}", json=body, headers=headers)


def reload(app, message_id):
    with app.app_context():
        return db.session.get(DialerMessage, message_id)


@pytest.mark.parametrize("secret", [None, "", "wrong", WEBHOOK_SECRET + "x"])
def test_missing_or_wrong_secret_is_401_before_anything_else(app, message, secret):
    response = post(app.test_client(), {"name": f"test_{message.id}", "action": "5", "edited": "2030-01-01 00:00:00"},
                    secret=secret)
    assert response.status_code == 401 and response.json["code"] == 401
    assert reload(app, message.id).state == S.READY


def test_secret_in_the_query_and_rotated_secrets_are_accepted(app, message, caplog):
    import logging

    caplog.set_level(logging.DEBUG)
    client = app.test_client()
    name = f"test_{message.id}"
    assert post(client, {"name": name, "action": "3", "edited": "2030-01-01 00:00:01"}, secret=None,
                query=f"?token={WEBHOOK_SECRET}").status_code == 200
    assert post(client, {"name": name, "action": "4", "edited": "2030-01-01 00:00:02"},
                secret="webhook-secret-2").status_code == 200
    assert post(client, {"name": name}, secret=None, query=f"?token={WEBHOOK_SECRET}x").status_code == 401
    assert reload(app, message.id).state == S.HANGUP
    assert "webhook refused: a wrong secret, from 127.0.0.1" in caplog.text
    assert WEBHOOK_SECRET not in caplog.text and "webhook-secret-2" not in caplog.text


def test_without_configured_secrets_every_webhook_is_refused(daktela_app, caplog):
    app = daktela_app()
    assert "DAKTELA_WEBHOOK_SECRETS is not set" in caplog.text
    response = post(app.test_client(), {"name": "test_1", "action": "5"}, secret="")
    assert response.status_code == 401


def test_json_webhook_with_action_and_edited_is_applied(app, message):
    response = post(app.test_client(), {
        "event": "crecord_update", "name": f"test_{message.id}", "action": "5",
        "statuses": json.dumps([{"name": "statuses_answered_complete", "title": "Listened"}]),
        "call_id": "call_1", "number": "00420777123456", "edited": "2030-01-01 10:00:00", "nextcall": "null",
    })
    assert response.status_code == 200
    assert response.json == {"result": "applied", "message_id": message.id, "state": "ANSWERED_COMPLETE"}
    stored = reload(app, message.id)
    assert stored.is_final_state and stored.extra_sender_data["call_id"] == "call_1"


@pytest.mark.parametrize(
    "statuses",
    [
        ["statuses_declined"],
        [{"name": "statuses_declined"}],
        "statuses_declined,statuses_other",
        '["statuses_declined"]',
        '[{"name": "statuses_declined", "title": "Declined"}]',
        '{"name": "statuses_declined"}',
    ],
)
def test_statuses_in_every_shape(app, message, statuses):
    response = post(app.test_client(), {"name": f"test_{message.id}", "action": 5, "statuses": statuses,
                                        "edited": "2030-01-01 10:00:00"})
    assert response.json["state"] == "DECLINED"


def test_form_encoded_webhook_and_a_record_nested_under_result(app, message):
    client = app.test_client()
    form = post(client, {"name": f"test_{message.id}", "action": "3", "edited": "2030-01-01 10:00:00",
                         "statuses": "", "call_id": "null"}, form=True)
    assert form.status_code == 200 and form.json["state"] == "CALL_IN_PROGRESS"
    nested = post(client, {"result": {"name": f"test_{message.id}", "action": 5, "edited": "2030-01-01 10:00:05",
                                      "statuses": [{"name": "statuses_declined"}]}})
    assert nested.json["state"] == "DECLINED"
    record = post(client, {"record": json.dumps({"name": f"test_{message.id}", "action": "3",
                                                 "edited": "2030-01-01 10:00:09"})})
    assert record.json == {"result": "ignored", "message_id": message.id, "state": "DECLINED"}


def test_duplicate_and_late_webhooks_do_not_move_the_message_back(app, message):
    client = app.test_client()
    name = f"test_{message.id}"
    done = {"name": name, "action": "5", "statuses": ["statuses_declined"], "edited": "2030-01-01 10:00:10"}
    assert post(client, done).json["result"] == "applied"
    assert post(client, done).json["result"] == "ignored"
    late = post(client, {"name": name, "action": "3", "edited": "2030-01-01 10:00:05"})
    assert late.json == {"result": "ignored", "message_id": message.id, "state": "DECLINED"}
    with app.app_context():
        events = db.session.query(DialerMessageEvent).filter_by(dialer_message_id=message.id, source="webhook").all()
        assert [(e.applied, e.note) for e in events] == [
            (True, None), (False, "repeats the last applied observation"),
            (False, "the message is in a final state")]
        assert events[0].payload["statuses"] == ["statuses_declined"]


def test_unknown_record_names_are_accepted_and_dropped(app, message):
    client = app.test_client()
    for name in ("records_5fa299a48ab72834012563", "test_999999", "test_abc", "other_1"):
        response = post(client, {"name": name, "action": "5", "edited": "2030-01-01 10:00:00"})
        assert response.status_code == 202 and response.json == {"result": "unknown record"}


@pytest.mark.parametrize(
    "body, status, field",
    [
        ([1, 2], 400, None),
        ({}, 422, "name"),
        ({"action": "5"}, 422, "name"),
        ({"name": "test_1", "action": "five", "edited": "2030-01-01 10:00:00"}, 422, "action"),
        ({"name": "test_1", "action": "5", "edited": "yesterday"}, 422, "edited"),
    ],
)
def test_malformed_webhooks_get_the_error_envelope(app, message, body, status, field):
    response = post(app.test_client(), body)
    assert response.status_code == status and response.json["code"] == status
    if field:
        assert field in response.json["errors"]
    assert reload(app, message.id).state == S.READY


def test_a_malformed_json_body_is_400(app):
    response = app.test_client().post("/webhooks/daktela", data="{nope", content_type="application/json",
                                      headers={"X-Webhook-Secret": WEBHOOK_SECRET})
    assert response.status_code == 400 and response.json["code"] == 400


def test_a_hint_without_action_fetches_the_record_from_daktela(app, message, simulator):
    simulator.simulator.play_call(f"test_{message.id}", action=5, statuses=["statuses_answered_complete"])
    response = post(app.test_client(), {"name": f"test_{message.id}"})
    assert response.status_code == 200
    assert response.json == {"result": "fetched", "message_id": message.id, "state": "ANSWERED_COMPLETE"}


def test_a_hint_daktela_cannot_answer_is_queued_for_the_poller(app, message, simulator):
    simulator.simulator.inject("500")
    response = post(app.test_client(), {"name": f"test_{message.id}", "action": "null", "edited": ""})
    assert response.status_code == 202 and response.json["result"] == "queued for a status check"
    stored = reload(app, message.id)
    assert stored.needs_status_lookup is True and stored.state == S.READY
    simulator.simulator.play_call(f"test_{message.id}", action=5, statuses=["statuses_declined"])
    result = app.test_cli_runner().invoke(args=["dialer", "check-status"])
    assert result.exit_code == 0, result.output
    stored = reload(app, message.id)
    assert stored.state == S.DECLINED and stored.needs_status_lookup is False


def test_a_webhook_for_a_message_still_being_published_is_queued(app):
    with app.app_context():
        message = DialerMessage(recipient="+420777123456", content="x", state=S.WAITING, extra_data={},
                                extra_sender_data={})
        db.session.add(message)
        db.session.commit()
        message_id = message.id
    response = post(app.test_client(), {"name": f"test_{message_id}", "action": "5", "edited": "2030-01-01 10:00:00"})
    assert response.status_code == 202
    stored = reload(app, message_id)
    assert stored.state == S.WAITING and stored.needs_status_lookup is True


def test_events_endpoint_returns_the_history(app, message, auth):
    client = app.test_client()
    post(client, {"name": f"test_{message.id}", "action": "3", "edited": "2030-01-01 10:00:00"})
    post(client, {"name": f"test_{message.id}", "action": "1", "edited": "2030-01-01 09:00:00"})
    events = client.get(f"/api/v1/messages/{message.id}/events", headers=auth).json["items"]
    assert [(e["source"], e["old_state"], e["new_state"], e["applied"]) for e in events] == [
        ("publish", "WAITING", "READY", True),
        ("webhook", "READY", "CALL_IN_PROGRESS", True),
        ("webhook", "CALL_IN_PROGRESS", "CALL_IN_PROGRESS", False),
    ]
    assert events[2]["note"] == "older than the last applied observation"
    assert WEBHOOK_SECRET not in json.dumps(events)
    assert client.get("/api/v1/messages/99999/events", headers=auth).status_code == 404


def test_the_simulator_pushes_real_webhooks_that_finish_the_message(app, simulator, live_server, auth):
    base_url = live_server(app)
    simulator.simulator.add_hook(f"{base_url}/webhooks/daktela", {"X-Webhook-Secret": WEBHOOK_SECRET})
    client = app.test_client()
    created = client.post("/api/v1/messages", headers=auth, json={"recipient": "+420777123456", "content": "Hi"}).json
    name = f"test_{created['id']}"
    simulator.simulator.play_call(name, action=3)
    simulator.simulator.play_call(name, action=5, statuses=["statuses_answered_complete"])
    import time

    deadline = time.monotonic() + 10
    state = None
    while time.monotonic() < deadline:
        state = client.get(f"/api/v1/messages/{created['id']}", headers=auth).json
        if state["is_final_state"]:
            break
        time.sleep(0.05)
    events = client.get(f"/api/v1/messages/{created['id']}/events", headers=auth).json
    assert state["state"] == "ANSWERED_COMPLETE" and state["is_final_state"] is True, events
    assert simulator.simulator.stats["webhooks"] == 2


def test_a_call_the_simulator_plays_by_itself_keeps_one_call_id_to_its_outcome(app, simulator, live_server, auth):
    base_url = live_server(app)
    simulator.simulator.add_hook(f"{base_url}/webhooks/daktela", {"X-Webhook-Secret": WEBHOOK_SECRET})
    simulator.simulator.autoplay_seconds = 0.2
    client = app.test_client()
    created = client.post("/api/v1/messages", headers=auth, json={"recipient": "+420777123456", "content": "Hi"}).json
    import time

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not client.get(f"/api/v1/messages/{created['id']}",
                                                         headers=auth).json["is_final_state"]:
        time.sleep(0.05)
    events = client.get(f"/api/v1/messages/{created['id']}/events", headers=auth).json["items"]
    pushed = [event for event in events if event["source"] == "webhook"]
    # The simulator pushes from a pool, so under load the two pushes may arrive in either order
    # (the history lists them as they arrived): the outcome is applied whichever comes first, and
    # the ringing only when it comes before it.
    final = client.get(f"/api/v1/messages/{created['id']}", headers=auth).json
    assert sorted(event["payload"]["action"] for event in pushed) == [3, 5], events
    ringing, outcome = sorted(pushed, key=lambda event: event["payload"]["action"])
    assert outcome["applied"] is True and outcome["new_state"] == final["state"] and final["is_final_state"], events
    assert ringing["applied"] is (pushed.index(ringing) < pushed.index(outcome)), events
    assert ringing["payload"]["call_id"] == outcome["payload"]["call_id"] is not None


def test_a_hint_about_a_finished_call_asks_daktela_nothing(app, message, simulator):
    client = app.test_client()
    post(client, {"name": f"test_{message.id}", "action": "5", "edited": "2030-01-01 10:00:00"})
    simulator.simulator.request_log.clear()
    response = post(client, {"name": f"test_{message.id}"})
    assert response.status_code == 200
    assert response.json == {"result": "ignored", "message_id": message.id, "state": "DONE"}
    assert list(simulator.simulator.request_log) == []


webhook_values = st.one_of(
    st.none(), st.booleans(), st.integers(), st.text(max_size=30),
    st.sampled_from(["__ours__", "null", "5", "3", "2030-01-01 10:00:00", "[]", '[{"name": "statuses_declined"}]', "{}", "a,b"]),
    st.lists(st.one_of(st.text(max_size=10), st.fixed_dictionaries({"name": st.text(max_size=10)})), max_size=3),
)
webhook_bodies = st.dictionaries(
    st.sampled_from(["name", "action", "statuses", "edited", "nextcall", "call_id", "result", "record", "event"]),
    webhook_values, max_size=7,
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=webhook_bodies, as_form=st.booleans())
def test_no_webhook_body_gives_a_500(app, message, body, as_form):
    body = dict(body)
    if body.get("name") == "__ours__":
        body["name"] = f"test_{message.id}"
    if as_form:
        body = {key: value for key, value in body.items() if isinstance(value, (str, int)) and not isinstance(value, bool)}
    response = post(app.test_client(), body, form=as_form)
    assert response.status_code in (200, 202, 400, 422), (response.status_code, response.json)
    assert isinstance(response.json, dict)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(action=st.sampled_from(["1", "3", "5", "6", 4, "null"]), second=st.integers(0, 59),
       statuses=st.sampled_from(["", "statuses_declined", '["statuses_answered_complete"]']))
def test_webhooks_about_our_message_never_fail(app, message, action, second, statuses):
    response = post(app.test_client(), {"name": f"test_{message.id}", "action": action, "statuses": statuses,
                                        "edited": f"2030-01-01 10:00:{second:02d}"})
    assert response.status_code in (200, 202), response.json


def test_a_webhook_for_a_message_that_gave_up_before_being_sent_is_ignored(app, simulator):
    simulator.simulator.inject("400_validation")
    with app.app_context():
        message = send("+420777123456", "Hello")
    assert message.state == S.ERROR and message.sent_at is None
    name = f"test_{message.id}"
    hint = post(app.test_client(), {"name": name})
    full = post(app.test_client(), {"name": name, "action": "5", "edited": "2030-01-01 10:00:00"})
    assert hint.status_code == full.status_code == 200
    assert hint.json["result"] == full.json["result"] == "ignored"
    stored = reload(app, message.id)
    assert stored.state == S.ERROR and stored.needs_status_lookup is False


@pytest.mark.parametrize("field", ["call_id", "statuses", "name"])
def test_a_nul_character_in_a_webhook_is_not_an_error(app, message, field):
    """PostgreSQL cannot store NUL in text or JSON: it is dropped like other control noise."""
    body = {"name": f"test_{message.id}", "action": "3", "edited": "2030-01-01 10:00:00",
            "call_id": "call-1", "statuses": "statuses_declined"}
    body[field] = body[field][:5] + "\x00" + body[field][5:]
    response = post(app.test_client(), body)
    assert response.status_code == 200, response.json
    stored = reload(app, message.id)
    assert stored.state == S.DECLINED and stored.extra_sender_data["call_id"] == "call-1"
