"""Reading dialer messages: one by id, or filtered pages."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Optional

from sqlalchemy import and_, select

from service.dialer.related import object_id_as_int
from service.errors import InvalidInputError, NotFoundError
from service.extensions import db
from service.infrastructure.pagination import Page, decode_cursor, page_from_rows
from service.infrastructure.transactions import end_transaction
from service.models.message import DialerMessage, DialerMessageEvent, DialerMessageRelatedObject
from service.models.states import DialerMessageState


class MessageNotFoundError(NotFoundError):
    default_message = "No dialer message has this id."


@dataclass(frozen=True)
class MessageFilter:
    state: Optional[DialerMessageState] = None
    tag: Optional[str] = None
    recipient: Optional[str] = None
    template_slug: Optional[str] = None
    is_final_state: Optional[bool] = None
    needs_status_lookup: Optional[bool] = None
    content_type: Optional[str] = None
    object_id: Optional[str] = None
    created_after: Optional[datetime] = None
    created_before: Optional[datetime] = None


def get_message(message_id: int) -> DialerMessage:
    message = db.session.get(DialerMessage, message_id)
    end_transaction()
    if message is None:
        raise MessageNotFoundError()
    return message


def _related_condition(content_type: str, object_id: str):
    as_int = object_id_as_int(object_id)
    id_match = (
        DialerMessageRelatedObject.object_id_int == as_int
        if as_int is not None
        else DialerMessageRelatedObject.object_id == object_id
    )
    return DialerMessage.id.in_(
        select(DialerMessageRelatedObject.dialer_message_id).where(
            DialerMessageRelatedObject.content_type == content_type, id_match
        )
    )


def message_conditions(filters: MessageFilter) -> list:
    if (filters.content_type is None) != (filters.object_id is None):
        raise InvalidInputError(
            errors={"object_id": ["Filter by content_type and object_id together."]}
        )
    conditions = []
    for column in ("state", "tag", "recipient", "template_slug", "is_final_state", "needs_status_lookup"):
        value = getattr(filters, column)
        if value is not None:
            conditions.append(getattr(DialerMessage, column) == value)
    if filters.created_after is not None:
        conditions.append(DialerMessage.created_at >= filters.created_after)
    if filters.created_before is not None:
        conditions.append(DialerMessage.created_at < filters.created_before)
    if filters.content_type is not None:
        conditions.append(_related_condition(filters.content_type, filters.object_id))
    return conditions


def list_messages(filters: MessageFilter, cursor: Optional[str], limit: int) -> Page[DialerMessage]:
    """Newest first; `cursor` is a `next_cursor` from an earlier page."""
    conditions = message_conditions(filters)
    after_id = decode_cursor(cursor)
    if after_id is not None:
        conditions.append(DialerMessage.id < after_id)
    query = (
        select(DialerMessage)
        .where(and_(True, *conditions))
        .order_by(DialerMessage.id.desc())
        .limit(limit + 1)
    )
    rows = list(db.session.scalars(query))
    end_transaction()
    return page_from_rows(rows, limit)


def list_message_events(message_id: int, cursor: Optional[str], limit: int) -> Page[DialerMessageEvent]:
    """A message's history, oldest first: every observation, applied or ignored."""
    if db.session.get(DialerMessage, message_id) is None:
        end_transaction()
        raise MessageNotFoundError()
    query = (select(DialerMessageEvent).where(DialerMessageEvent.dialer_message_id == message_id)
             .order_by(DialerMessageEvent.id).limit(limit + 1))
    after_id = decode_cursor(cursor)
    if after_id is not None:
        query = query.where(DialerMessageEvent.id > after_id)
    rows = list(db.session.scalars(query))
    end_transaction()
    return page_from_rows(rows, limit)
