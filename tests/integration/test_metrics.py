"""/metrics after a scripted run against the Daktela simulator over real HTTP: sending, publishing,
webhooks and a poll; every counter and gauge scraped equals what happened (the database's history,
the simulator's request log, the poller's report)."""
import time
from collections import Counter

import pytest
import requests
from sqlalchemy import func, select

from config import BatchConfig
from service.dialer.publishing import publish_due_messages
from service.dialer.tracking.poll import check_dialer_status
from service.extensions import db
from service.models import DialerMessage, DialerMessageEvent
from tests.conftest import API_KEY, WEBHOOK_SECRET
from tests.support.metrics import Scrape, difference

TOKEN = "metrics-token-0123456789"
MAPPING = {"statuses_answered_complete": "ANSWERED_COMPLETE", "statuses_declined": "DECLINED"}


@pytest.fixture
def app(make_app, daktela_settings):
    return make_app(sender_backend="daktela", metrics_token=TOKEN, batch=BatchConfig(sending=True),
                    daktela=daktela_settings(webhook_secrets=(WEBHOOK_SECRET,), states_mapping=MAPPING,
                                             timezone="UTC"))


class Run:
    """The scripted run's HTTP side: the API, the webhook and /metrics over loopback."""

    def __init__(self, base_url: str) -> None:
        self.base_url, self.http = base_url, requests.Session()

    def scrape(self) -> Scrape:
        response = self.http.get(f"{self.base_url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
        assert response.status_code == 200, response.text
        return Scrape(response.text)

    def send(self, body: dict) -> requests.Response:
        return self.http.post(f"{self.base_url}/api/v1/messages", json=body, timeout=10,
                              headers={"Authorization": f"Bearer {API_KEY}"})

    def webhook(self, body: dict, secret: str = WEBHOOK_SECRET) -> int:
        return self.http.post(f"{self.base_url}/webhooks/daktela", json=body, timeout=10,
                              headers={"X-Webhook-Secret": secret}).status_code


def wait_for(condition, seconds=10.0):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def history(app):
    """(from, to) of every applied change of state in the database, and the messages not final by state."""
    with app.app_context():
        events = db.session.execute(select(DialerMessageEvent.old_state, DialerMessageEvent.new_state)
                                    .where(DialerMessageEvent.applied.is_(True))).all()
        backlog = dict(db.session.execute(select(DialerMessage.state, func.count())
                                          .where(DialerMessage.is_final_state.is_(False))
                                          .group_by(DialerMessage.state)).all())
        db.session.commit()
    changes = Counter((old or "NONE", new) for old, new in events if old != new)
    return changes, {state.value: count for state, count in backlog.items()}


def daktela_operations(request_log) -> Counter:
    """The simulator's log of what it was asked, as the client's operations."""
    def operation(entry):
        if entry["method"] == "POST":
            return "create_record"
        return "list_records" if entry["path"].endswith("campaignsRecords.json") else "read_record"
    return Counter(operation(entry) for entry in request_log)


def script(app, run, sim):
    """Send 4 messages (and one refused), publish them, finish two calls (one by webhooks,
    one found by the poller), and send webhooks of every kind; the poller's report."""
    ids = [run.send({"recipient": f"+42077712340{n}", "content": f"Hello {n}"}).json()["id"] for n in range(4)]
    assert run.send({"recipient": "+420777123409"}).status_code == 422
    with app.app_context():
        assert publish_due_messages().states == {"READY": 4}
    sim.add_hook(f"{run.base_url}/webhooks/daktela", {"X-Webhook-Secret": WEBHOOK_SECRET})
    first = f"test_{ids[0]}"
    sim.play_call(first, action=3)
    wait_for(lambda: sim.stats["webhooks"] == 1)  # counted once the service has answered it
    sim.play_call(first, action=5, statuses=["statuses_answered_complete"])
    wait_for(lambda: sim.stats["webhooks"] == 2)
    assert run.webhook(sim.webhook_body(sim.get(first))) == 200  # a repeat: ignored
    assert run.webhook({"name": "someone_else_7", "action": "5", "edited": "2030-01-01 10:00:00"}) == 202
    assert run.webhook({"name": first, "action": "5", "edited": "2030-01-01 10:00:00"}, secret="wrong") == 401
    sim.inject("500", method="GET")
    assert run.webhook({"name": f"test_{ids[1]}"}) == 202  # a hint Daktela cannot answer: queued
    sim.webhooks_enabled = False
    sim.play_call(f"test_{ids[2]}", action=5, statuses=["statuses_declined"])
    with app.app_context():
        return check_dialer_status()


def test_a_scripted_run_is_counted_as_it_happened(app, simulator, live_server):
    run, sim = Run(live_server(app)), simulator.simulator
    before = run.scrape()
    report = script(app, run, sim)
    after = run.scrape()

    def delta(name, **labels):
        return difference(before, after, name, **labels)

    with app.app_context():
        assert delta("dialer_messages_created_total") == 4 == db.session.scalar(select(func.count(DialerMessage.id)))
        db.session.commit()
    changes, backlog = history(app)
    assert changes[("WAITING", "READY")] == 4 and changes[("READY", "DECLINED")] == 1
    assert changes[("READY", "CALL_IN_PROGRESS")] == changes[("CALL_IN_PROGRESS", "ANSWERED_COMPLETE")] == 1
    scraped_changes = {(labels["from_state"], labels["to_state"]): value - before.value(name, **labels)
                       for name, labels, value in after.samples if name == "dialer_state_changes_total"}
    assert {change: n for change, n in scraped_changes.items() if n} == dict(changes)

    asked = daktela_operations(sim.request_log)
    assert asked == {"create_record": 4, "list_records": report.requests + 1}
    assert delta("dialer_daktela_requests_total", operation="create_record", outcome="ok") == 4
    assert delta("dialer_daktela_requests_total", operation="list_records", outcome="server_error") == 1
    assert delta("dialer_daktela_requests_total", operation="list_records", outcome="ok") == report.requests
    assert delta("dialer_daktela_requests_total") == sum(asked.values())
    assert delta("dialer_daktela_request_duration_seconds_count") == sum(asked.values())

    webhooks = {result: delta("dialer_webhooks_received_total", result=result)
                for result in ("applied", "ignored", "unknown", "refused", "queued", "fetched", "failed")}
    assert webhooks == {"applied": 2, "ignored": 1, "unknown": 1, "refused": 1, "queued": 1, "fetched": 0, "failed": 0}
    assert delta("dialer_webhooks_received_total") == 6

    assert report.applied == 1 and not report.errors and report.requests >= 2
    assert delta("dialer_poll_runs_total", outcome="ok") == 1 and delta("dialer_poll_runs_total") == 1
    assert delta("dialer_poll_provider_requests_total") == report.requests
    assert delta("dialer_poll_records_seen_total") == report.records_seen
    assert delta("dialer_poll_changes_applied_total") == 1
    assert delta("dialer_poll_duration_seconds_count") == 1

    assert backlog == {"READY": 2}
    assert {state: n for state, n in after.labelled("dialer_backlog_messages", "state").items() if n} == backlog
    assert not after.has("dialer_backlog_oldest_age_seconds", stage="unpublished")
    assert 0 <= after.value("dialer_backlog_oldest_age_seconds", stage="awaiting_outcome") < 60

    http = "dialer_http_requests_total"
    assert delta(http, route="/api/v1/messages", method="POST", status="201") == 4
    assert delta(http, route="/api/v1/messages", method="POST", status="422") == 1
    assert delta(http, route="/webhooks/daktela", status="200") == 3
    assert delta(http, route="/webhooks/daktela", status="202") == 2
    assert delta(http, route="/webhooks/daktela", status="401") == 1
    assert delta(http, route="/metrics", status="200") == 1  # the scrape before
    assert delta(http) == 12
