"""The console in a real browser: Debian's Chromium driven by Playwright, the app on a loopback port.

One browser for the session (pytest-playwright's `browser`), a fresh context and page per test.
Every request the page makes is recorded and anything not on loopback is aborted before it
leaves; each test then asserts none was attempted.
"""
from __future__ import annotations

import os
import shutil
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}
PASSWORD = "correct horse battery"
NOW = datetime(2026, 11, 30, 9, 30, tzinfo=timezone.utc)


def pytest_collection_modifyitems(config, items):
    # On a developer's machine without Chromium the browser tests are skipped; in CI (.ci/run
    # installs it) they run, and fail if it is missing.
    if not Path(CHROMIUM).exists() and not os.environ.get("CI"):
        skip = pytest.mark.skip(reason=f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does)")
        for item in items:
            if "tests/browser" in str(item.fspath):
                item.add_marker(skip)


@pytest.fixture(scope="session")
def browser_type_launch_args():
    return {"executable_path": CHROMIUM, "args": CHROMIUM_FLAGS, "headless": True}


def guard_context(context, attempted: list[str]) -> None:
    """Let `context` reach loopback only: any other request is aborted and its URL kept in `attempted`."""
    def guard(route):
        host = urlsplit(route.request.url).hostname or ""
        if host in LOOPBACK_HOSTS:
            route.continue_()
        else:
            attempted.append(route.request.url)
            route.abort()

    context.route("**/*", guard)


@pytest.fixture
def outside_requests(context):
    """URLs the page tried to reach off this machine (each was aborted)."""
    attempted: list[str] = []
    guard_context(context, attempted)
    return attempted


@pytest.fixture
def console_app(make_app):
    """The app the console serves (the dummy backend); a test module overrides it for another."""
    return make_app()


@pytest.fixture
def console(console_app, live_server, page, outside_requests):
    """The console served on loopback, its clock at NOW; `console.url(path)`, `console.app`."""
    app = console_app
    app.extensions["console"].clock = lambda: NOW
    base = live_server(app)
    # What the console's strict policy blocked (an inline script or style would show here).
    blocked = []
    page.on("console", lambda message: blocked.append(message.text)
            if "Content Security Policy" in message.text else None)

    class Console:
        def __init__(self):
            self.app, self.base, self.page = app, base, page

        def url(self, path: str) -> str:
            return base + path

        def operator(self, email: str, role: str) -> str:
            from service.dialer.operators import create_operator

            with app.app_context():
                create_operator(email, PASSWORD, role, "Europe/Prague")
            return email

        def sign_in(self, email: str, password: str = PASSWORD):
            page.goto(self.url("/console/sign-in"))
            page.get_by_label("Email").fill(email)
            page.get_by_label("Password").fill(password)
            page.get_by_role("button", name="Sign in").click()

    yield Console()
    assert outside_requests == [], "the console tried to reach another machine"
    assert blocked == [], "the Content-Security-Policy blocked part of a page"


@pytest.fixture(scope="session")
def screenshot_folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("console-screenshots")


@pytest.fixture
def screenshot(screenshot_folder):
    """Save a full-page PNG under the run's temp folder (and in CONSOLE_SCREENSHOTS_DIR when set,
    which is how the README's pictures are made)."""
    def take(page, name: str) -> Path:
        path = screenshot_folder / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        assert path.stat().st_size > 1000
        copy_to = os.environ.get("CONSOLE_SCREENSHOTS_DIR")
        if copy_to:
            shutil.copy(path, Path(copy_to) / path.name)
        return path

    return take


def assert_accessible_basics(page) -> None:
    """One h1; every visible form field has a label (a <label for>, a wrapping label or aria-label)."""
    assert page.locator("h1").count() == 1
    unlabelled = page.evaluate("""() => Array.from(document.querySelectorAll('input, select, textarea'))
        .filter(f => f.type !== 'hidden' && f.type !== 'submit')
        .filter(f => !(f.labels && f.labels.length) && !f.getAttribute('aria-label'))
        .map(f => f.name || f.id)""")
    assert unlabelled == []
