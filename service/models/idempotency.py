"""Stored responses of requests sent with an `Idempotency-Key` header."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

from sqlalchemy import Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from service.extensions import db
from service.models.message import ID_TYPE, JSON_TYPE
from service.models.types import UTCDateTime, utcnow


class IdempotencyKey(db.Model):
    __tablename__ = "idempotency_key"
    __table_args__ = (UniqueConstraint("api_key_hash", "key"),)

    id: Mapped[int] = mapped_column(ID_TYPE, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    # A digest of the caller's API key scopes the key; the key itself is never stored.
    api_key_hash: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    # NULL while the first request is still being handled.
    status_code: Mapped[Optional[int]] = mapped_column(Integer)
    response_body: Mapped[Optional[Any]] = mapped_column(JSON_TYPE)
