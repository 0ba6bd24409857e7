"""The console over the Flask test client: accounts, cookies, headers, limits, dashboard numbers."""
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from service.dialer.operators import authenticate, change_operator, create_operator
from service.errors import ConflictError, InvalidInputError
from service.models.states import DialerMessageState as State
from service.security_headers import API_POLICY, CONSOLE_POLICY
from tests.support.console import PASSWORD, TOKEN, sign_in
from tests.support.factories import sent_message

NOW = datetime(2026, 11, 30, 9, 30, tzinfo=timezone.utc)


@pytest.fixture
def operator(app_context):
    return create_operator("Ops@Example.com", PASSWORD, "operator")


def test_create_operator_reads_the_password_twice_from_a_pipe_and_stores_only_a_hash(app_context):
    runner = app_context.test_cli_runner()
    result = runner.invoke(args=["dialer", "create-operator", "ann@example.com", "--role", "admin"],
                           input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert "created admin ann@example.com" in result.output and PASSWORD not in result.output
    operator = authenticate("ann@example.com", PASSWORD)
    assert operator is not None and operator.password_hash.startswith("$argon2")
    mismatch = runner.invoke(args=["dialer", "create-operator", "bob@example.com"], input=f"{PASSWORD}\nother\n")
    assert mismatch.exit_code != 0 and authenticate("bob@example.com", PASSWORD) is None
    short = runner.invoke(args=["dialer", "create-operator", "bob@example.com"], input="short\nshort\n")
    assert short.exit_code == 1 and "password" in short.output
    again = runner.invoke(args=["dialer", "create-operator", "ann@example.com"], input=f"{PASSWORD}\n{PASSWORD}\n")
    assert again.exit_code == 1 and "exists" in again.output


def test_wrong_unknown_and_disabled_accounts_do_not_authenticate(app_context, operator):
    create_operator("admin@example.com", PASSWORD, "admin")
    assert authenticate("ops@example.com", PASSWORD).id == operator.id
    assert authenticate("ops@example.com", PASSWORD + "x") is None
    assert authenticate("nobody@example.com", PASSWORD) is None
    change_operator(operator.id, "operator", is_active=False)
    assert authenticate("ops@example.com", PASSWORD) is None


def test_the_last_active_admin_cannot_be_demoted(app_context):
    admin = create_operator("admin@example.com", PASSWORD, "admin")
    with pytest.raises(ConflictError):
        change_operator(admin.id, "viewer", is_active=True)
    with pytest.raises(InvalidInputError):
        create_operator("not an email", PASSWORD, "root")


def test_session_cookie_is_httponly_and_lax_and_secure_in_production(make_app):
    for app_env, secure in (("testing", False), ("production", True)):
        app = make_app(app_env=app_env)
        with app.app_context():
            create_operator(f"{app_env}@example.com", PASSWORD, "viewer")
        response = sign_in(app.test_client(), f"{app_env}@example.com")
        assert response.status_code == 303
        cookie = response.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
        assert ("Secure" in cookie) is secure


def test_console_pages_get_the_console_policy_and_the_api_keeps_its_own(app, client, operator):
    sign_in(client, "ops@example.com")
    page = client.get("/console/messages")
    assert page.headers["Content-Security-Policy"] == CONSOLE_POLICY
    assert "'unsafe-inline'" not in CONSOLE_POLICY and "script-src 'self'" in CONSOLE_POLICY
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["Referrer-Policy"] == "same-origin"
    assert client.get("/api/v1/messages").headers["Content-Security-Policy"] == API_POLICY


def test_sign_in_goes_only_to_a_console_path_after(client, operator):
    assert sign_in(client, "ops@example.com", next_path="?next=https://evil.example/").headers[
        "Location"] == "/console/"
    client.post("/console/sign-out", data={})  # refused without a token: still signed in
    assert client.get("/console/messages").status_code == 200


def test_calls_per_hour_counts_sent_messages_by_hour_of_the_injected_clock(app, client, operator):
    app.extensions["console"].clock = lambda: NOW
    with app.app_context():
        for minutes in (5, 20, 70, 60 * 23 + 20, 60 * 23 + 50):
            sent_message(sent_at=NOW - timedelta(minutes=minutes))
    sign_in(client, "ops@example.com")
    hours = client.get("/console/calls-per-hour.json").get_json()
    assert len(hours) == 24 and hours[-1] == {"hour": "2026-11-30T09:00:00+00:00", "calls": 2}
    assert hours[-2]["calls"] == 1 and hours[0] == {"hour": "2026-11-29T10:00:00+00:00", "calls": 1}
    assert sum(hour["calls"] for hour in hours) == 4  # 23 h 50 min ago falls in the hour before the chart


def test_dashboard_backlog_counts_what_is_pending(app, client, operator):
    app.extensions["console"].clock = lambda: NOW
    with app.app_context():
        sent_message(state=State.WAITING, sent_at=None, created_at=NOW - timedelta(hours=3))
        sent_message(state=State.ERROR_RETRY)
        sent_message(state=State.READY, needs_status_lookup=True)
        sent_message(state=State.DECLINED, is_final_state=True, created_at=NOW - timedelta(hours=9))
        for hours in (5, 2):
            sent_message(state=State.SCHEDULED, sent_at=None, next_attempt_at=NOW + timedelta(hours=hours))
    sign_in(client, "ops@example.com")
    backlog = client.get("/console/").text
    cells = dict(re.findall(r'<th scope="row">([^<]+)</th><td class="number">(?:<a [^>]+>)?([^<]+)<', backlog))
    assert cells["Waiting"] == "1" and cells["Retrying"] == "1" and cells["Awaiting an outcome"] == "1"
    assert cells["Awaiting a status look-up"] == "1" and cells["Oldest pending"] == "3 hours"
    assert cells["Scheduled"] == "2"
    # The operator's zone is Europe/Prague: NOW + 2 hours is 12:30 there.
    assert re.search(r'id="next-scheduled"><a href="/console/messages\?state=SCHEDULED">[^<]*12:30:00', backlog)
    lookup_link = re.search(r'Awaiting a status look-up</th><td class="number"><a href="([^"]+)"', backlog).group(1)
    listed = client.get(lookup_link.replace("&amp;", "&")).text
    assert lookup_link == "/console/messages?needs_status_lookup=true"
    assert len(re.findall(r'href="/console/messages/\d+"', listed)) == 1


def test_expired_and_cancelled_are_counted_but_not_in_the_answer_rate(app, client, operator):
    app.extensions["console"].clock = lambda: NOW
    with app.app_context():
        for state in (State.ANSWERED_COMPLETE, State.UNANSWERED, State.EXPIRED, State.CANCELLED, State.CANCELLED):
            sent_message(state=state, is_final_state=True, created_at=NOW - timedelta(hours=1))
    sign_in(client, "ops@example.com")
    page = client.get("/console/").text
    day = page[page.index('id="outcomes-24h"'):page.index('id="outcomes-7d"')]
    counts = dict(re.findall(r"<tr><td>([^<]+)</td>\s*<td class=\"number\"><a [^>]+>(\d+)</a>", day))
    assert counts["Expired"] == "1" and counts["Cancelled"] == "2" and counts["Answered complete"] == "1"
    assert "Answer rate: <strong>50%</strong>" in day  # 1 answered of the 2 that were called


def test_the_live_preview_refuses_a_body_over_its_budget(client, operator):
    sign_in(client, "ops@example.com")
    token = TOKEN.search(client.get("/console/templates/new").text).group(1)
    response = client.post("/console/templates/preview", data={"csrf_token": token, "body": "x" * 20_001})
    assert response.status_code == 413
    preview = client.post("/console/templates/preview", data={"csrf_token": token, "body": "{{ a }",
                                                               "sample_context": "{}"}).get_json()
    assert preview["line"] == 1 and preview["line_error"]


def test_the_compiled_czech_catalogue_matches_its_source():
    folder = Path(__file__).resolve().parents[2] / "service/console/translations/cs/LC_MESSAGES"
    with open(folder / "messages.po", "rb") as source, open(folder / "messages.mo", "rb") as compiled:
        po, mo = read_po(source), read_mo(compiled)
    assert {m.id: m.string for m in po if m.id} == {m.id: m.string for m in mo if m.id}
    assert all(m.string for m in po if m.id)


def test_the_message_list_pages_with_a_cursor_and_keeps_its_filters(app, client, operator):
    with app.app_context():
        for _ in range(51):
            sent_message(tag="bulk")
        sent_message(tag="other")
    sign_in(client, "ops@example.com")
    first = client.get("/console/messages?tag=bulk").text
    assert first.count('<td class="state">') == 50
    older = re.search(r'<a rel="next" href="([^"]+)"', first).group(1).replace("&amp;", "&")
    assert "tag=bulk" in older
    second = client.get(older).text
    assert second.count('<td class="state">') == 1 and 'rel="next"' not in second
    refused = client.get("/console/messages?cursor=not-a-cursor")
    assert refused.status_code == 422 and 'id="cursor-errors"' in refused.text


def test_an_admin_disables_an_operator_who_then_cannot_sign_in(app, client):
    # Not the `operator` fixture: its app context would be shared by both clients' requests (one `g`).
    with app.app_context():
        create_operator("admin@example.com", PASSWORD, "admin")
        operator = create_operator("ops@example.com", PASSWORD, "operator")
    assert sign_in(app.test_client(), "ops@example.com").status_code == 303
    sign_in(client, "admin@example.com")
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/console/operators").text).group(1)
    changed = client.post(f"/console/operators/{operator.id}", data={"csrf_token": token, "role": "viewer"})
    assert changed.status_code == 303
    assert sign_in(app.test_client(), "ops@example.com").status_code == 401
