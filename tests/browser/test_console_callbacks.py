"""Callback endpoints in the console, in a real browser: an admin subscribes a receiver and sees its
secret once, a dead letter shows on the dashboard and in the failed list, Retry sends it again to
a real receiver on loopback, and a viewer can neither create nor retry."""
import json

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from service.dialer.callbacks.endpoints import create_endpoint
from service.extensions import db
from service.models import CallbackDelivery, CallbackEndpoint
from service.models.types import utcnow
from tests.browser.conftest import assert_accessible_basics
from tests.support.callbacks import callback_settings, dispatch
from tests.support.factories import sent_message
from tests.support.receiver import Receiver

ONE_ATTEMPT = (0,)  # the first failure is a dead letter


@pytest.fixture
def make_app(make_app):
    return lambda **overrides: make_app(callbacks=callback_settings(retry_schedule=ONE_ATTEMPT), **overrides)


def _dead_letter(app, receiver_url):
    """An endpoint and a message whose `message.created` callback failed once: a dead letter."""
    with app.app_context():
        endpoint_id = create_endpoint(receiver_url, event_types=["message.created"]).endpoint.id
        message_id = sent_message(tag="parcels").id
    report = dispatch(app, retry_schedule=ONE_ATTEMPT)
    assert report.failed == 1
    with app.app_context():
        delivery = db.session.scalar(select(CallbackDelivery))
        db.session.commit()
    return endpoint_id, message_id, delivery


def _on_the_wall_clock(console):
    # Deliveries are attempted on the wall clock: the dashboard's last 24 hours follow it here.
    console.app.extensions["console"].clock = utcnow


def test_an_admin_creates_an_endpoint_and_sees_its_secret_once(console, screenshot):
    console.operator("admin@example.com", "admin")
    console.sign_in("admin@example.com")
    page = console.page
    page.get_by_role("link", name="Callbacks").click()
    expect(page.locator("#endpoint-list")).to_contain_text("No callback endpoints yet.")
    page.get_by_role("link", name="New endpoint").click()
    assert_accessible_basics(page)
    page.get_by_label("URL").fill("http://127.0.0.1:9/dialer-callbacks")
    page.get_by_label("message.final").check()
    page.get_by_label("Only messages tagged").fill("parcels")
    page.get_by_role("button", name="Create").click()
    expect(page.locator("h1")).to_have_text("Endpoint created.")
    with console.app.app_context():
        endpoint = db.session.scalar(select(CallbackEndpoint))
        secret, endpoint_id = endpoint.secret, endpoint.id
        assert endpoint.event_types == ["message.final"] and endpoint.tag == "parcels"
        db.session.commit()
    expect(page.get_by_label("Secret")).to_have_value(secret)
    assert secret.startswith("whsec_")
    assert_accessible_basics(page)
    page.get_by_role("link", name="Go to the endpoint").click()
    expect(page.locator("h1")).to_have_text(f"Callback endpoint {endpoint_id}")
    assert secret not in page.content()
    page.go_back()  # the secret's page is not kept (no-store): going back asks again, and gets nothing
    assert secret not in page.content()
    page.goto(console.url("/console/callbacks"))
    expect(page.locator("#endpoint-list")).to_contain_text("http://127.0.0.1:9/dialer-callbacks")
    expect(page.locator("#endpoint-list")).to_contain_text("message.final")
    assert secret not in page.content()
    screenshot(page, "callback-endpoints")


def test_a_dead_letter_shows_on_the_dashboard_and_retry_sends_it_again_to_the_receiver(console, screenshot):
    _on_the_wall_clock(console)
    with Receiver(lambda number, request: 500 if number == 1 else 204, answer_body=b"<b>busy</b>") as receiver:
        endpoint_id, message_id, delivery = _dead_letter(console.app, receiver.url)
        console.operator("operator@example.com", "operator")
        console.sign_in("operator@example.com")
        page = console.page
        failures = page.locator("#callback-failures")
        expect(failures).to_contain_text("Failed callback deliveries: 1 in the last 24 hours, 1 dead letters in all")
        failures.get_by_role("link").first.click()
        expect(page.locator("h1")).to_have_text("Failed callback deliveries (dead letters)")
        row = page.locator(f"#delivery-{delivery.id}")
        expect(row).to_contain_text("failed (dead letter)")
        expect(row).to_contain_text("HTTP 500")
        expect(row.locator("code.answer")).to_have_text("<b>busy</b>")  # the answer as text, not markup
        assert_accessible_basics(page)
        screenshot(page, "callback-dead-letters")
        row.get_by_role("button", name=f"Retry delivery {delivery.id}").click()
        expect(page.locator(".flash.info")).to_have_text(f"Delivery {delivery.id} will be sent again.")
        expect(page.locator("h1")).to_have_text(f"Callback endpoint {endpoint_id}")
        assert dispatch(console.app, retry_schedule=ONE_ATTEMPT).delivered == 1
        received = receiver.received
    assert len(received) == 2
    assert {r.headers["webhook-id"] for r in received} == {delivery.webhook_id}
    assert json.loads(received[1].body)["data"]["id"] == message_id
    page.reload()
    row = page.locator(f"#delivery-{delivery.id}")
    expect(row).to_contain_text("delivered")
    expect(row.locator(".attempts li")).to_have_count(2)
    assert_accessible_basics(page)
    screenshot(page, "callback-endpoint")
    page.goto(console.url(f"/console/messages/{message_id}"))
    expect(page.locator(f"#message-callbacks #delivery-{delivery.id}")).to_contain_text("delivered")
    page.goto(console.url("/console/"))
    expect(page.locator("#callback-failures")).to_contain_text("0 in the last 24 hours, 0 dead letters in all")


def test_a_viewer_sees_endpoints_and_dead_letters_but_cannot_create_or_retry(console):
    _on_the_wall_clock(console)
    with Receiver(lambda number, request: 500) as receiver:
        endpoint_id, _, delivery = _dead_letter(console.app, receiver.url)
        console.operator("viewer@example.com", "viewer")
        console.sign_in("viewer@example.com")
        page = console.page
        page.get_by_role("link", name="Callbacks").click()
        expect(page.get_by_role("link", name="New endpoint")).to_have_count(0)
        page.goto(console.url(f"/console/callbacks/{endpoint_id}?status=failed"))
        expect(page.locator(f"#delivery-{delivery.id}")).to_contain_text("failed (dead letter)")
        expect(page.get_by_role("button", name="Retry")).to_have_count(0)
        expect(page.get_by_role("button", name="Rotate secret")).to_have_count(0)
        expect(page.get_by_role("button", name="Replay")).to_have_count(0)
        token = page.locator("form.sign-out input[name=csrf_token]").input_value()
        retried = page.request.post(console.url(f"/console/callback-deliveries/{delivery.id}/retry"),
                                    form={"csrf_token": token})
        created = page.request.post(console.url("/console/callbacks/new"),
                                    form={"csrf_token": token, "url": "http://127.0.0.1:9/other"})
        assert retried.status == 403 and created.status == 403
        page.goto(console.url("/console/callbacks/new"))
        expect(page.locator("h1")).to_have_text("Not allowed")
        assert dispatch(console.app, retry_schedule=ONE_ATTEMPT).sent == 0
        assert len(receiver.received) == 1
    with console.app.app_context():
        assert db.session.get(CallbackDelivery, delivery.id).status == "failed"
        assert db.session.scalar(select(CallbackEndpoint.id).where(CallbackEndpoint.url.endswith("/other"))) is None
        db.session.commit()


def test_an_operator_replays_an_endpoints_deliveries_since_a_time(console):
    _on_the_wall_clock(console)
    with Receiver() as receiver:
        with console.app.app_context():
            endpoint_id = create_endpoint(receiver.url, event_types=["message.created"]).endpoint.id
            for _ in range(2):
                sent_message()
        assert dispatch(console.app).delivered == 2
        console.operator("operator@example.com", "operator")
        console.sign_in("operator@example.com")
        page = console.page
        page.goto(console.url(f"/console/callbacks/{endpoint_id}"))
        page.get_by_label("Replay deliveries created since").fill("2026-01-01T00:00")
        page.get_by_role("button", name="Replay").click()
        expect(page.locator(".flash.info")).to_have_text("2 deliveries will be sent again.")
        assert dispatch(console.app).delivered == 2
        ids = [r.headers["webhook-id"] for r in receiver.received]
    assert len(ids) == 4 and sorted(ids[:2]) == sorted(ids[2:])
