"""Security headers on every response.

The API answers JSON only, so its policy forbids everything a browser could do
with a response (run it, frame it, sniff it as HTML). The Swagger UI page at
/api/docs is the one HTML page: it gets a policy that allows its own files
and its one inline start-up script (by hash), and still cannot be framed.
flask-talisman was not used: it also redirects to HTTPS, which Heroku's
router and the local `make run` handle differently, for a few lines of code.
"""
from __future__ import annotations

import base64
import hashlib
import re

from flask import Flask, Response, request

API_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
_DOCS_POLICY = ("default-src 'self'; script-src 'self' {hashes}; style-src 'self' 'unsafe-inline'; "
                "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
                "form-action 'self'; frame-ancestors 'none'")
DOCS_ENDPOINT = "api-docs.openapi_swagger_ui"
# The console's pages: their own scripts and styles only (no inline code, no other origin),
# forms posting back to the service, fetches to it (live chart and preview), never framed.
CONSOLE_BLUEPRINT = "console"
CONSOLE_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                  "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def script_hashes(html: str) -> list[str]:
    """CSP source expressions for the inline scripts of `html` (`'sha256-…'`)."""
    return [
        "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'"
        for script in _INLINE_SCRIPT.findall(html)
    ]


def _docs_policy(response: Response) -> str:
    # Swagger UI styles its elements inline ('unsafe-inline' for styles only)
    # and draws its icons as data: images.
    hashes = " ".join(script_hashes(response.get_data(as_text=True))) or "'none'"
    return _DOCS_POLICY.format(hashes=hashes)


def init_security_headers(app: Flask) -> None:
    @app.after_request
    def add_security_headers(response: Response) -> Response:
        headers = response.headers
        headers["X-Content-Type-Options"] = "nosniff"
        headers["X-Frame-Options"] = "DENY"
        is_docs_page = request.endpoint == DOCS_ENDPOINT and response.mimetype == "text/html"
        is_console_page = request.blueprint == CONSOLE_BLUEPRINT and response.mimetype == "text/html"
        # Over HTTPS, Flask-WTF refuses a console form posted without a same-site Referer.
        headers["Referrer-Policy"] = "same-origin" if is_console_page else "no-referrer"
        headers["Content-Security-Policy"] = (
            _docs_policy(response) if is_docs_page else CONSOLE_POLICY if is_console_page else API_POLICY)
        # API answers and console pages carry phone numbers and message texts: no cache keeps them.
        if (response.mimetype == "application/json" or is_console_page) and "Cache-Control" not in headers:
            headers["Cache-Control"] = "no-store"
        return response
