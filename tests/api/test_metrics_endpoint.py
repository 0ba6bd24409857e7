"""GET /metrics: who may scrape it, HTTP requests counted by route, and the backlog read from the database."""
from datetime import timedelta

import pytest
from sqlalchemy import update

from config import BatchConfig
from service.dialer import send
from service.dialer.backlog import read_backlog
from service.extensions import db
from service.models import DialerMessage, DialerMessageState
from service.models.state_machine import transition
from service.models.types import utcnow
from tests.support.metrics import Scrape, difference

TOKEN = "metrics-token-0123456789"


def scrape(client) -> Scrape:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.data
    return Scrape(response.get_data(as_text=True))


@pytest.fixture
def app(make_app):
    return make_app(metrics_token=TOKEN, batch=BatchConfig(sending=True))


def test_metrics_are_closed_without_the_token(make_app, app):
    closed = make_app().test_client()  # no METRICS_TOKEN and not METRICS_PUBLIC: nobody
    for headers in ({}, {"Authorization": "Bearer "}, {"Authorization": f"Bearer {TOKEN}"}):
        response = closed.get("/metrics", headers=headers)
        assert response.status_code == 401 and response.json["code"] == 401
    client = app.test_client()
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"},
                    {"Authorization": f"Bearer {TOKEN}x"}):
        response = client.get("/metrics", headers=headers)
        assert response.status_code == 401, headers
        assert set(response.json) == {"code", "status", "message"} and TOKEN not in response.get_data(as_text=True)
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain") and "version=" in response.content_type
    assert "# TYPE dialer_http_requests_total counter" in response.get_data(as_text=True)


def test_metrics_public_opens_them_to_anyone(make_app):
    response = make_app(metrics_public=True).test_client().get("/metrics")
    assert response.status_code == 200 and "dialer_backlog_messages" in response.get_data(as_text=True)


def test_requests_are_counted_by_route_method_and_status_never_by_raw_path(app, auth):
    client = app.test_client()
    before = scrape(client)
    client.get("/healthz")
    client.get("/healthz")
    client.get("/api/v1/messages/424242", headers=auth)
    client.get("/nowhere/secret-looking-path")
    client.post("/api/v1/messages", headers=auth, json={"recipient": "+420777123456"})
    after = scrape(client)
    counted = "dialer_http_requests_total"
    assert difference(before, after, counted, route="/healthz", method="GET", status="200") == 2
    [one_message] = [rule.rule for rule in app.url_map.iter_rules() if rule.endpoint == "messages.read_message"]
    assert difference(before, after, counted, route=one_message, method="GET", status="404") == 1
    assert difference(before, after, counted, route="unmatched", method="GET", status="404") == 1
    assert difference(before, after, counted, route="/api/v1/messages", method="POST", status="422") == 1
    # The scrape before this one is counted too, and nothing else happened.
    assert difference(before, after, counted) == 6
    assert difference(before, after, "dialer_http_request_duration_seconds_count", route="/healthz") == 2
    assert "424242" not in after.text and "secret-looking-path" not in after.text


def test_the_backlog_is_every_state_of_the_messages_not_final(app, auth):
    client = app.test_client()
    now = utcnow().replace(microsecond=0)  # the clock read_backlog is given
    with app.app_context():
        ids = [send(f"+42077712345{n}", f"Hello {n}").id for n in range(5)]  # WAITING: batch sending
        moves = {ids[0]: dict(created_at=now - timedelta(seconds=90)),
                 ids[1]: dict(created_at=now - timedelta(seconds=30), state=DialerMessageState.ERROR_RETRY),
                 ids[2]: dict(state=DialerMessageState.READY, sent_at=now - timedelta(seconds=600)),
                 ids[3]: dict(state=DialerMessageState.CALL_IN_PROGRESS, sent_at=now - timedelta(seconds=60)),
                 ids[4]: dict(state=DialerMessageState.ANSWERED_COMPLETE, is_final_state=True,
                              sent_at=now - timedelta(seconds=6000))}
        for message_id, values in moves.items():
            db.session.execute(update(DialerMessage).where(DialerMessage.id == message_id).values(**values))
        db.session.commit()
        backlog = read_backlog(now)
    expected = {state.value: 0 for state in DialerMessageState}
    expected.update(WAITING=1, ERROR_RETRY=1, READY=1, CALL_IN_PROGRESS=1)
    assert backlog.by_state == expected
    assert backlog.oldest_age_seconds == {"unpublished": 90.0, "awaiting_outcome": 600.0}
    scraped = scrape(client)
    assert scraped.labelled("dialer_backlog_messages", "state") == expected
    assert scraped.value("dialer_backlog_readable") == 1
    # Scraped now, after `now`: each message has waited longer since.
    assert scraped.value("dialer_backlog_oldest_age_seconds", stage="awaiting_outcome") >= 600


def test_an_empty_backlog_has_no_oldest_age(app):
    with app.app_context():
        backlog = read_backlog()
    assert set(backlog.by_state.values()) == {0}
    assert backlog.oldest_age_seconds == {"unpublished": None, "awaiting_outcome": None}
    assert not scrape(app.test_client()).has("dialer_backlog_oldest_age_seconds", stage="unpublished")


def test_a_change_of_state_counts_once_its_transaction_commits_and_never_if_rolled_back(app):
    def changes():  # scraped in a context of its own (a request in this one would share its session)
        return scrape(app.test_client()).value("dialer_state_changes_total", from_state="WAITING",
                                               to_state="ERROR_RETRY")

    with app.app_context():
        message_id = send("+420777123456", "Hello").id
    before = changes()
    with app.app_context():
        transition(db.session.get(DialerMessage, message_id), DialerMessageState.ERROR_RETRY, source="publish",
                   error="test")
        db.session.flush()
        db.session.rollback()
    assert changes() == before
    with app.app_context():
        transition(db.session.get(DialerMessage, message_id), DialerMessageState.ERROR_RETRY, source="publish",
                   error="test")
        db.session.commit()
        assert db.session.get(DialerMessage, message_id).state == DialerMessageState.ERROR_RETRY
    assert changes() == before + 1


def test_with_the_database_unreachable_the_counters_are_still_scraped_and_the_backlog_says_unread(
        make_app, daktela_settings, caplog):
    from tests.conftest import WEBHOOK_SECRET

    client = make_app(database_url="sqlite:////nonexistent-directory/dialer.sqlite3", metrics_public=True,
                      sender_backend="daktela", daktela=daktela_settings(webhook_secrets=(WEBHOOK_SECRET,))
                      ).test_client()
    before = Scrape(client.get("/metrics").get_data(as_text=True))
    webhook = client.post("/webhooks/daktela", headers={"X-Webhook-Secret": WEBHOOK_SECRET},
                          json={"name": "test_1", "action": "5", "edited": "2030-01-01 10:00:00"})
    response = client.get("/metrics")
    assert webhook.status_code == 503 and response.status_code == 200
    after = Scrape(response.get_data(as_text=True))
    assert difference(before, after, "dialer_webhooks_received_total", result="failed") == 1
    assert difference(before, after, "dialer_webhooks_received_total") == 1
    assert after.value("dialer_backlog_readable") == 0 and not after.has("dialer_backlog_messages", state="WAITING")
    assert "backlog not read for /metrics: OperationalError" in caplog.text
