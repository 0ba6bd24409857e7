"""Operators (admins only): list, create, change role or disable."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from service.console.access import requires
from service.console.blueprint import bp
from service.console.forms import OperatorChangeForm, OperatorCreateForm
from service.dialer.operators import change_operator, create_operator, list_operators
from service.errors import ConflictError, InvalidInputError


def _page(form, errors=None, status=200):
    return render_template("console/operators.html", operators=list_operators(), form=form,
                           change_form=OperatorChangeForm(), errors=errors or {}), status


@bp.route("/operators", methods=["GET", "POST"])
@requires("admin")
def operator_list():
    form = OperatorCreateForm()
    if request.method == "GET":
        return _page(form)
    if not form.validate_on_submit():
        return _page(form, form.errors, 422)
    try:
        create_operator(form.email.data, form.password.data, form.role.data, form.timezone.data)
    except (InvalidInputError, ConflictError) as exc:
        return _page(form, exc.errors or {"email": [exc.message]}, 422)
    flash(_("Operator %(email)s created.", email=form.email.data), "info")
    return redirect(url_for("console.operator_list"), code=303)


@bp.route("/operators/<int(min=1, max=2147483647):operator_id>", methods=["POST"])
@requires("admin")
def operator_change(operator_id):
    form = OperatorChangeForm()
    if form.validate_on_submit():
        change_operator(operator_id, form.role.data, form.is_active.data)
        flash(_("Operator changed."), "info")
    return redirect(url_for("console.operator_list"), code=303)
