"""send_at, valid_until, calling hours, the recipient's daily limit and refused number types,
through the HTTP API with a clock the test moves (the dummy backend publishes as DEBUG)."""
from datetime import datetime, timedelta, timezone

import phonenumbers
import pytest

from config import TimingConfig
from service.dialer.publishing import publish_due_messages
from tests.support.clock import ManualClock

RECIPIENT = "+420777123456"
MONDAY_NOON = datetime(2026, 12, 7, 11, 0, tzinfo=timezone.utc)  # 12:00 in Prague


@pytest.fixture
def timed(make_app, auth):
    """(client, clock, publish) for an app with the given timing settings."""

    def make(**timing):
        app = make_app(timing=TimingConfig(**timing))
        clock = ManualClock(MONDAY_NOON).install(app)
        client = app.test_client()

        def publish():
            with app.app_context():
                return publish_due_messages()

        def send(**fields):
            return client.post("/api/v1/messages", headers=auth,
                               json={"recipient": RECIPIENT, "content": "Hello.", **fields})

        def get(message_id, suffix=""):
            return client.get(f"/api/v1/messages/{message_id}{suffix}", headers=auth).json

        return clock, send, get, publish

    return make


def test_a_message_with_send_at_is_scheduled_and_published_no_earlier(timed):
    clock, send, get, publish = timed()
    at = MONDAY_NOON + timedelta(minutes=1)
    body = send(send_at=at.isoformat()).json
    assert body["state"] == "SCHEDULED" and body["scheduled_until"] == at.isoformat()
    assert body["send_at"] == at.isoformat() and body["number_of_send_attempts"] == 0
    clock.advance(seconds=59)
    assert publish().claimed == 0
    clock.advance(seconds=1)
    assert publish().claimed == 1
    assert get(body["id"])["state"] == "DEBUG"
    events = get(body["id"], "/events")["items"]
    assert [(e["source"], e["new_state"]) for e in events] == [("schedule", "SCHEDULED"), ("publish", "DEBUG")]
    assert events[0]["payload"] == {"reason": "send_at", "until": at.isoformat()}


def test_send_at_with_an_offset_is_read_in_utc(timed):
    _, send, _, _ = timed()
    body = send(send_at="2026-12-07T13:30:00+01:00").json
    assert body["send_at"] == "2026-12-07T12:30:00+00:00" and body["state"] == "SCHEDULED"


def test_outside_the_calling_hours_a_message_waits_for_the_recipients_next_opening(timed):
    clock, send, get, publish = timed(calling_hours="mon-fri 08:00-20:00")
    clock.set(datetime(2026, 12, 11, 19, 30, tzinfo=timezone.utc))  # Friday 20:30 in Prague
    body = send().json
    monday_eight = datetime(2026, 12, 14, 7, 0, tzinfo=timezone.utc)
    assert body["state"] == "SCHEDULED" and body["scheduled_until"] == monday_eight.isoformat()
    assert "outside the calling hours" in body["schedule_note"]
    clock.set(monday_eight - timedelta(seconds=1))
    assert publish().claimed == 0
    clock.set(monday_eight)
    assert publish().claimed == 1 and get(body["id"])["state"] == "DEBUG"


def test_a_messages_own_calling_hours_override_the_setting(timed):
    _, send, _, _ = timed(calling_hours="mon-fri 08:00-20:00")
    body = send(calling_hours="sat 10:00-11:00").json
    assert body["state"] == "SCHEDULED" and body["calling_hours"] == "sat 10:00-11:00"
    assert body["scheduled_until"] == "2026-12-12T09:00:00+00:00"


def test_a_public_holiday_defers_to_the_next_working_day_and_says_why(timed):
    clock, send, get, _ = timed(calling_hours="mon-fri 08:00-20:00", skip_public_holidays=True)
    clock.set(datetime(2026, 12, 24, 10, 0, tzinfo=timezone.utc))
    body = send().json
    assert body["scheduled_until"] == "2026-12-28T07:00:00+00:00"
    events = get(body["id"], "/events")["items"]
    assert events[-1]["payload"]["reason"] == "public_holiday" and "CZ" in events[-1]["note"]


def test_a_message_not_published_before_valid_until_expires_with_a_reason(timed):
    clock, send, get, publish = timed(calling_hours="mon-fri 08:00-20:00")
    clock.set(datetime(2026, 12, 11, 19, 30, tzinfo=timezone.utc))  # Friday evening
    until = datetime(2026, 12, 12, 12, 0, tzinfo=timezone.utc)
    body = send(valid_until=until.isoformat()).json
    # It would wait for Monday, but wakes at valid_until to expire.
    assert body["state"] == "SCHEDULED" and body["scheduled_until"] == until.isoformat()
    clock.set(until)
    assert publish().claimed == 1
    expired = get(body["id"])
    assert expired["state"] == "EXPIRED" and expired["is_final_state"] is True
    assert "valid_until" in expired["error"]


def test_the_default_validity_applies_from_send_at(timed):
    _, send, _, _ = timed(default_validity_hours=2)
    body = send(send_at="2026-12-08T09:00:00Z").json
    assert body["valid_until"] == "2026-12-08T11:00:00+00:00"


@pytest.mark.parametrize("fields, name", [
    ({"valid_until": "2026-12-07T10:00:00Z"}, "valid_until"),
    ({"send_at": "2026-12-08T10:00:00Z", "valid_until": "2026-12-08T09:00:00Z"}, "valid_until"),
    ({"send_at": "2029-01-01T00:00:00Z"}, "send_at"),
    ({"calling_hours": "whenever"}, "calling_hours"),
    ({"send_at": "tomorrow"}, "send_at"),
])
def test_bad_timing_fields_are_refused_and_nothing_is_stored(timed, fields, name):
    _, send, _, publish = timed()
    response = send(**fields)
    assert response.status_code == 422 and name in _field_errors(response)
    assert publish().claimed == 0


def test_the_recipient_daily_limit_holds_the_extra_message_until_the_window_allows_it(timed):
    clock, send, get, publish = timed(recipient_daily_limit=2)
    first = send().json
    clock.advance(hours=1)
    assert send().json["state"] == "DEBUG"
    clock.advance(hours=1)
    third = send().json
    assert third["state"] == "SCHEDULED" and "limit of 2 messages" in third["schedule_note"]
    assert third["scheduled_until"] == (MONDAY_NOON + timedelta(hours=24)).isoformat()
    assert first["state"] == "DEBUG"
    clock.set(MONDAY_NOON + timedelta(hours=24) - timedelta(seconds=1))
    assert publish().claimed == 0
    clock.set(MONDAY_NOON + timedelta(hours=24))
    assert publish().claimed == 1 and get(third["id"])["state"] == "DEBUG"


def test_the_daily_limit_counts_each_recipient_apart(timed):
    _, send, _, _ = timed(recipient_daily_limit=1)
    assert send().json["state"] == "DEBUG"
    assert send(recipient="+420777123457").json["state"] == "DEBUG"
    assert send().json["state"] == "SCHEDULED"


def _field_errors(response):
    """Field errors of a 422: the schema's under `json`, the service's at the top."""
    errors = response.json["errors"]
    return errors.get("json", errors)


REFUSED_TYPES = ("PREMIUM_RATE", "SHARED_COST", "PAGER", "UAN", "VOICEMAIL", "TOLL_FREE")


def _example(type_name):
    kind = getattr(phonenumbers.PhoneNumberType, type_name)
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        number = phonenumbers.example_number_for_type(region, kind)
        if number is not None and phonenumbers.number_type(number) == kind:
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    raise AssertionError(f"no example number of type {type_name}")


@pytest.mark.parametrize("type_name", REFUSED_TYPES)
def test_every_refused_number_type_is_a_422_naming_the_type(timed, type_name):
    _, send, _, publish = timed()
    response = send(recipient=_example(type_name))
    assert response.status_code == 422
    assert _field_errors(response)["recipient"] == [
        f"Numbers of type {type_name} are not called (DIALER_ALLOWED_NUMBER_TYPES)."]
    assert publish().claimed == 0


def test_an_allowed_type_can_be_added(timed):
    _, send, _, _ = timed(allowed_number_types=frozenset({"MOBILE", "TOLL_FREE"}))
    assert send(recipient=_example("TOLL_FREE")).status_code == 201
    assert send(recipient=_example("FIXED_LINE")).status_code == 422



def test_bulk_and_template_sends_take_the_timing_fields(make_app, auth):
    app = make_app()
    ManualClock(MONDAY_NOON).install(app)
    client = app.test_client()
    at = (MONDAY_NOON + timedelta(hours=2)).isoformat()
    bulk = client.post("/api/v1/messages/bulk", headers=auth, json={
        "recipients": [RECIPIENT, "+420777123457"], "content": "Hi.", "send_at": at, "calling_hours": "mon 08:00-20:00"})
    assert [(m["state"], m["scheduled_until"], m["calling_hours"]) for m in bulk.json["items"]] == [
        ("SCHEDULED", at, "mon 08:00-20:00")] * 2
    assert client.post("/api/v1/templates", headers=auth, json={"slug": "due", "body": "Pay {{ n }}."}).status_code == 201
    sent = client.post("/api/v1/templates/due/send", headers=auth, json={
        "recipient": RECIPIENT, "context_data": {"n": 5}, "send_at": at, "valid_until": "2026-12-07T18:00:00Z"})
    assert sent.status_code == 201
    assert (sent.json["state"], sent.json["content"], sent.json["valid_until"]) == (
        "SCHEDULED", "Pay 5.", "2026-12-07T18:00:00+00:00")


def test_at_an_opening_scheduled_messages_are_published_in_priority_order(make_app, auth):
    from config import BatchConfig

    app = make_app(batch=BatchConfig(size=1))
    clock = ManualClock(MONDAY_NOON).install(app)
    client = app.test_client()
    at = (MONDAY_NOON + timedelta(hours=1)).isoformat()
    ids = {priority: client.post("/api/v1/messages", headers=auth, json={
        "recipient": RECIPIENT, "content": "Hi.", "priority": priority, "send_at": at}).json["id"]
        for priority in (3, 1, 2)}
    clock.advance(hours=1)
    states = []
    for _ in range(3):
        with app.app_context():
            assert publish_due_messages(max_batches=1).claimed == 1
        states.append({p: client.get(f"/api/v1/messages/{i}", headers=auth).json["state"] for p, i in ids.items()})
    assert [sorted(p for p, s in row.items() if s == "DEBUG") for row in states] == [[1], [1, 2], [1, 2, 3]]
