"""Related objects: what a message is about (an order, an invoice, ...)."""
from __future__ import annotations

from typing import Any, Iterable, Optional

from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import NoInspectionAvailable

from service.errors import InvalidInputError
from service.models.message import DialerMessageRelatedObject

MAX_RELATED_OBJECTS = 100
MAX_CONTENT_TYPE_LENGTH = 100
MAX_OBJECT_ID_LENGTH = 255
_BIGINT_RANGE = range(-(2**63), 2**63)


def object_id_as_int(object_id: str) -> Optional[int]:
    """The integer form of an id, for the indexed column; None when not an integer."""
    text = object_id.strip()
    if not text or not text.lstrip("-").isdigit() or not text.isascii():
        return None
    value = int(text)
    return value if value in _BIGINT_RANGE and str(value) == text else None


def describe_related_object(item: Any) -> tuple[str, str, bool]:
    """(content_type, object_id as text, whether it was an integer) of a
    `{content_type, object_id}` dict or a model instance."""
    if isinstance(item, dict):
        content_type, object_id = item.get("content_type"), item.get("object_id")
    else:
        try:
            state = sa_inspect(item)
        except NoInspectionAvailable:
            raise InvalidInputError(
                errors={"related_objects": ["Give {content_type, object_id} or a model instance."]}
            ) from None
        identity = state.identity
        if identity is None:
            raise InvalidInputError(
                errors={"related_objects": ["A related model instance must be saved first."]}
            )
        content_type = state.mapper.local_table.name
        object_id = identity[0] if len(identity) == 1 else ",".join(str(part) for part in identity)
    is_integer = isinstance(object_id, int) and not isinstance(object_id, bool)
    if is_integer:
        object_id = str(object_id)
    if not isinstance(content_type, str) or not content_type.strip():
        raise InvalidInputError(errors={"related_objects": ["content_type must be a non-empty string."]})
    if not isinstance(object_id, str) or not object_id.strip():
        raise InvalidInputError(errors={"related_objects": ["object_id must be a non-empty string."]})
    if len(content_type) > MAX_CONTENT_TYPE_LENGTH or len(object_id) > MAX_OBJECT_ID_LENGTH:
        raise InvalidInputError(errors={"related_objects": ["content_type or object_id is too long."]})
    return content_type, object_id, is_integer


def build_related_objects(items: Optional[Iterable[Any]]) -> list[DialerMessageRelatedObject]:
    described = [describe_related_object(item) for item in (items or [])]
    if len(described) > MAX_RELATED_OBJECTS:
        raise InvalidInputError(
            errors={"related_objects": [f"At most {MAX_RELATED_OBJECTS} related objects."]}
        )
    # One row per (content_type, object_id text): of 42 and "42", the first given is kept.
    first: dict[tuple[str, str], bool] = {}
    for content_type, object_id, is_integer in described:
        first.setdefault((content_type, object_id), is_integer)
    return [
        DialerMessageRelatedObject(
            content_type=content_type, object_id=object_id, object_id_int=object_id_as_int(object_id),
            object_id_is_integer=is_integer,
        )
        for (content_type, object_id), is_integer in first.items()
    ]
