"""Callback endpoints and deliveries in the console over the Flask test client: who may do what,
the secret shown once, attempts escaped, the dashboard's and message page's callback sections."""
import re
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from service.dialer.callbacks.endpoints import create_endpoint
from service.dialer.operators import create_operator
from service.extensions import db
from service.models import CallbackAttempt, CallbackDelivery, CallbackEndpoint
from tests.support.callbacks import callback_settings
from tests.support.console import PASSWORD, sign_in
from tests.support.factories import sent_message

NOW = datetime(2026, 11, 30, 9, 30, tzinfo=timezone.utc)
TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')  # the sign-out form's, on every page


@pytest.fixture
def app(make_app):
    app = make_app(callbacks=callback_settings())
    app.extensions["console"].clock = lambda: NOW
    return app


def _token(client, path):
    return TOKEN.search(client.get(path).text).group(1)


def _failed_delivery(app, body="<script>alert(1)</script>", attempted_at=NOW - timedelta(hours=1)):
    """A message, an endpoint, and a dead letter to it with one attempt answered 500 with `body`."""
    with app.app_context():
        endpoint = create_endpoint("http://127.0.0.1:9/callbacks").endpoint
        message = sent_message()
        delivery = CallbackDelivery(webhook_id="msg_1", dialer_message_id=message.id, endpoint_id=endpoint.id,
                                    event_type="message.final", sequence=1, state="ANSWERED_COMPLETE",
                                    status="failed", attempts=8)
        db.session.add(delivery)
        db.session.flush()
        db.session.add(CallbackAttempt(delivery_id=delivery.id, attempted_at=attempted_at, duration_ms=12,
                                       status_code=500, response_body=body))
        db.session.commit()
        return endpoint.id, message.id, delivery.id


@pytest.mark.parametrize("role", ["viewer", "operator", "admin"])
def test_every_role_reads_endpoints_deliveries_and_the_dashboards_dead_letters(app, client, role):
    endpoint_id, message_id, delivery_id = _failed_delivery(app)
    with app.app_context():
        create_operator("someone@example.com", PASSWORD, role)
    sign_in(client, "someone@example.com")
    listing = client.get("/console/callbacks")
    assert listing.status_code == 200 and "http://127.0.0.1:9/callbacks" in listing.text
    page = client.get(f"/console/callbacks/{endpoint_id}?status=failed")
    assert page.status_code == 200 and f'id="delivery-{delivery_id}"' in page.text
    # The receiver's answer is shown as text, never as markup.
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text and "<script>alert" not in page.text
    assert ("Retry delivery" in page.text) == (role != "viewer")
    assert ("Rotate secret" in page.text) == (role == "admin")
    assert client.get(f"/console/callbacks/{endpoint_id}?status=delivered").text.count('class="delivery ') == 0
    dashboard = client.get("/console/").text
    failures = re.search(r'<p id="callback-failures">(.*?)</p>', dashboard, re.S).group(1)
    assert re.findall(r">(\d+)</a>", failures) == ["1", "1"]
    message_page = client.get(f"/console/messages/{message_id}").text
    assert f'id="delivery-{delivery_id}"' in message_page


def test_a_dead_letter_older_than_a_day_counts_only_in_the_total(app, client):
    _failed_delivery(app, attempted_at=NOW - timedelta(hours=25))
    with app.app_context():
        create_operator("viewer@example.com", PASSWORD, "viewer")
    sign_in(client, "viewer@example.com")
    failures = re.search(r'<p id="callback-failures">(.*?)</p>', client.get("/console/").text, re.S).group(1)
    assert re.findall(r">(\d+)</a>", failures) == ["0", "1"]


def test_a_viewer_and_an_operator_cannot_manage_endpoints_and_a_viewer_cannot_retry(app, client):
    endpoint_id, _, delivery_id = _failed_delivery(app)
    with app.app_context():
        create_operator("viewer@example.com", PASSWORD, "viewer")
        create_operator("operator@example.com", PASSWORD, "operator")
    sign_in(client, "viewer@example.com")
    token = _token(client, f"/console/callbacks/{endpoint_id}")
    for path, data in [("/console/callbacks/new", {"url": "http://127.0.0.1:9/other"}),
                       (f"/console/callbacks/{endpoint_id}/enabled", {"enabled": "false"}),
                       (f"/console/callbacks/{endpoint_id}/rotate-secret", {}),
                       (f"/console/callbacks/{endpoint_id}/delete", {}),
                       (f"/console/callback-deliveries/{delivery_id}/retry", {}),
                       (f"/console/callbacks/{endpoint_id}/replay", {"since": "2026-11-30T00:00"})]:
        assert client.post(path, data={"csrf_token": token, **data}).status_code == 403, path
    client.post("/console/sign-out", data={"csrf_token": token})
    sign_in(client, "operator@example.com")
    token = _token(client, f"/console/callbacks/{endpoint_id}")
    assert client.post("/console/callbacks/new", data={"csrf_token": token, "url": "http://x"}).status_code == 403
    with app.app_context():
        assert db.session.get(CallbackDelivery, delivery_id).status == "failed"
        endpoint = db.session.get(CallbackEndpoint, endpoint_id)
        assert endpoint.enabled and db.session.scalar(select(CallbackEndpoint.id).where(
            CallbackEndpoint.url == "http://127.0.0.1:9/other")) is None
        db.session.commit()


def test_posts_without_a_csrf_token_are_refused(app, client):
    endpoint_id, _, delivery_id = _failed_delivery(app)
    with app.app_context():
        create_operator("admin@example.com", PASSWORD, "admin")
    sign_in(client, "admin@example.com")
    assert client.post(f"/console/callback-deliveries/{delivery_id}/retry").status_code == 400
    assert client.post(f"/console/callbacks/{endpoint_id}/delete").status_code == 400
    with app.app_context():
        assert db.session.get(CallbackDelivery, delivery_id).status == "failed"
        db.session.commit()


def test_an_admin_gets_the_secret_once_and_a_new_one_on_rotation(app, client):
    with app.app_context():
        create_operator("admin@example.com", PASSWORD, "admin")
    sign_in(client, "admin@example.com")
    token = _token(client, "/console/callbacks/new")
    refused = client.post("/console/callbacks/new", data={"csrf_token": token, "url": "ftp://example.com/x"})
    assert refused.status_code == 422 and 'id="url-errors"' in refused.text
    created = client.post("/console/callbacks/new", data={
        "csrf_token": token, "url": "http://127.0.0.1:9/cb", "event_types": ["message.final"], "tag": "parcels",
        "enabled": "y"})
    assert created.status_code == 201
    with app.app_context():
        endpoint = db.session.scalar(select(CallbackEndpoint))
        secret, endpoint_id = endpoint.secret, endpoint.id
        assert endpoint.event_types == ["message.final"] and endpoint.tag == "parcels"
        db.session.commit()
    assert f'value="{secret}"' in created.text
    assert secret not in client.get(f"/console/callbacks/{endpoint_id}").text
    assert secret not in client.get("/console/callbacks").text
    rotated = client.post(f"/console/callbacks/{endpoint_id}/rotate-secret", data={"csrf_token": token})
    with app.app_context():
        endpoint = db.session.get(CallbackEndpoint, endpoint_id)
        assert endpoint.previous_secret == secret and f'value="{endpoint.secret}"' in rotated.text
        db.session.commit()
    assert secret not in rotated.text


def test_the_callback_pages_speak_czech_when_asked(app, client):
    endpoint_id, message_id, _ = _failed_delivery(app)
    with app.app_context():
        create_operator("operator@example.com", PASSWORD, "operator")
    sign_in(client, "operator@example.com")
    czech = {"Accept-Language": "cs"}
    assert "<h1>Koncové body zpětných volání</h1>" in client.get("/console/callbacks", headers=czech).text
    endpoint_page = client.get(f"/console/callbacks/{endpoint_id}", headers=czech).text
    assert "nedoručeno (nedoručitelné)" in endpoint_page and "Znovu odeslat" in endpoint_page
    assert "Nedoručená zpětná volání" in client.get("/console/", headers=czech).text


def test_replay_reads_its_time_in_the_operators_zone(app, client):
    endpoint_id, _, first = _failed_delivery(app)
    with app.app_context():
        earlier = db.session.get(CallbackDelivery, first)
        later = CallbackDelivery(webhook_id="msg_2", dialer_message_id=earlier.dialer_message_id,
                                 endpoint_id=endpoint_id, event_type="message.final", sequence=2, status="delivered",
                                 attempts=1, created_at=datetime(2026, 11, 30, 9, 0, tzinfo=timezone.utc))
        earlier.created_at = datetime(2026, 11, 30, 8, 0, tzinfo=timezone.utc)
        db.session.add(later)
        create_operator("operator@example.com", PASSWORD, "operator", "Europe/Prague")
        db.session.commit()
        later_id = later.id
    sign_in(client, "operator@example.com")
    token = _token(client, f"/console/callbacks/{endpoint_id}")
    # 09:59 in Prague (UTC+1 in November) is 08:59 UTC: the later delivery only.
    replayed = client.post(f"/console/callbacks/{endpoint_id}/replay",
                           data={"csrf_token": token, "since": "2026-11-30T09:59"}, follow_redirects=True)
    assert "1 deliveries will be sent again." in replayed.text
    with app.app_context():
        assert db.session.get(CallbackDelivery, later_id).status == "pending"
        assert db.session.get(CallbackDelivery, first).status == "failed"
        db.session.commit()
    missing = client.post(f"/console/callbacks/{endpoint_id}/replay", data={"csrf_token": token, "since": "soon"},
                          follow_redirects=True)
    assert "Give the time to replay from." in missing.text


def test_a_cursor_that_is_not_ours_is_a_422_page_not_a_500(app, client):
    endpoint_id, _, _ = _failed_delivery(app)
    with app.app_context():
        create_operator("viewer@example.com", PASSWORD, "viewer")
    sign_in(client, "viewer@example.com")
    for path in (f"/console/callbacks/{endpoint_id}?cursor=garbage", "/console/callback-deliveries?cursor=x",
                 "/console/callbacks?cursor=%00"):
        assert client.get(path).status_code == 422, path
    assert client.get("/console/callbacks/999").status_code == 404
    assert client.get("/console/callbacks/99999999999999999999").status_code == 404
