"""/metrics after a scripted run of status callbacks to real receivers on loopback: the delivery
counters equal what the receivers got and what the database recorded, and the delivery backlog
gauges equal the outbox as it stands."""
from collections import Counter

import pytest
import requests
from sqlalchemy import select

from service.extensions import db
from service.models import CallbackAttempt, CallbackDelivery, CallbackEndpoint
from tests.conftest import API_KEY
from tests.support.callbacks import Clock, callback_settings, dispatch
from tests.support.metrics import Scrape, difference
from tests.support.receiver import Receiver

TOKEN = "metrics-token-0123456789"
SCHEDULE = (0, 5, 5)  # three attempts, then a dead letter
# Patient timeouts: every receiver here answers at once, but on a loaded machine a delivery past a
# short timeout would (rightly) be retried, and the counts below would no longer be the script's.
PATIENT = {"connect_timeout_seconds": 10.0, "timeout_seconds": 10.0}
MESSAGES = 3
CREATED = ["message.created"]  # one event a message


@pytest.fixture
def app(make_app):
    return make_app(metrics_token=TOKEN, callbacks=callback_settings(retry_schedule=SCHEDULE, **PATIENT))


class Run:
    def __init__(self, base_url: str) -> None:
        self.base_url, self.http = base_url, requests.Session()
        self.http.headers["Authorization"] = f"Bearer {API_KEY}"

    def scrape(self) -> Scrape:
        response = self.http.get(f"{self.base_url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
        assert response.status_code == 200, response.text
        return Scrape(response.text)

    def post(self, path: str, body: dict, method: str = "POST") -> dict:
        response = self.http.request(method, f"{self.base_url}/api/v1{path}", json=body, timeout=10)
        assert response.status_code in (200, 201, 202), response.text
        return response.json()

    def patch(self, path: str, body: dict) -> dict:
        return self.post(path, body, method="PATCH")


def recorded(app):
    """What the database holds: attempts by (endpoint, status code), deliveries by status, endpoints."""
    with app.app_context():
        attempts = db.session.execute(select(CallbackDelivery.endpoint_id, CallbackAttempt.status_code)
                                      .join(CallbackDelivery, CallbackDelivery.id == CallbackAttempt.delivery_id)).all()
        statuses = Counter(db.session.scalars(select(CallbackDelivery.status)))
        disabled = [e.disabled_reason for e in db.session.scalars(select(CallbackEndpoint)) if e.disabled_reason]
        db.session.commit()
    return attempts, statuses, disabled


def test_callback_counters_and_backlog_equal_what_receivers_got_and_the_outbox_holds(app, live_server):
    run, clock = Run(live_server(app)), Clock()
    with Receiver() as good, Receiver(lambda n, r: 500) as broken, Receiver(lambda n, r: 410) as gone:
        endpoints = {name: run.post("/callback-endpoints", {"url": receiver.url, "event_types": CREATED})["id"]
                     for name, receiver in (("good", good), ("broken", broken), ("gone", gone))}
        paused = run.post("/callback-endpoints", {"url": good.url, "event_types": CREATED})["id"]
        before = run.scrape()
        for n in range(MESSAGES):
            run.post("/messages", {"recipient": f"+42077712340{n}", "content": "Hello"})
        run.patch(f"/callback-endpoints/{paused}", {"enabled": False})  # its deliveries wait: the backlog
        for _ in range(len(SCHEDULE)):
            dispatch(app, clock, retry_schedule=SCHEDULE, **PATIENT)
            clock.advance(6)
        after = run.scrape()
        received = {"good": len(good.received), "broken": len(broken.received), "gone": len(gone.received)}

    def delta(name, **labels):
        return difference(before, after, name, **labels)

    attempts, statuses, disabled = recorded(app)
    by_endpoint = Counter(endpoint_id for endpoint_id, _ in attempts)
    assert received == {"good": MESSAGES, "broken": MESSAGES * len(SCHEDULE), "gone": MESSAGES}
    assert {name: by_endpoint[endpoint_id] for name, endpoint_id in endpoints.items()} == received
    assert delta("dialer_callback_deliveries_total", outcome="delivered") == received["good"] == statuses["delivered"]
    assert delta("dialer_callback_deliveries_total", outcome="retrying") == MESSAGES * (len(SCHEDULE) - 1)
    assert delta("dialer_callback_deliveries_total", outcome="failed") == statuses["failed"] == 2 * MESSAGES
    assert delta("dialer_callback_deliveries_total", outcome="unsigned") == 0
    assert delta("dialer_callback_deliveries_total") == len(attempts) == sum(received.values())
    assert delta("dialer_callback_delivery_duration_seconds_count") == len(attempts)
    assert delta("dialer_callback_endpoints_disabled_total", reason="gone") == 1 == len(disabled)
    assert "410 Gone" in disabled[0]

    assert statuses["pending"] == MESSAGES  # the disabled endpoint's
    assert after.labelled("dialer_callback_backlog_deliveries", "status") == {"pending": MESSAGES,
                                                                              "failed": 2 * MESSAGES}
    assert 0 <= after.value("dialer_callback_backlog_oldest_age_seconds") < 60
    assert not before.has("dialer_callback_backlog_oldest_age_seconds")

    with app.app_context():
        dead = db.session.scalars(select(CallbackDelivery.id).where(CallbackDelivery.status == "failed")).first()
        db.session.commit()
    run.post(f"/callback-deliveries/{dead}/retry", {})
    replayed = run.post(f"/callback-endpoints/{endpoints['good']}/replay", {"since": "2000-01-01T00:00:00Z"})
    requeued = run.scrape()
    assert difference(after, requeued, "dialer_callback_deliveries_requeued_total", how="retry") == 1
    assert difference(after, requeued, "dialer_callback_deliveries_requeued_total", how="replay") == \
        replayed["queued"] == MESSAGES
    assert requeued.labelled("dialer_callback_backlog_deliveries", "status") == {"pending": 2 * MESSAGES + 1,
                                                                                 "failed": 2 * MESSAGES - 1}


def test_a_delivery_given_up_unsigned_is_counted_as_such_and_never_sent(app, live_server):
    run = Run(live_server(app))
    with Receiver() as receiver:
        run.post("/messages", {"recipient": "+420777123400", "content": "Hello", "callback_url": receiver.url})
        before = run.scrape()
        report = dispatch(app, signing_secret=None)  # the worker lost DIALER_CALLBACK_SIGNING_SECRET
        after = run.scrape()
    assert report.sent == 0 and receiver.received == []
    _, statuses, _ = recorded(app)
    assert statuses["failed"] >= 1 and statuses["pending"] == 0
    assert difference(before, after, "dialer_callback_deliveries_total", outcome="unsigned") == statuses["failed"]
    assert difference(before, after, "dialer_callback_deliveries_total") == statuses["failed"]
    assert difference(before, after, "dialer_callback_delivery_duration_seconds_count") == 0
