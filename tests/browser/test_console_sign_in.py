"""Signing in and out of the console in Chromium: right, wrong, rate-limited, keyboard only."""
from playwright.sync_api import expect

from tests.browser.conftest import assert_accessible_basics, guard_context


def test_right_password_opens_the_dashboard_and_sign_out_closes_it(console, screenshot):
    console.operator("viewer@example.com", "viewer")
    page = console.page
    page.goto(console.url("/console/"))
    expect(page).to_have_url(console.url("/console/sign-in?next=%2Fconsole%2F"))
    assert_accessible_basics(page)
    screenshot(page, "sign-in")
    console.sign_in("viewer@example.com")
    expect(page).to_have_url(console.url("/console/"))
    expect(page.locator("h1")).to_have_text("Dashboard")
    page.get_by_role("button", name="Sign out").click()
    expect(page.locator(".flash.info")).to_have_text("You are signed out.")
    page.goto(console.url("/console/messages"))
    expect(page.locator("h1")).to_have_text("Sign in")


def test_wrong_password_is_refused_with_a_message(console):
    console.operator("viewer@example.com", "viewer")
    console.sign_in("viewer@example.com", "not the password at all")
    page = console.page
    expect(page.get_by_role("alert")).to_have_text("Wrong email or password.")
    page.goto(console.url("/console/"))
    expect(page.locator("h1")).to_have_text("Sign in")


def test_failed_attempts_on_one_account_are_limited_even_with_the_right_password_after(console, screenshot):
    console.app.config["CONSOLE_SIGNIN_LIMIT_PER_ACCOUNT"] = "3 per 15 minutes"
    console.operator("viewer@example.com", "viewer")
    for _ in range(3):
        console.sign_in("viewer@example.com", "guessing wrongly")
        expect(console.page.get_by_role("alert")).to_have_text("Wrong email or password.")
    console.sign_in("viewer@example.com")
    expect(console.page.locator("h1")).to_have_text("Too many sign-in attempts")
    screenshot(console.page, "sign-in-rate-limited")


def test_failed_attempts_from_one_address_are_limited_across_accounts(console):
    console.app.config["CONSOLE_SIGNIN_LIMIT_PER_ADDRESS"] = "4 per 15 minutes"
    for number in range(4):
        console.sign_in(f"nobody{number}@example.com", "guessing wrongly")
        expect(console.page.get_by_role("alert")).to_have_text("Wrong email or password.")
    console.operator("viewer@example.com", "viewer")
    console.sign_in("viewer@example.com")
    expect(console.page.locator("h1")).to_have_text("Too many sign-in attempts")


def test_sign_in_works_with_the_keyboard_alone(console):
    console.operator("viewer@example.com", "viewer")
    page = console.page
    page.goto(console.url("/console/sign-in"))
    page.keyboard.press("Tab")  # the skip link
    page.keyboard.press("Tab")
    page.keyboard.type("viewer@example.com")
    page.keyboard.press("Tab")
    page.keyboard.type("correct horse battery")
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_have_text("Dashboard")


def test_czech_is_chosen_by_accept_language(console, browser, outside_requests):
    console.operator("viewer@example.com", "viewer")
    context = browser.new_context(locale="cs-CZ")
    guard_context(context, outside_requests)
    try:
        page = context.new_page()
        page.goto(console.url("/console/sign-in"))
        expect(page.locator("h1")).to_have_text("Přihlásit")
        page.get_by_label("E-mail").fill("viewer@example.com")
        page.get_by_label("Heslo").fill("correct horse battery")
        page.get_by_role("button", name="Přihlásit").click()
        expect(page.locator("h1")).to_have_text("Přehled")
    finally:
        context.close()
