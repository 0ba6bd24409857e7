"""The operator console (/console): server-rendered pages over the dialer's service functions."""
from __future__ import annotations

from typing import Callable, Optional

from flask import Flask, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user

import service.console.views.callback_deliveries  # noqa: F401 - callback pages (with views.callbacks)
from service.console import filters
from service.console.access import SignedInOperator
from service.console.blueprint import bp
from service.console.extensions import babel, csrf, limiter, login_manager
from service.console.views import auth, cancel, dashboard, messages, operators, templates, test_call  # noqa: F401
from service.dialer.operators import find_operator
from service.models.types import utcnow

LANGUAGES = ("en", "cs")
EXTENSION_KEY = "console"


class ConsoleSettings:
    """Per-application console settings; tests replace `clock`."""

    def __init__(self, clock: Callable = utcnow):
        self.clock = clock


def register_console(app: Flask, secure_cookies: bool, clock: Optional[Callable] = None) -> None:
    """Bind the console's extensions and blueprint; cookies are `Secure` when `secure_cookies`."""
    # Flask's defaults name these keys already, so they are set, not defaulted.
    app.config.update(
        WTF_CSRF_CHECK_DEFAULT=False, SESSION_COOKIE_SAMESITE="Lax", SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SECURE=secure_cookies, REMEMBER_COOKIE_SAMESITE="Lax", REMEMBER_COOKIE_SECURE=secure_cookies,
    )
    app.config.setdefault("CONSOLE_SIGNIN_LIMIT_PER_ACCOUNT", "5 per 15 minutes")
    app.config.setdefault("CONSOLE_SIGNIN_LIMIT_PER_ADDRESS", "30 per 15 minutes")
    # In-memory counters: right for one process; several processes each count their own (README, "Console").
    app.config.setdefault("RATELIMIT_STORAGE_URI", "memory://")
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", "console/translations")
    app.extensions[EXTENSION_KEY] = ConsoleSettings(clock or utcnow)
    login_manager.init_app(app)
    login_manager.login_view = "console.sign_in"
    login_manager.session_protection = "strong"
    login_manager.login_message = _l("Sign in to see this page.")
    login_manager.login_message_category = "info"
    login_manager.user_loader(_load_operator)
    csrf.init_app(app)
    limiter.init_app(app)
    babel.init_app(app, locale_selector=_select_locale, timezone_selector=_select_timezone)
    filters.register(app)
    app.register_blueprint(bp)


def _load_operator(operator_id: str):
    operator = find_operator(int(operator_id)) if operator_id.isdigit() else None
    return SignedInOperator(operator) if operator is not None else None


def _select_locale() -> Optional[str]:
    return request.accept_languages.best_match(LANGUAGES, default="en")


def _select_timezone() -> Optional[str]:
    return current_user.timezone if current_user.is_authenticated else None
