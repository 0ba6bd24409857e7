"""What operators do in the console, and what viewers cannot: templates, test calls, CSRF, roles."""
from playwright.sync_api import expect

from service.dialer.templates import create_template, get_template
from tests.browser.conftest import PASSWORD

BODY = "Hello {{ name }}, see you at {{ time }}."


def _stored_body(app, slug):
    with app.app_context():
        return get_template(slug).body


def _with_template(console):
    with console.app.app_context():
        create_template("appointment", BODY)


def test_a_template_edit_with_a_syntax_error_shows_the_line_and_saves_nothing(console, screenshot):
    _with_template(console)
    console.operator("operator@example.com", "operator")
    console.sign_in("operator@example.com")
    page = console.page
    page.goto(console.url("/console/templates/appointment"))
    page.get_by_label("Body").fill("Hello {{ name }},\nsee you at {{ time }\nBye.")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#syntax-error")).to_contain_text("Line 2")
    expect(page.locator("#syntax-error")).to_contain_text("see you at {{ time }")
    expect(page.get_by_label("Body")).to_have_attribute("aria-invalid", "true")
    screenshot(page, "template-syntax-error")
    assert _stored_body(console.app, "appointment") == BODY


def test_the_preview_follows_the_typing(console):
    _with_template(console)
    console.operator("operator@example.com", "operator")
    console.sign_in("operator@example.com")
    page = console.page
    page.goto(console.url("/console/templates/appointment"))
    page.get_by_label("Sample context (JSON)").fill('{"name": "Jana", "time": "10:00"}')
    expect(page.locator("#preview")).to_have_text("Hello Jana, see you at 10:00.")
    page.get_by_label("Body").fill("Dear {{ name }}\n{% if %}")
    expect(page.locator("#syntax-error")).to_contain_text("Line 2")
    page.get_by_label("Body").fill("Dear {{ name }}")
    expect(page.locator("#preview")).to_have_text("Dear Jana")
    expect(page.locator("#syntax-error")).to_have_count(0)
    assert _stored_body(console.app, "appointment") == BODY


def test_an_operator_creates_edits_and_deletes_a_template_after_confirming(console):
    console.operator("operator@example.com", "operator")
    console.sign_in("operator@example.com")
    page = console.page
    page.goto(console.url("/console/templates"))
    page.get_by_role("link", name="New template").click()
    page.get_by_label("Slug").fill("reminder")
    page.get_by_label("Body").fill("Hi {{ name }}")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".flash.info")).to_have_text("Template reminder created.")
    page.get_by_label("Body").fill("Hello {{ name }}")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".flash.info")).to_have_text("Template reminder saved.")
    assert _stored_body(console.app, "reminder") == "Hello {{ name }}"
    page.get_by_role("link", name="Delete…").click()
    expect(page.locator("h1")).to_have_text("Delete template reminder?")
    page.get_by_role("button", name="Delete").click()
    expect(page.locator(".flash.info")).to_have_text("Template reminder deleted.")
    expect(page.locator("#template-list")).to_contain_text("No templates yet.")


def test_an_operator_sends_a_test_call_with_the_apis_validation(console, screenshot):
    console.operator("operator@example.com", "operator")
    console.sign_in("operator@example.com")
    page = console.page
    page.get_by_role("link", name="Test call").click()
    page.get_by_label("Recipient").fill("12")
    page.get_by_label("Content", exact=True).fill("Testing the line.")
    page.get_by_role("button", name="Send").click()
    expect(page.locator("#recipient-errors")).not_to_be_empty()
    page.get_by_label("Recipient").fill("+420 777 123 456")
    page.get_by_role("button", name="Send").click()
    expect(page.locator(".flash.info")).to_contain_text("Test call stored as message")
    expect(page.locator(".fields")).to_contain_text("+420 777 123 456")
    expect(page.locator(".fields")).to_contain_text("console-test-call")


def test_a_form_posted_without_its_csrf_token_is_refused(console):
    _with_template(console)
    console.operator("operator@example.com", "operator")
    console.sign_in("operator@example.com")
    page = console.page
    page.goto(console.url("/console/templates/appointment"))
    page.evaluate("document.querySelector('#template-form input[name=csrf_token]').remove()")
    page.get_by_label("Body").fill("Changed {{ name }}")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("h1")).to_have_text("Form expired or forged")
    assert _stored_body(console.app, "appointment") == BODY


def test_a_viewer_reads_but_cannot_send_edit_or_manage(console):
    _with_template(console)
    console.operator("viewer@example.com", "viewer")
    console.sign_in("viewer@example.com")
    page = console.page
    expect(page.get_by_role("link", name="Test call")).to_have_count(0)
    expect(page.get_by_role("link", name="Operators")).to_have_count(0)
    page.goto(console.url("/console/templates/appointment"))
    expect(page.get_by_role("button", name="Save")).to_have_count(0)
    token = page.locator("#template-form input[name=csrf_token]").input_value()
    refused = page.request.post(console.url("/console/templates/appointment"), form={
        "csrf_token": token, "slug": "appointment", "body": "Changed", "action": "save"})
    assert refused.status == 403
    preview = page.request.post(console.url("/console/templates/preview"), form={"csrf_token": token, "body": "x"})
    assert preview.status == 403
    deleted = page.request.post(console.url("/console/templates/appointment/delete"), form={"csrf_token": token})
    assert deleted.status == 403
    assert _stored_body(console.app, "appointment") == BODY
    for path in ("/console/test-call", "/console/templates/new", "/console/operators"):
        page.goto(console.url(path))
        expect(page.locator("h1")).to_have_text("Not allowed")


def test_an_admin_creates_an_operator_who_can_then_sign_in(console):
    console.operator("admin@example.com", "admin")
    console.sign_in("admin@example.com")
    page = console.page
    page.get_by_role("link", name="Operators").click()
    form = page.locator("form.narrow")
    form.get_by_label("Email").fill("new@example.com")
    form.get_by_label("Password").fill(PASSWORD)
    form.get_by_label("Role").select_option("operator")
    form.get_by_role("button", name="Create").click()
    expect(page.locator(".flash.info")).to_have_text("Operator new@example.com created.")
    page.get_by_role("button", name="Sign out").click()
    console.sign_in("new@example.com")
    expect(page.get_by_role("link", name="Test call")).to_be_visible()
