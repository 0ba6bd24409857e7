"""Cancel from a message's page in Chromium, with the real Daktela backend talking to the simulator on
loopback: the record is held before and gone after; viewers cannot cancel; the keyboard alone can."""
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from service.dialer.sending import send_message
from service.extensions import db
from service.models import DialerMessage, DialerMessageEvent
from service.models.state_machine import Observation, apply_observation
from service.models.states import DialerMessageState as State
from service.models.types import utcnow

RECIPIENT = "+420777123456"


@pytest.fixture
def console_app(daktela_app):
    return daktela_app()


def _send(app, **timing) -> int:
    with app.app_context():
        return send_message(RECIPIENT, "Your appointment is tomorrow.", **timing).id


def _state(app, message_id) -> State:
    with app.app_context():
        return db.session.get(DialerMessage, message_id).state


def _channels(app, message_id) -> list:
    with app.app_context():
        events = db.session.query(DialerMessageEvent).filter_by(dialer_message_id=message_id, source="cancel")
        return [event.payload.get("channel") for event in events]


def _held(simulator, message_id) -> bool:
    return simulator.simulator.get(f"test_{message_id}") is not None


def _open_as(console, role, message_id):
    console.operator(f"{role}@example.com", role)
    console.sign_in(f"{role}@example.com")
    console.page.goto(console.url(f"/console/messages/{message_id}"))
    return console.page


def test_an_operator_cancels_a_published_call_and_daktela_no_longer_holds_it(console, simulator):
    message_id = _send(console.app)
    assert _state(console.app, message_id) is State.READY and _held(simulator, message_id)
    page = _open_as(console, "operator", message_id)
    page.get_by_role("button", name="Cancel the call").click()
    expect(page.locator(".flash.info")).to_have_text(f"Message {message_id} cancelled.")
    expect(page.locator(".fields .state")).to_have_text("Cancelled (final)")
    expect(page.locator("#timeline")).to_contain_text("through: console")
    expect(page.get_by_role("button", name="Cancel the call")).to_have_count(0)
    assert not _held(simulator, message_id) and simulator.simulator.stats["deletes"] == 1
    assert _state(console.app, message_id) is State.CANCELLED
    assert set(_channels(console.app, message_id)) == {"console"}


def test_a_failed_take_back_is_shown_as_pending_and_the_message_stays_ready(console, simulator):
    message_id = _send(console.app)
    simulator.simulator.inject("500", count=1, method="DELETE")
    page = _open_as(console, "operator", message_id)
    page.get_by_role("button", name="Cancel the call").click()
    expect(page.locator(".flash.info")).to_contain_text("the provider's record is being taken back")
    expect(page.locator("#take-back")).to_be_visible()
    expect(page.locator(".fields .state")).to_have_text("Ready")
    expect(page.get_by_role("button", name="Cancel the call")).to_have_count(0)
    assert _held(simulator, message_id) and _state(console.app, message_id) is State.READY


def test_a_scheduled_message_shows_its_timing_and_is_cancelled_with_the_keyboard_alone(console, simulator,
                                                                                          screenshot):
    send_at = utcnow().replace(microsecond=0) + timedelta(days=1)
    message_id = _send(console.app, send_at=send_at, valid_until=send_at + timedelta(hours=8),
                       calling_hours="mon-sun 09:00-18:00")
    assert _state(console.app, message_id) is State.SCHEDULED
    page = _open_as(console, "operator", message_id)
    expect(page.locator(".fields .state")).to_have_text("Scheduled")
    expect(page.locator("#calling-hours")).to_have_text("mon-sun 09:00-18:00")
    expect(page.locator("#send-at")).not_to_have_text("—")
    expect(page.locator("#valid-until")).not_to_have_text("—")
    expect(page.locator("#scheduled-until")).not_to_have_text("—")
    expect(page.locator("#schedule-note")).to_contain_text("Deferred until")
    expect(page.locator("#timeline")).to_contain_text("reason: send_at")
    screenshot(page, "message-scheduled")
    button = page.get_by_role("button", name="Cancel the call")
    for _ in range(20):
        page.keyboard.press("Tab")
        if button.evaluate("element => element === document.activeElement"):
            break
    expect(button).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator(".flash.info")).to_have_text(f"Message {message_id} cancelled.")
    # Never published: nothing to take back from Daktela.
    assert _state(console.app, message_id) is State.CANCELLED and simulator.simulator.stats["deletes"] == 0


def test_a_viewer_sees_no_cancel_and_a_direct_post_is_refused(console, simulator):
    message_id = _send(console.app)
    page = _open_as(console, "viewer", message_id)
    expect(page.locator("h1")).to_have_text(f"Message {message_id}")
    expect(page.get_by_role("button", name="Cancel the call")).to_have_count(0)
    token = page.locator("form.sign-out input[name=csrf_token]").input_value()
    refused = page.request.post(console.url(f"/console/messages/{message_id}/cancel"), form={"csrf_token": token})
    assert refused.status == 403 and "Not allowed" in refused.text()
    assert _state(console.app, message_id) is State.READY and _held(simulator, message_id)


def test_a_call_answered_while_the_page_was_open_is_not_cancelled_and_says_why(console, simulator):
    message_id = _send(console.app)
    page = _open_as(console, "operator", message_id)
    with console.app.app_context():
        message = db.session.get(DialerMessage, message_id)
        apply_observation(message, Observation(source="webhook", state=State.ANSWERED_COMPLETE, final=True,
                                               edited=utcnow(), payload={}))
        db.session.commit()
    page.get_by_role("button", name="Cancel the call").click()
    expect(page.locator(".flash.error")).to_have_text(
        f"Message {message_id} cannot be cancelled any more: it is Answered complete.")
    expect(page.locator(".fields .state")).to_have_text("Answered complete (final)")
    assert _channels(console.app, message_id) == [] and simulator.simulator.stats["deletes"] == 0


def test_a_test_call_takes_send_at_and_calling_hours_with_the_apis_validation(console, screenshot):
    console.operator("operator@example.com", "operator")
    console.sign_in("operator@example.com")
    page = console.page
    page.get_by_role("link", name="Test call").click()
    page.get_by_label("Recipient").fill(RECIPIENT)
    page.get_by_label("Content", exact=True).fill("Testing the line.")
    page.get_by_label("Calling hours (optional)").fill("someday 25:00-26:00")
    # The dialer's clock is the wall clock: the day after tomorrow in the operator's zone (Prague).
    day = (utcnow().astimezone(ZoneInfo("Europe/Prague")) + timedelta(days=2)).date().isoformat()
    page.get_by_label("Send at (optional)").fill(f"{day}T10:00")
    page.get_by_label("Valid until (optional)").fill(f"{day}T09:00")
    page.get_by_role("button", name="Send").click()
    expect(page.locator("#calling_hours-errors")).not_to_be_empty()
    expect(page.locator("#valid_until-errors")).not_to_be_empty()
    expect(page.get_by_label("Calling hours (optional)")).to_have_attribute("aria-invalid", "true")
    screenshot(page, "test-call-timing-errors")
    page.get_by_label("Calling hours (optional)").fill("mon-fri 09:00-18:00")
    page.get_by_label("Valid until (optional)").fill(f"{day}T17:00")
    page.get_by_role("button", name="Send").click()
    expect(page.locator(".flash.info")).to_contain_text("Test call stored as message")
    expect(page.locator(".fields .state")).to_have_text("Scheduled")
    expect(page.locator("#calling-hours")).to_have_text("mon-fri 09:00-18:00")
    expect(page.locator("#send-at")).to_contain_text("10:00:00 AM")  # shown in the operator's zone, as typed
    expect(page.locator("#valid-until")).to_contain_text("5:00:00 PM")
