"""Console operators: people who sign in to /console, each with one role."""
from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Enum as SAEnum
from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from service.extensions import db
from service.models.types import UTCDateTime, utcnow


class OperatorRole(str, enum.Enum):
    """Each role may do what the roles before it may: viewers read, operators also act, admins also manage."""

    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"

    def allows(self, needed: "OperatorRole") -> bool:
        order = list(OperatorRole)
        return order.index(self) >= order.index(needed)


ROLE_TYPE = SAEnum(OperatorRole, native_enum=False, length=16, validate_strings=True,
                   values_callable=lambda roles: [role.value for role in roles], name="operator_role")


class Operator(db.Model):
    """A console account; `password_hash` is an Argon2 hash, never the password."""

    __tablename__ = "console_operator"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[OperatorRole] = mapped_column(ROLE_TYPE, default=OperatorRole.VIEWER)
    is_active: Mapped[bool] = mapped_column(default=True)
    # IANA zone the console shows this operator's times in.
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Prague")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self) -> str:
        return f"<Operator {self.id} {self.role.value}>"
