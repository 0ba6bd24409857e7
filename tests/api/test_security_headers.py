"""Security headers: on every response, the docs page with its own narrow policy."""
import base64
import hashlib
import re

import pytest

from tests.conftest import WEBHOOK_SECRET

API_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"


def assert_common_headers(response):
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


@pytest.mark.parametrize("method, path, kwargs, status", [
    ("GET", "/api/v1/messages", {}, 200),
    ("POST", "/api/v1/messages", {"json": {"recipient": "+420777123456", "content": "Hi"}}, 201),
    ("GET", "/api/v1/messages/12345", {}, 404),
    ("POST", "/api/v1/messages", {"json": {"recipient": "nope", "content": "Hi"}}, 422),
    ("GET", "/api/v1/nothing-here", {}, 404),
    ("GET", "/healthz", {}, 200),
    ("GET", "/readyz", {}, 200),
    ("GET", "/api/openapi.json", {}, 200),
    ("POST", "/webhooks/daktela", {"json": {"name": "x"}}, 401),
])
def test_json_answers_carry_the_security_headers_and_no_store(api, method, path, kwargs, status):
    response = api.request(method, path, **kwargs)
    assert response.status_code == status
    assert_common_headers(response)
    assert response.headers["Content-Security-Policy"] == API_POLICY
    assert response.headers["Cache-Control"] == "no-store"


def test_an_unauthenticated_answer_carries_them_too(client):
    response = client.get("/api/v1/messages")
    assert response.status_code == 401
    assert_common_headers(response)
    assert response.headers["Cache-Control"] == "no-store"


def test_an_accepted_webhook_carries_them(daktela_app):
    app = daktela_app(webhook_secrets=(WEBHOOK_SECRET,))
    response = app.test_client().post("/webhooks/daktela", json={"name": "dialer_1"},
                                      headers={"X-Webhook-Secret": WEBHOOK_SECRET})
    assert response.status_code == 202
    assert_common_headers(response)


def test_docs_assets_keep_their_cache_lifetime(client):
    response = client.get("/api/docs/assets/swagger-ui.css")
    assert_common_headers(response)
    assert response.headers["Cache-Control"] == "public, max-age=86400"
    response.close()


def test_docs_page_allows_only_its_own_files_and_its_inline_script(client):
    response = client.get("/api/docs")
    assert response.status_code == 200
    assert_common_headers(response)
    directives = response.headers["Content-Security-Policy"].split(";")
    policy = dict(directive.strip().split(" ", 1) for directive in directives)
    scripts = re.findall(r"<script>(.*?)</script>", response.get_data(as_text=True), re.DOTALL)
    assert len(scripts) == 1
    digest = base64.b64encode(hashlib.sha256(scripts[0].encode()).digest()).decode()
    assert policy["script-src"] == f"'self' 'sha256-{digest}'"
    assert policy["default-src"] == "'self'" and policy["connect-src"] == "'self'"
    assert policy["img-src"] == "'self' data:" and policy["object-src"] == "'none'"
    # Nothing from elsewhere: every file the page names is ours.
    assert not re.search(r"https?://", response.get_data(as_text=True))
