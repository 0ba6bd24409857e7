"""The Daktela simulator follows the reference: envelope, auth, errors, list queries."""
import pytest
import requests

from daktela_simulator.query import nest_params
from tests.conftest import SIMULATOR_TOKEN

RECORDS = "/api/v6/campaignsRecords"


@pytest.fixture
def daktela(simulator):
    session = requests.Session()
    session.headers["X-AUTH-TOKEN"] = SIMULATOR_TOKEN

    def call(method, path, **kwargs):
        return session.request(method, simulator.url + path, timeout=5, **kwargs)

    for index, (number, type_) in enumerate([("001", "a"), ("002", "a"), ("003", "b"), ("004", "b")]):
        call("POST", f"{RECORDS}.json", json={"name": f"rec_{index}", "record_type": type_, "number": number,
                                               "customFields": {"lang": "cs" if index % 2 else "en"}})
    simulator.simulator.play_call("rec_3", action=5, statuses=["statuses_declined"])
    return call


def names(response):
    assert response.status_code == 200, response.text
    return [record["name"] for record in response.json()["result"]["data"]]


def test_create_answers_the_envelope_with_nested_objects(daktela):
    response = daktela("POST", f"{RECORDS}.json", json={"name": "x", "record_type": "tts", "number": "00420777"})
    body = response.json()
    assert response.status_code == 201 and body["error"] == [] and body["_time"]
    record = body["result"]
    assert record["action"] == "1" and record["statuses"] == [] and record["customFields"] == []
    assert record["record_type"]["name"] == "tts" and record["_sys"]["model"] == "campaignsRecords"


def test_statuses_are_objects_and_custom_fields_lists(daktela):
    record = daktela("GET", f"{RECORDS}/rec_3.json").json()["result"]
    assert record["statuses"][0]["name"] == "statuses_declined" and record["statuses"][0]["title"]
    assert record["customFields"] == {"lang": ["cs"]} and record["action"] == "5" and record["call_id"]


def test_auth_by_header_query_or_cookie_and_401_otherwise(simulator, daktela):
    url = simulator.url + f"{RECORDS}/rec_0.json"
    assert requests.get(url, params={"accessToken": SIMULATOR_TOKEN}, timeout=5).status_code == 200
    assert requests.get(url, cookies={"c_user": SIMULATOR_TOKEN}, timeout=5).status_code == 200
    refused = requests.get(url, headers={"X-AUTH-TOKEN": "wrong"}, timeout=5)
    assert refused.status_code == 401 and refused.json()["error"]


def test_unknown_record_is_404_and_duplicate_name_is_400(daktela):
    missing = daktela("GET", f"{RECORDS}/nope.json")
    assert missing.status_code == 404 and missing.json()["error"] == ["Object not exist"]
    duplicate = daktela("POST", f"{RECORDS}.json", json={"name": "rec_0", "record_type": "a"})
    assert duplicate.status_code == 400 and "name" in duplicate.json()["error"]["form"]
    invalid = daktela("POST", f"{RECORDS}.json", json={"name": "new"})
    assert invalid.status_code == 400 and "record_type" in invalid.json()["error"]["form"]


def test_update_and_delete(daktela):
    updated = daktela("PUT", f"{RECORDS}/rec_0.json", json={"action": 3}).json()["result"]
    assert updated["action"] == "3" and updated["edited"] > updated["created"]
    assert daktela("DELETE", f"{RECORDS}/rec_0.json").status_code == 204
    assert daktela("GET", f"{RECORDS}/rec_0.json").status_code == 404


@pytest.mark.parametrize(
    "params, expected",
    [
        ({"filter[field]": "number", "filter[operator]": "eq", "filter[value]": "002"}, ["rec_1"]),
        ({"filter[0][field]": "record_type", "filter[0][operator]": "eq", "filter[0][value]": "b",
          "filter[1][field]": "action", "filter[1][operator]": "eq", "filter[1][value]": "5"}, ["rec_3"]),
        ({"filter[logic]": "or", "filter[filters][0][field]": "name", "filter[filters][0][operator]": "eq",
          "filter[filters][0][value]": "rec_0", "filter[filters][1][logic]": "and",
          "filter[filters][1][filters][0][field]": "number", "filter[filters][1][filters][0][operator]": "gte",
          "filter[filters][1][filters][0][value]": "003"}, ["rec_0", "rec_2", "rec_3"]),
        ({"filter[field]": "name", "filter[operator]": "in", "filter[value][0]": "rec_1",
          "filter[value][1]": "rec_2"}, ["rec_1", "rec_2"]),
        ({"filter[field]": "name", "filter[operator]": "notin", "filter[value][0]": "rec_1"}, ["rec_0", "rec_2", "rec_3"]),
        ({"filter[field]": "name", "filter[operator]": "like", "filter[value]": "rec_%"}, ["rec_0", "rec_1", "rec_2", "rec_3"]),
        ({"filter[field]": "customFields.lang", "filter[operator]": "eq", "filter[value]": "cs"}, ["rec_1", "rec_3"]),
        ({"filter[field]": "call_id", "filter[operator]": "isnotnull"}, ["rec_3"]),
        ({"filter[field]": "call_id", "filter[operator]": "isnull"}, ["rec_0", "rec_1", "rec_2"]),
        ({"filter[field]": "number", "filter[operator]": "startswith", "filter[value]": "00"},
         ["rec_0", "rec_1", "rec_2", "rec_3"]),
        ({"filter[field]": "number", "filter[operator]": "lt", "filter[value]": "2"}, ["rec_0"]),
    ],
)
def test_the_three_filter_encodings_and_operators(daktela, params, expected):
    assert sorted(names(daktela("GET", f"{RECORDS}.json", params=params))) == expected


def test_paging_total_and_sort(daktela):
    page = daktela("GET", f"{RECORDS}.json", params={"skip": 1, "take": 2, "sort[0][field]": "number",
                                                     "sort[0][dir]": "desc"}).json()["result"]
    assert page["total"] == 4 and [r["name"] for r in page["data"]] == ["rec_2", "rec_1"]
    clamped = daktela("GET", f"{RECORDS}.json", params={"take": 5000}).json()["result"]
    assert clamped["total"] == 4 and len(clamped["data"]) == 4


def test_a_query_repeated_for_its_next_page_sees_every_change_made_meanwhile(daktela):
    """The simulator keeps a query's matches for its following pages until a record changes."""
    by_edited = {"sort[0][field]": "edited", "sort[0][dir]": "asc", "sort[1][field]": "name", "take": 2}
    first = names(daktela("GET", f"{RECORDS}.json", params=by_edited))
    daktela("PUT", f"{RECORDS}/{first[0]}.json", json={"action": 3})  # now edited last
    daktela("POST", f"{RECORDS}.json", json={"name": "rec_new", "record_type": "a"})
    daktela("DELETE", f"{RECORDS}/rec_2.json")
    pages = [daktela("GET", f"{RECORDS}.json", params={**by_edited, "skip": skip}).json()["result"]
             for skip in (0, 2, 4)]
    listed = [record["name"] for page in pages for record in page["data"]]
    assert pages[0]["total"] == 4 and "rec_2" not in listed
    assert first == ["rec_0", "rec_1"] and set(listed) == {"rec_0", "rec_1", "rec_3", "rec_new"}
    assert listed.index("rec_0") > listed.index("rec_1")  # edited after it now


def test_unknown_operator_is_400(daktela):
    response = daktela("GET", f"{RECORDS}.json", params={"filter[field]": "name", "filter[operator]": "near"})
    assert response.status_code == 400


def test_bracket_parameters_nest():
    assert nest_params([("filter[0][field]", "a"), ("filter[0][value][]", "x"), ("filter[0][value][]", "y")]) == {
        "filter": {"0": {"field": "a", "value": {"0": "x", "1": "y"}}}
    }
