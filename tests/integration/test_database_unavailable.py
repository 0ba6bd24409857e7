"""A database that cannot be reached is a 503 with Retry-After: retry later, nothing was stored."""
import pytest

from tests.conftest import WEBHOOK_SECRET

UNREACHABLE = [
    "postgresql+psycopg://postgres@127.0.0.1:1/test?connect_timeout=2",
    "sqlite:////nonexistent-directory/dialer.sqlite3",
]


@pytest.fixture(params=UNREACHABLE, ids=["postgresql", "sqlite"])
def unreachable_app(request, make_app, daktela_settings):
    return make_app(database_url=request.param, sender_backend="daktela",
                    daktela=daktela_settings(webhook_secrets=(WEBHOOK_SECRET,)))


def test_a_webhook_while_the_database_is_unreachable_is_a_503_with_retry_after(unreachable_app, caplog):
    response = unreachable_app.test_client().post(
        "/webhooks/daktela", headers={"X-Webhook-Secret": WEBHOOK_SECRET},
        json={"name": "test_1", "action": "5", "edited": "2030-01-01 10:00:00"})
    assert response.status_code == 503 and response.headers["Retry-After"] == "5"
    assert response.json == {"code": 503, "status": "Service Unavailable",
                             "message": "The database is unavailable; retry later."}
    assert "database unavailable: OperationalError" in caplog.text


def test_an_api_call_while_the_database_is_unreachable_is_a_503(unreachable_app, auth):
    response = unreachable_app.test_client().post("/api/v1/messages", headers=auth,
                                                  json={"recipient": "+420777123456", "content": "Hi"})
    assert response.status_code == 503 and response.json["code"] == 503
    assert "127.0.0.1:1" not in response.get_data(as_text=True)


def test_a_group_of_webhooks_during_an_outage_fails_at_once_instead_of_one_by_one(unreachable_app):
    from datetime import datetime, timezone

    from sqlalchemy import event
    from sqlalchemy.exc import OperationalError

    from service.backends.daktela.states import daktela_observation
    from service.dialer.tracking.groups import PendingWebhook, apply_webhooks
    from service.extensions import db

    attempts = []
    with unreachable_app.app_context():
        event.listen(db.engine, "handle_error", lambda context: attempts.append(1))
        edited = datetime(2030, 1, 1, tzinfo=timezone.utc)
        group = [PendingWebhook(n, f"test_{n}", daktela_observation("webhook", 3, (), edited)) for n in (1, 2, 3)]
        with pytest.raises(OperationalError):
            apply_webhooks(group)
    assert len(attempts) == 1


def test_a_request_that_waits_too_long_for_a_pooled_connection_is_a_503(make_app, auth):
    from service.extensions import db

    app = make_app(database_pool_size=1, database_max_overflow=0, database_pool_timeout=0.2)
    with app.app_context():
        assert (db.engine.pool.size(), db.engine.pool._max_overflow) == (1, 0)
        held = db.engine.connect()  # the process's only connection, busy elsewhere
        try:
            response = app.test_client().post("/api/v1/messages", headers=auth,
                                              json={"recipient": "+420777123456", "content": "Hi"})
        finally:
            held.close()
        assert response.status_code == 503 and response.headers["Retry-After"] == "5"
        assert app.test_client().post("/api/v1/messages", headers=auth,
                                      json={"recipient": "+420777123456", "content": "Hi"}).status_code == 201
