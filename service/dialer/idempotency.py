"""Idempotency keys: a retried send returns the first response instead of sending again.

A key is claimed (committed) before the request is handled, so a concurrent
retry sees the claim and gets 409 instead of sending twice; the response is
stored when the request succeeds; a failed request releases its claim so the
caller can retry with the same key after fixing the problem.

Messages created while a claim is `active` carry its id, written in their own
transaction. A retry of a request that stored messages but never answered
(the process died, or failed after the commit) gets 409 naming them instead
of sending them again; a claim left with no messages and no response is
taken over after ABANDONED_CLAIM_AFTER.
"""
from __future__ import annotations

import contextlib
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Iterator, Optional

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from service.errors import ConflictError, InvalidInputError
from service.extensions import db
from service.infrastructure.transactions import transaction
from service.models.idempotency import IdempotencyKey
from service.models.message import DialerMessage
from service.models.types import utcnow

MAX_KEY_LENGTH = 255
# A claim this old without a response belongs to a request that died.
ABANDONED_CLAIM_AFTER = timedelta(minutes=5)
KEEP_KEYS_FOR = timedelta(hours=24)
_active_claim: ContextVar[Optional[int]] = ContextVar("idempotency_claim", default=None)


@contextlib.contextmanager
def active(claim_id: int) -> Iterator[None]:
    """Messages created inside are stamped with `claim_id` (see `claim_of_new_messages`)."""
    token = _active_claim.set(claim_id)
    try:
        yield
    finally:
        _active_claim.reset(token)


def claim_of_new_messages() -> Optional[int]:
    """The claim of the request being handled, if it was sent with an Idempotency-Key."""
    return _active_claim.get()


@dataclass(frozen=True)
class StoredResponse:
    status_code: int
    body: Any


def check_key(key: str) -> str:
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable() or not key.isascii():
        raise InvalidInputError(
            errors={"Idempotency-Key": [f"Use 1 to {MAX_KEY_LENGTH} printable ASCII characters."]}
        )
    return key


def _find(api_key_hash: str, key: str) -> Optional[IdempotencyKey]:
    return db.session.scalars(
        select(IdempotencyKey).filter_by(api_key_hash=api_key_hash, key=key)
    ).one_or_none()


def claim_key(api_key_hash: str, key: str, request_hash: str) -> tuple[Optional[int], Optional[StoredResponse]]:
    """(claim id, None) for a new request, or (None, stored response) for a replay."""
    check_key(key)
    for _ in range(2):
        record = _find(api_key_hash, key)
        if record is None:
            record = IdempotencyKey(api_key_hash=api_key_hash, key=key, request_hash=request_hash)
            try:
                with transaction() as session:
                    session.add(record)
                return record.id, None
            except IntegrityError:
                continue
        with transaction():
            return _existing_outcome(record, request_hash)
    raise ConflictError("A request with this Idempotency-Key is still being processed; retry later.")


def _existing_outcome(record: IdempotencyKey, request_hash: str):
    if record.request_hash != request_hash:
        raise InvalidInputError(
            "This Idempotency-Key was used with a different request body.",
            errors={"Idempotency-Key": ["Already used with a different request."]},
        )
    if record.status_code is not None:
        return None, StoredResponse(record.status_code, record.response_body)
    created = _messages_created_under(record.id)
    if created:
        # The first request stored its messages and has not answered (it died,
        # failed afterwards, or is still running): they are published, by the
        # worker if need be, and never created a second time.
        raise ConflictError(
            "The first request with this Idempotency-Key stored its messages and has not answered; "
            "read them instead of sending again.",
            errors={"message_ids": created},
        )
    if utcnow() - record.created_at <= ABANDONED_CLAIM_AFTER:
        raise ConflictError("A request with this Idempotency-Key is still being processed; retry later.")
    record.created_at = utcnow()
    return record.id, None


def _messages_created_under(claim_id: int) -> list[int]:
    return list(db.session.scalars(
        select(DialerMessage.id).where(DialerMessage.idempotency_key_id == claim_id).order_by(DialerMessage.id)))


def store_response(claim_id: int, status_code: int, body: Any) -> None:
    with transaction() as session:
        record = session.get(IdempotencyKey, claim_id)
        if record is not None:
            record.status_code = status_code
            record.response_body = body


def release_claim(claim_id: int) -> None:
    """Free the key of a failed request, unless the request stored messages before it failed."""
    db.session.rollback()  # whatever the failed request left unfinished
    with transaction() as session:
        session.execute(delete(IdempotencyKey).where(
            IdempotencyKey.id == claim_id,
            ~select(DialerMessage.id).where(DialerMessage.idempotency_key_id == claim_id).exists()))


def purge_expired_keys() -> int:
    """Delete keys older than 24 hours; returns how many."""
    with transaction() as session:
        result = session.execute(
            delete(IdempotencyKey).where(IdempotencyKey.created_at < utcnow() - KEEP_KEYS_FOR)
        )
    return result.rowcount or 0
