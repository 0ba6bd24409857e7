"""What the metrics count, read back from this process's registry: Daktela requests by operation
and outcome (the client against transport-level fakes), changes of state, and the JSON log format."""
import json
import logging

import pytest
import requests
import responses
from prometheus_client import REGISTRY

from service import metrics
from service.backends.daktela.client import DaktelaClient, DaktelaError
from service.log_format import json_formatter
from service.models.states import DialerMessageState

BASE = "https://acme.daktela.test"
RECORDS = f"{BASE}/api/v6/campaignsRecords.json"
READ = f"{BASE}/api/v6/campaignsRecords/dialer_1.json"


def counted(operation: str, outcome: str) -> float:
    return REGISTRY.get_sample_value("dialer_daktela_requests_total",
                                     {"operation": operation, "outcome": outcome}) or 0.0


def duplicate():
    return {"error": {"form": {"name": ["This name is already used."]}}, "result": None}


@pytest.mark.parametrize("call, url, answer, outcome", [
    ("create", RECORDS, dict(status=201, json={"error": [], "result": {"name": "dialer_1"}}), "ok"),
    ("create", RECORDS, dict(status=400, json=duplicate()), "duplicate_name"),
    ("create", RECORDS, dict(status=400, json={"error": {"form": {"number": ["Invalid."]}}}), "refused"),
    ("create", RECORDS, dict(status=429, json={"error": ["Slow down"]}), "rate_limited"),
    ("create", RECORDS, dict(status=401, json={"error": ["Bad token"]}), "unauthorized"),
    ("create", RECORDS, dict(status=502, body="<html>Bad gateway</html>"), "server_error"),
    ("create", RECORDS, dict(status=201, json={"error": [], "result": {"no": "name"}}), "unreadable"),
    ("create", RECORDS, dict(body=requests.ConnectTimeout()), "timeout"),
    ("create", RECORDS, dict(body=requests.ConnectionError()), "unreachable"),
    ("read", READ, dict(status=404, json={"error": ["Not found"], "result": None}), "not_found"),
    ("list", RECORDS, dict(status=200, json={"error": [], "result": {"nothing": []}}), "unreadable"),
    ("list", RECORDS, dict(status=200, json={"error": [], "result": {"data": [], "total": 0}}), "ok"),
])
@responses.activate
def test_each_daktela_request_is_counted_once_by_operation_and_outcome(call, url, answer, outcome):
    client = DaktelaClient(BASE, "token", timeout=2)
    method = responses.POST if call == "create" else responses.GET
    responses.add(method, url, **answer)
    operation = {"create": "create_record", "read": "read_record", "list": "list_records"}[call]
    before = {name: counted(operation, name) for name in (outcome, "ok")}
    calls = {"create": lambda: client.create_record({"name": "dialer_1"}),
             "read": lambda: client.read_record("dialer_1"), "list": lambda: client.list_records({})}
    try:
        calls[call]()
    except DaktelaError:
        assert outcome != "ok"
    assert counted(operation, outcome) - before[outcome] == 1
    if outcome != "ok":
        assert counted(operation, "ok") == before["ok"]


def test_a_state_kept_is_not_counted_as_a_change():
    def value(old, new):
        return REGISTRY.get_sample_value("dialer_state_changes_total", {"from_state": old, "to_state": new}) or 0.0

    before = value("READY", "READY"), value("READY", "DONE"), value("NONE", "WAITING")
    metrics.state_changed(DialerMessageState.READY, DialerMessageState.READY)
    metrics.state_changed(DialerMessageState.READY, DialerMessageState.DONE)
    metrics.state_changed(None, "WAITING")
    assert (value("READY", "READY"), value("READY", "DONE") - before[1], value("NONE", "WAITING") - before[2]) \
        == (before[0], 1, 1)


def test_unknown_webhook_results_and_methods_cannot_grow_the_label_sets():
    metrics.webhook_received("something new")
    results = {labels["result"] for name, labels, _ in
               ((s.name, s.labels, s.value) for f in REGISTRY.collect() for s in f.samples)
               if name == "dialer_webhooks_received_total"}
    assert results == {"applied", "ignored", "unknown", "refused", "queued", "fetched", "failed", "other"}


def test_the_json_log_format_is_one_object_with_the_request_id():
    record = logging.LogRecord("service.api", logging.WARNING, __file__, 1, "webhook refused: %s secret", ("a wrong",),
                               None)
    record.request_id = "trace-1"
    line = json_formatter().format(record)
    assert "\n" not in line
    assert json.loads(line) == {"time": json.loads(line)["time"], "level": "WARNING", "logger": "service.api",
                                "request_id": "trace-1", "message": "webhook refused: a wrong secret"}
