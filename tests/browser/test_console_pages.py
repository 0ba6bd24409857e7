"""Every console page renders with data, the list's filters narrow it, and each page is saved as a picture."""
from playwright.sync_api import expect

from tests.browser.conftest import NOW, assert_accessible_basics
from tests.browser.seed import seed_console_data


def test_every_page_renders_with_data(console, screenshot):
    ids = seed_console_data(console.app, NOW)
    console.operator("admin@example.com", "admin")
    console.sign_in("admin@example.com")
    page = console.page

    expect(page.locator("h1")).to_have_text("Dashboard")
    day = page.get_by_role("region", name="Last 24 hours")
    expect(day.get_by_role("row", name="Answered complete 1")).to_be_visible()
    expect(day.get_by_text("Answer rate: 50%")).to_be_visible()  # 2 answered of 4 with an outcome
    week = page.get_by_role("region", name="Last 7 days")
    expect(week.get_by_role("row", name="Answered complete 2")).to_be_visible()
    expect(page.locator("#calls-chart rect")).to_have_count(24)
    assert_accessible_basics(page)
    screenshot(page, "dashboard")

    page.get_by_role("link", name="Messages", exact=True).click()
    expect(page.locator("#message-list tbody tr")).to_have_count(6)
    expect(page.get_by_text("+420 777 000 001")).to_be_visible()  # formatted
    assert_accessible_basics(page)
    screenshot(page, "messages")

    page.get_by_role("link", name=str(ids["+420777000001"]), exact=True).click()
    expect(page.locator("h1")).to_have_text(f"Message {ids['+420777000001']}")
    expect(page.locator("#timeline li")).to_have_count(2)  # created, then the webhook's outcome
    expect(page.locator("#timeline")).to_contain_text("Ready → Answered complete")
    assert_accessible_basics(page)
    screenshot(page, "message")

    page.get_by_role("link", name="Templates").click()
    expect(page.locator("#template-list tbody tr")).to_have_count(1)
    assert_accessible_basics(page)
    screenshot(page, "templates")
    page.get_by_role("link", name="appointment").click()
    page.get_by_label("Sample context (JSON)").fill('{"name": "Jana", "time": "10:00"}')
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("#preview")).to_have_text("Hello Jana, your appointment is at 10:00.")
    assert_accessible_basics(page)
    screenshot(page, "template-edit")

    page.get_by_role("link", name="Test call").click()
    assert_accessible_basics(page)
    screenshot(page, "test-call")
    page.get_by_role("link", name="Operators").click()
    expect(page.locator("#operator-list")).to_contain_text("admin@example.com")
    assert_accessible_basics(page)
    screenshot(page, "operators")


def test_dashboard_numbers_link_to_the_list_they_count(console):
    seed_console_data(console.app, NOW)
    console.operator("viewer@example.com", "viewer")
    console.sign_in("viewer@example.com")
    page = console.page
    page.get_by_role("region", name="Last 7 days").get_by_role("row", name="Answered complete 2").get_by_role(
        "link").click()
    expect(page.locator("#message-list tbody tr")).to_have_count(2)
    expect(page.locator("#message-list .state")).to_have_text(["Answered complete"] * 2)


def test_filters_narrow_the_list(console):
    seed_console_data(console.app, NOW)
    console.operator("viewer@example.com", "viewer")
    console.sign_in("viewer@example.com")
    page = console.page
    page.goto(console.url("/console/messages"))
    expect(page.locator("#message-list tbody tr")).to_have_count(6)
    page.get_by_label("Tag").fill("survey")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#message-list tbody tr")).to_have_count(2)
    page.get_by_label("State").select_option("DECLINED")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#message-list tbody tr")).to_have_count(1)
    expect(page.locator("#message-list")).to_contain_text("+420 777 000 003")
    page.get_by_role("link", name="Clear").click()
    page.get_by_label("Recipient").fill("+420 777 000 006")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#message-list tbody tr")).to_have_count(1)
    page.get_by_label("Recipient").fill("")
    page.get_by_label("Created from").fill("2026-11-30T07:00")  # Prague time: 06:00 UTC, 3.5 hours before NOW
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#message-list tbody tr")).to_have_count(3)


def test_a_bad_filter_is_named_next_to_its_field(console):
    console.operator("viewer@example.com", "viewer")
    console.sign_in("viewer@example.com")
    page = console.page
    page.goto(console.url("/console/messages?recipient=not-a-number"))
    expect(page.locator("#recipient-errors")).not_to_be_empty()
    expect(page.get_by_label("Recipient")).to_have_attribute("aria-invalid", "true")


def test_the_chart_redraws_from_new_numbers_when_its_refresh_comes(console):
    from datetime import timedelta

    from tests.support.factories import sent_message

    seed_console_data(console.app, NOW)
    console.operator("viewer@example.com", "viewer")
    page = console.page
    page.clock.install()  # the page's timers run on the test's clock
    console.sign_in("viewer@example.com")
    last_hour = page.locator("#calls-chart rect").nth(23)
    expect(last_hour.locator("title")).to_contain_text(": 0")
    with console.app.app_context():
        for _ in range(2):
            sent_message(sent_at=NOW - timedelta(minutes=10))
    expect(last_hour.locator("title")).to_contain_text(": 0")
    page.clock.run_for(30_000)
    expect(last_hour.locator("title")).to_contain_text(": 2")
    expect(last_hour).to_have_attribute("height", "100")  # the new peak
    expect(page.locator("#calls-chart rect")).to_have_count(24)
