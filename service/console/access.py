"""Who is signed in to the console, and what their role lets them do."""
from __future__ import annotations

from functools import wraps

from flask import abort
from flask_login import UserMixin, current_user

from service.models.operator import Operator, OperatorRole


class SignedInOperator(UserMixin):
    """Flask-Login's view of an operator (the model stays free of Flask-Login)."""

    def __init__(self, operator: Operator):
        self.id = operator.id
        self.email = operator.email
        self.role = operator.role
        self.timezone = operator.timezone
        self.active = operator.is_active

    @property
    def is_active(self) -> bool:
        return self.active

    def may(self, role: str) -> bool:
        return self.role.allows(OperatorRole(role))


def requires(role: str):
    """Refuse (403) a signed-in operator whose role is below `role`."""
    def decorate(view):
        @wraps(view)
        def guarded(*args, **kwargs):
            if not current_user.may(role):
                abort(403)
            return view(*args, **kwargs)
        return guarded
    return decorate
