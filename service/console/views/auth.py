"""Sign in (rate-limited per account and per address) and sign out."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_user, logout_user

from service.console.access import SignedInOperator
from service.console.blueprint import bp
from service.console.extensions import limiter
from service.console.forms import ConfirmForm, SignInForm
from service.dialer.operators import MAX_EMAIL_LENGTH, authenticate, normalize_email


def _failed(response) -> bool:
    # Only failed attempts count against the limits: a signed-in operator is redirected (303).
    return response.status_code != 303


def _account_key() -> str:
    return "account:" + normalize_email(request.form.get("email", ""))[:MAX_EMAIL_LENGTH]


def _safe_next(target: str | None) -> str:
    # Only a path on this site: never an open redirect to another host.
    parts = urlsplit(target or "")
    if target and not parts.scheme and not parts.netloc and target.startswith("/console"):
        return target
    return url_for("console.dashboard")


@bp.route("/sign-in", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["CONSOLE_SIGNIN_LIMIT_PER_ADDRESS"], methods=["POST"],
               deduct_when=_failed, scope="console-sign-in-address")
@limiter.limit(lambda: current_app.config["CONSOLE_SIGNIN_LIMIT_PER_ACCOUNT"], methods=["POST"],
               key_func=_account_key, deduct_when=_failed, scope="console-sign-in-account")
def sign_in():
    form = SignInForm()
    if form.validate_on_submit():
        operator = authenticate(form.email.data, form.password.data)
        if operator is not None:
            login_user(SignedInOperator(operator))
            return redirect(_safe_next(request.args.get("next")), code=303)
        flash(_("Wrong email or password."), "error")
    status = 401 if request.method == "POST" else 200
    return render_template("console/sign_in.html", form=form), status


@bp.route("/sign-out", methods=["POST"])
def sign_out():
    ConfirmForm().validate_on_submit()
    logout_user()
    flash(_("You are signed out."), "info")
    return redirect(url_for("console.sign_in"), code=303)
