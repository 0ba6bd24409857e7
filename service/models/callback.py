"""Status callbacks: the client endpoints, the outbox of deliveries, and every attempt made."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import ForeignKey, Index, Integer, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.extensions import db
from service.models.message import ID_TYPE, JSON_TYPE, DialerMessage, TimestampMixin
from service.models.types import UTCDateTime, utcnow

EVENT_CREATED = "message.created"
EVENT_STATE_CHANGED = "message.state_changed"
EVENT_FINAL = "message.final"
EVENT_TYPES = (EVENT_CREATED, EVENT_STATE_CHANGED, EVENT_FINAL)

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
DELIVERY_STATUSES = (PENDING, DELIVERED, FAILED)
MAX_URL_LENGTH = 2048


class CallbackEndpoint(TimestampMixin, db.Model):
    """A client system's URL that receives the events it subscribed to, signed with its secret.

    After a rotation the previous secret signs too, until `previous_secret_expires_at`."""

    __tablename__ = "callback_endpoint"

    id: Mapped[int] = mapped_column(ID_TYPE, primary_key=True)
    url: Mapped[str] = mapped_column(String(MAX_URL_LENGTH))
    description: Mapped[str] = mapped_column(Text, default="")
    # Empty: every event type.
    event_types: Mapped[list[str]] = mapped_column(JSON_TYPE, default=list)
    tag: Mapped[Optional[str]] = mapped_column(String(255))
    enabled: Mapped[bool] = mapped_column(default=True)
    disabled_reason: Mapped[Optional[str]] = mapped_column(Text)
    secret: Mapped[str] = mapped_column(String(128))
    previous_secret: Mapped[Optional[str]] = mapped_column(String(128))
    previous_secret_expires_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    # Since when every attempt has failed (None after a success): disables the endpoint in time.
    failing_since: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)


class CallbackDelivery(db.Model):
    """The outbox row "deliver this event of this message to this endpoint (or to the message's
    own callback_url)", written in the transaction of the change that caused it.

    While a dispatcher sends it, `next_attempt_at` is its lease. `body` is fixed when it is
    first sent, so every retry and replay sends the same event under the same `webhook_id`."""

    __tablename__ = "callback_delivery"
    __table_args__ = (
        Index(None, "status", "next_attempt_at"),
        Index(None, "dialer_message_id", "sequence"),
        Index(None, "endpoint_id", "status", "id"),
        Index(None, "status", "delivered_at"),
    )

    id: Mapped[int] = mapped_column(ID_TYPE, primary_key=True)
    webhook_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    dialer_message_id: Mapped[int] = mapped_column(ForeignKey("dialer_message.id", ondelete="CASCADE"))
    # None: the message's own callback_url, signed with DIALER_CALLBACK_SIGNING_SECRET.
    endpoint_id: Mapped[Optional[int]] = mapped_column(ForeignKey("callback_endpoint.id", ondelete="CASCADE"))
    event_type: Mapped[str] = mapped_column(String(32))
    sequence: Mapped[int] = mapped_column(Integer)
    previous_state: Mapped[Optional[str]] = mapped_column(String(32))
    state: Mapped[Optional[str]] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    attempts: Mapped[int] = mapped_column(SmallInteger, default=0)
    next_attempt_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    delivered_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    body: Mapped[Optional[str]] = mapped_column(Text)

    message: Mapped[DialerMessage] = relationship()


class CallbackAttempt(db.Model):
    """One try at sending a delivery, and what came back."""

    __tablename__ = "callback_attempt"

    id: Mapped[int] = mapped_column(ID_TYPE, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("callback_delivery.id", ondelete="CASCADE"), index=True)
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    duration_ms: Mapped[int] = mapped_column(Integer)
    status_code: Mapped[Optional[int]] = mapped_column(SmallInteger)
    response_body: Mapped[Optional[str]] = mapped_column(Text)
    error: Mapped[Optional[str]] = mapped_column(String(100))

