"""The /console blueprint: every page needs a signed-in operator; every POST a CSRF token."""
from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf.csrf import CSRFError

from service.console.extensions import csrf, login_manager
from service.errors import ServiceError

bp = Blueprint("console", __name__, url_prefix="/console", template_folder="templates",
               static_folder="static", static_url_path="/static")
OPEN_ENDPOINTS = {"console.sign_in", "console.static"}


@bp.before_request
def require_operator_and_token():
    # The rest of the service takes JSON with bearer keys, so CSRF is checked here, not app-wide.
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        csrf.protect()
    if request.endpoint not in OPEN_ENDPOINTS and not current_user.is_authenticated:
        return login_manager.unauthorized()
    return None


def _error_page(status: int, title: str, detail: str):
    return render_template("console/error.html", title=title, detail=detail), status


@bp.errorhandler(CSRFError)
def refuse_without_token(exc):
    return _error_page(400, _("Form expired or forged"),
                       _("The form had no valid security token. Go back, reload the page and send it again."))


@bp.errorhandler(403)
def refuse_role(exc):
    return _error_page(403, _("Not allowed"), _("Your role does not allow this."))


@bp.errorhandler(404)
def not_found(exc):
    return _error_page(404, _("Not found"), _("There is nothing at this address."))


@bp.errorhandler(429)
def too_many_attempts(exc):
    return _error_page(429, _("Too many sign-in attempts"),
                       _("Too many failed sign-in attempts for this account or from this address. "
                         "Wait a few minutes before trying again."))


@bp.errorhandler(ServiceError)
def service_refused(exc):
    # Our exceptions' messages are written to be shown; anything else stays the app's 500.
    return _error_page(int(exc.status_code), _("Cannot do this"), exc.message)
