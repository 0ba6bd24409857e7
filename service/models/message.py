"""Dialer messages and the objects they relate to."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, SmallInteger, String, Text, event, inspect, text
from sqlalchemy import Enum as SAEnum
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, WriteOnlyMapped, mapped_column, relationship

from service.extensions import db
from service.models.states import DialerMessageState
from service.models.types import UTCDateTime, utcnow

# SQLite only auto-increments an INTEGER PRIMARY KEY.
ID_TYPE = BigInteger().with_variant(Integer(), "sqlite")
JSON_TYPE = JSON().with_variant(JSONB(), "postgresql")
STATE_TYPE = SAEnum(
    DialerMessageState,
    native_enum=False,
    length=32,
    validate_strings=True,
    values_callable=lambda states: [state.value for state in states],
    name="dialer_message_state",
)
PRIORITY_HIGHEST, PRIORITY_LOWEST = 1, 3


def where_set(column: str) -> dict[str, Any]:
    """A partial index's options: only rows where `column` is set (both databases use it for
    any comparison with the column, which implies it is set)."""
    clause = text(f"{column} IS NOT NULL")
    return {"postgresql_where": clause, "sqlite_where": clause}


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    changed_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, onupdate=utcnow, nullable=False
    )


class DialerMessage(TimestampMixin, db.Model):
    """A message and its call. `changed_at` moves only when something the API shows changes
    (see `_stamp_visible_change`): bookkeeping and ignored observations leave it as it was."""

    __tablename__ = "dialer_message"
    # Every change of state rewrites a row's entries in every index (a state is indexed, so
    # PostgreSQL cannot update in place): a column most messages leave empty is indexed only
    # where it is set, and no index repeats another's leading columns (see revision 0012).
    __table_args__ = (
        Index(None, "created_at"),
        Index(None, "state", "next_attempt_at"),
        Index(None, "is_final_state", "next_check_at"),
        Index(None, "recipient", "published_at"),
        Index(None, "state", "valid_until", **where_set("valid_until")),
        Index(None, "template_slug", **where_set("template_slug")),
        Index(None, "template_id", **where_set("template_id")),
        Index(None, "tag", **where_set("tag")),
        Index(None, "withdrawal", **where_set("withdrawal")),
        Index(None, "idempotency_key_id", **where_set("idempotency_key_id")),
    )

    id: Mapped[int] = mapped_column(ID_TYPE, primary_key=True)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    sent_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    recipient: Mapped[str] = mapped_column(String(20))
    content: Mapped[str] = mapped_column(Text)
    template_slug: Mapped[Optional[str]] = mapped_column(String(100))
    template_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("dialer_template.id", ondelete="SET NULL")
    )
    state: Mapped[DialerMessageState] = mapped_column(
        STATE_TYPE, default=DialerMessageState.WAITING
    )
    backend: Mapped[Optional[str]] = mapped_column(String(255))
    error: Mapped[Optional[str]] = mapped_column(Text)
    extra_data: Mapped[dict[str, Any]] = mapped_column(JSON_TYPE, default=dict)
    extra_sender_data: Mapped[dict[str, Any]] = mapped_column(JSON_TYPE, default=dict)
    tag: Mapped[Optional[str]] = mapped_column(String(255))
    is_final_state: Mapped[bool] = mapped_column(default=False)
    priority: Mapped[int] = mapped_column(SmallInteger, default=PRIORITY_LOWEST)
    is_autodialer: Mapped[bool] = mapped_column(default=True)
    number_of_send_attempts: Mapped[int] = mapped_column(Integer, default=0)
    number_of_status_check_attempts: Mapped[int] = mapped_column(Integer, default=0)
    # When the worker may next try to publish the message; while a publisher
    # works on it, this is its lease, so no other process publishes it meanwhile.
    next_attempt_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    # Call tracking: the provider's last-edit time of the last observation
    # applied (in UTC, read in DAKTELA_TIMEZONE; it orders observations), the next call
    # the provider scheduled, when a webhook last told us something, when the
    # poller should next account for the message, and whether it must look
    # the record up directly.
    last_edited: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    # A digest of the last applied observation's provider data (see state_machine.observation_key).
    observation_key: Mapped[Optional[str]] = mapped_column(String(32))
    nextcall_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    last_webhook_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    next_check_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    needs_status_lookup: Mapped[bool] = mapped_column(default=False)
    # The Idempotency-Key claim of the API request that created the message,
    # stored in the message's own transaction: a retry after that request died
    # unanswered finds the message instead of sending another.
    # Call timing: the earliest and latest moments the message may be published (valid_until
    # also takes back a record not yet dialled), the message's own calling hours (else the
    # setting's), why a SCHEDULED message waits (until next_attempt_at), when it was handed to
    # the provider (the recipient's daily limit counts these), the end of a publisher's lease
    # while it publishes, and a pending take-back ("cancel:<channel>" or "expire") of a record.
    send_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    valid_until: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    calling_hours: Mapped[Optional[str]] = mapped_column(String(200))
    schedule_note: Mapped[Optional[str]] = mapped_column(Text)
    published_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    leased_until: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    withdrawal: Mapped[Optional[str]] = mapped_column(String(32))
    idempotency_key_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("idempotency_key.id", ondelete="SET NULL")
    )
    # Status callbacks: the client's own URL for this message (signed with the service-wide
    # secret), and how many callback events the message has had (their `sequence`).
    callback_url: Mapped[Optional[str]] = mapped_column(String(2048))
    callback_sequence: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    related_objects: Mapped[list["DialerMessageRelatedObject"]] = relationship(
        back_populates="dialer_message",
        cascade="all, delete-orphan",
        passive_deletes=True,
        lazy="selectin",
        order_by="DialerMessageRelatedObject.id",
    )
    # Write-only: adding an event never loads the history.
    events: WriteOnlyMapped["DialerMessageEvent"] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, order_by="DialerMessageEvent.id"
    )

    @property
    def failed(self) -> bool:
        return self.state == DialerMessageState.ERROR

    @property
    def scheduled_until(self) -> Optional[datetime]:
        """When a SCHEDULED message is next considered for publishing."""
        return self.next_attempt_at if self.state == DialerMessageState.SCHEDULED else None

    @property
    def pending_take_back(self) -> Optional[str]:
        """"cancel" or "expire" while the provider's record is being removed for it."""
        return self.withdrawal.partition(":")[0] if self.withdrawal else None

    def __repr__(self) -> str:
        return f"<DialerMessage {self.id} {self.state}>"


# The columns the API shows (besides ids and times): a change to any of them is a change
# of the message; the others (leases, check schedules, lookup flags) are bookkeeping.
VISIBLE_COLUMNS = (
    "sent_at", "recipient", "content", "template_slug", "template_id", "state", "backend", "error",
    "extra_data", "extra_sender_data", "tag", "is_final_state", "priority", "is_autodialer",
    "number_of_send_attempts", "number_of_status_check_attempts", "send_at", "valid_until", "calling_hours",
    "schedule_note", "withdrawal",
)


@event.listens_for(DialerMessage, "before_update")
def _stamp_visible_change(mapper, connection, message: DialerMessage) -> None:
    state = inspect(message)
    if any(state.attrs[name].history.has_changes() for name in VISIBLE_COLUMNS):
        message.changed_at = utcnow()


class DialerMessageRelatedObject(TimestampMixin, db.Model):
    __tablename__ = "dialer_message_related_object"
    __table_args__ = (
        Index(None, "content_type", "object_id_int"),
        Index(None, "content_type", "object_id"),
    )

    id: Mapped[int] = mapped_column(ID_TYPE, primary_key=True)
    dialer_message_id: Mapped[int] = mapped_column(
        ForeignKey("dialer_message.id", ondelete="CASCADE"), index=True
    )
    content_type: Mapped[str] = mapped_column(String(100))
    object_id: Mapped[str] = mapped_column(Text)
    object_id_int: Mapped[Optional[int]] = mapped_column(BigInteger)
    # Whether object_id was given as an integer (42) rather than text ("42"):
    # both are stored as text and indexed as an integer, and each is shown as given.
    object_id_is_integer: Mapped[bool] = mapped_column(default=False)

    dialer_message: Mapped[DialerMessage] = relationship(back_populates="related_objects")

    @property
    def given_object_id(self) -> int | str:
        """object_id as it was given: an integer or a string."""
        return int(self.object_id) if self.object_id_is_integer else self.object_id


class DialerMessageEvent(db.Model):
    """One observation of a message's call, applied or not: the append-only history."""

    __tablename__ = "dialer_message_event"

    id: Mapped[int] = mapped_column(ID_TYPE, primary_key=True)
    dialer_message_id: Mapped[int] = mapped_column(
        ForeignKey("dialer_message.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    source: Mapped[str] = mapped_column(String(16))
    old_state: Mapped[Optional[str]] = mapped_column(String(32))
    new_state: Mapped[Optional[str]] = mapped_column(String(32))
    applied: Mapped[bool] = mapped_column(default=True)
    note: Mapped[Optional[str]] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON_TYPE, default=dict)


class DialerPollState(db.Model):
    """Small named values the status poller keeps between runs (its watermark)."""

    __tablename__ = "dialer_poll_state"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
