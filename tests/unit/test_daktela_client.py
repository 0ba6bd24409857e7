"""The Daktela HTTP client against transport-level fakes (responses)."""
import pytest
import requests
import responses

from service.backends.daktela.client import (
    DaktelaClient,
    DaktelaDuplicateNameError,
    DaktelaNotFoundError,
    DaktelaTransientError,
    DaktelaValidationError,
    parse_retry_after,
    readable_error,
)
from service.backends.daktela.records import parse_record

BASE = "https://acme.daktela.test"
CREATE_URL = f"{BASE}/api/v6/campaignsRecords.json"
TOKEN = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture
def client():
    return DaktelaClient(BASE, TOKEN, timeout=2)


def record(**fields):
    return {"name": "dialer_1", "action": "1", "statuses": [], "edited": "2026-01-01 10:00:00", **fields}


@responses.activate
def test_token_travels_in_the_header_only(client):
    responses.post(CREATE_URL, json={"error": [], "result": record(), "_time": "2026-01-01 10:00:00"}, status=201)
    envelope = client.create_record({"name": "dialer_1"})
    sent = responses.calls[0].request
    assert sent.headers["X-AUTH-TOKEN"] == TOKEN
    assert TOKEN not in sent.url and "accessToken" not in sent.url
    assert envelope.result["name"] == "dialer_1" and envelope.time == "2026-01-01 10:00:00"


@pytest.mark.parametrize("action, expected", [("5", 5), (5, 5), ("1", 1), (None, None), ("", None), ("x", None), (True, None)])
def test_action_as_string_digit_or_integer(action, expected):
    assert parse_record(record(action=action)).action == expected


@pytest.mark.parametrize(
    "statuses, expected",
    [
        ([{"name": "statuses_a", "title": "A"}], ("statuses_a",)),
        (["statuses_a", "statuses_b"], ("statuses_a", "statuses_b")),
        ([], ()), (None, ()), ("statuses_a", ()), ([{"title": "no name"}, 3], ()),
    ],
)
def test_statuses_as_objects_or_names(statuses, expected):
    assert parse_record(record(statuses=statuses)).statuses == expected


@pytest.mark.parametrize(
    "error, text",
    [
        (["Object not exist"], "Object not exist"),
        ("Object not exist", "Object not exist"),
        ({"primary": ["Bad record"], "form": {"number": "Item is mandatory"}}, "Bad record; number: Item is mandatory"),
        ({"form": {"customFields": {"email": ["Invalid"]}}}, "customFields: email: Invalid"),
        ([], ""),
    ],
)
def test_error_shapes_become_one_readable_line(error, text):
    assert readable_error(error) == text


@responses.activate
@pytest.mark.parametrize(
    "status, body, headers, error_class, message",
    [
        (400, {"error": {"form": {"number": ["Invalid phone number"]}}, "result": {}}, {}, DaktelaValidationError, "number: Invalid phone number"),
        (400, {"error": {"form": {"name": ["Record with this name already exists."]}}, "result": {}}, {}, DaktelaDuplicateNameError, "already exists"),
        (400, {"error": "Invalid request", "result": None}, {}, DaktelaValidationError, "Invalid request"),
        (422, {"violations": [{"propertyPath": "number", "message": "bad"}]}, {}, DaktelaValidationError, "number: bad"),
        (400, {}, {}, DaktelaTransientError, "without a readable reason"),
        (400, {"error": [], "result": None}, {}, DaktelaTransientError, "without a readable reason"),
        (401, {"error": ["Invalid token"], "result": None}, {}, DaktelaTransientError, "access token"),
        (403, "", {}, DaktelaTransientError, "access token"),
        (404, {"error": ["Object not exist"], "result": None}, {}, DaktelaNotFoundError, "404"),
        (429, "", {"Retry-After": "7"}, DaktelaTransientError, "429"),
        (500, {"error": ["boom"]}, {}, DaktelaTransientError, "500"),
        (502, "<html>Bad gateway</html>", {}, DaktelaTransientError, "502"),
        (201, "<html>oops</html>", {}, DaktelaTransientError, "unreadable"),
        (201, '{"error": [], "result": {"na', {}, DaktelaTransientError, "unreadable"),
        (201, {"error": [], "result": {"action": "1"}}, {}, DaktelaTransientError, "without a record name"),
        (201, {"error": [], "_time": "x"}, {}, DaktelaTransientError, "unreadable"),
        (200, {"error": ["Something failed"], "result": {"name": "x"}}, {}, DaktelaTransientError, "Something failed"),
    ],
)
def test_failure_classes(client, status, body, headers, error_class, message):
    kwargs = {"json": body} if isinstance(body, dict) else {"body": body}
    responses.post(CREATE_URL, status=status, headers=headers, **kwargs)
    with pytest.raises(error_class) as excinfo:
        client.create_record({"name": "dialer_1"})
    assert message in str(excinfo.value)
    assert TOKEN not in str(excinfo.value)
    if status == 429:
        assert excinfo.value.retry_after == 7


@responses.activate
@pytest.mark.parametrize("exception", [requests.ConnectTimeout(), requests.ReadTimeout(), requests.ConnectionError("refused")])
def test_timeouts_and_connection_errors_are_transient(client, exception):
    responses.post(CREATE_URL, body=exception)
    with pytest.raises(DaktelaTransientError) as excinfo:
        client.create_record({"name": "dialer_1"})
    assert TOKEN not in str(excinfo.value)


def test_retry_after_in_seconds_or_as_a_date():
    assert parse_retry_after("12") == 12
    assert parse_retry_after("-3") == 0
    assert parse_retry_after("999999") == 3600
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


@responses.activate
def test_list_accepts_data_keyed_by_name(client):
    responses.get(CREATE_URL, json={"error": [], "result": {"data": {"a": record(name="a")}, "total": 1}})
    assert [r["name"] for r in client.list_records({}).result["data"]] == ["a"]
