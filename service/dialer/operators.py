"""Console operator accounts: create, sign in, list, change. Passwords are Argon2 hashes."""
from __future__ import annotations

from typing import Optional
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from service.errors import ConflictError, InvalidInputError, NotFoundError
from service.extensions import db
from service.infrastructure.transactions import end_transaction, transaction
from service.models.operator import Operator, OperatorRole

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 256
MAX_EMAIL_LENGTH = 254
_hasher = PasswordHasher()
# Verified when the email names no account, so a sign-in takes as long whether or not it exists.
_UNKNOWN_ACCOUNT_HASH = _hasher.hash("no account has this password")


class OperatorNotFoundError(NotFoundError):
    default_message = "No operator has this id."


def normalize_email(email: str) -> str:
    return (email or "").strip().lower()


def _checked(email: str, password: str, role: str, timezone: str) -> tuple[str, OperatorRole]:
    errors = {}
    if not (0 < len(email) <= MAX_EMAIL_LENGTH) or "@" not in email or any(c.isspace() for c in email):
        errors["email"] = ["An email address of at most 254 characters."]
    if not (MIN_PASSWORD_LENGTH <= len(password or "") <= MAX_PASSWORD_LENGTH):
        errors["password"] = [f"Between {MIN_PASSWORD_LENGTH} and {MAX_PASSWORD_LENGTH} characters."]
    try:
        parsed_role = OperatorRole(role)
    except ValueError:
        errors["role"] = ["One of viewer, operator, admin."]
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        errors["timezone"] = ["A time zone such as Europe/Prague."]
    if errors:
        raise InvalidInputError(errors=errors)
    return email, parsed_role


def create_operator(email: str, password: str, role: str = "viewer", timezone: str = "Europe/Prague") -> Operator:
    """Store a new operator; InvalidInputError for bad values, ConflictError when the email is taken."""
    email, parsed_role = _checked(normalize_email(email), password, role, timezone)
    operator = Operator(email=email, password_hash=_hasher.hash(password), role=parsed_role,
                        is_active=True, timezone=timezone)
    try:
        with transaction() as session:
            session.add(operator)
    except IntegrityError:
        raise ConflictError("An operator with this email exists.", errors={"email": ["Already exists."]}) from None
    return operator


def authenticate(email: str, password: str) -> Optional[Operator]:
    """The active operator whose email and password these are, else None."""
    email = normalize_email(email)[:MAX_EMAIL_LENGTH]
    password = (password or "")[:MAX_PASSWORD_LENGTH]
    operator = db.session.scalars(select(Operator).where(Operator.email == email)).one_or_none()
    end_transaction()
    try:
        _hasher.verify(operator.password_hash if operator else _UNKNOWN_ACCOUNT_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if operator is None or not operator.is_active:
        return None
    if _hasher.check_needs_rehash(operator.password_hash):
        with transaction():
            operator.password_hash = _hasher.hash(password)
    return operator


def find_operator(operator_id: int) -> Optional[Operator]:
    operator = db.session.get(Operator, operator_id)
    end_transaction()
    return operator


def list_operators() -> list[Operator]:
    operators = list(db.session.scalars(select(Operator).order_by(Operator.email)))
    end_transaction()
    return operators


def change_operator(operator_id: int, role: str, is_active: bool) -> Operator:
    """Set an operator's role and whether it may sign in; the last active admin stays one."""
    with transaction() as session:
        operator = session.get(Operator, operator_id)
        if operator is None:
            raise OperatorNotFoundError()
        try:
            new_role = OperatorRole(role)
        except ValueError:
            raise InvalidInputError(errors={"role": ["One of viewer, operator, admin."]}) from None
        if operator.role == OperatorRole.ADMIN and (new_role != OperatorRole.ADMIN or not is_active):
            admins = session.scalar(select(func.count()).select_from(Operator).where(
                Operator.role == OperatorRole.ADMIN, Operator.is_active.is_(True)))
            if admins <= 1:
                raise ConflictError("The last active admin cannot be demoted or disabled.")
        operator.role, operator.is_active = new_role, is_active
    return operator
