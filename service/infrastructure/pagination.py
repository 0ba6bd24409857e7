"""Opaque keyset cursors: `next_cursor` continues after the last item returned."""
from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Generic, Optional, TypeVar

from service.errors import InvalidInputError

T = TypeVar("T")
# Ids are bigint on PostgreSQL and 64-bit integers on SQLite: a larger number
# was never returned by this API, and binding it would overflow the query.
ID_RANGE = range(-(2**63), 2**63)


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: Optional[str]


def encode_cursor(last_id: int) -> str:
    raw = json.dumps({"after": last_id}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: Optional[str]) -> Optional[int]:
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()))["after"]
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeError):
        value = None
    if not isinstance(value, int) or isinstance(value, bool) or value not in ID_RANGE:
        raise InvalidInputError(errors={"cursor": ["Not a cursor returned by this API."]})
    return value


def page_from_rows(rows: list, limit: int) -> Page:
    """`rows` was fetched with `limit + 1`: the extra row tells that more exist."""
    items = rows[:limit]
    has_more = len(rows) > limit
    return Page(items=items, next_cursor=encode_cursor(items[-1].id) if has_more else None)
