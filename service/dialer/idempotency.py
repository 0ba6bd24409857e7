"""Idempotency keys: a retried send returns the first response instead of sending again.

A key is claimed (committed) before the request is handled, so a concurrent
retry sees the claim and gets 409 instead of sending twice; the response is
stored when the request succeeds; a failed request releases its claim so the
caller can retry with the same key after fixing the problem.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Optional

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from service.errors import ConflictError, InvalidInputError
from service.extensions import db
from service.models.idempotency import IdempotencyKey
from service.models.types import utcnow

MAX_KEY_LENGTH = 255
# A claim this old without a response belongs to a request that died.
ABANDONED_CLAIM_AFTER = timedelta(minutes=5)
KEEP_KEYS_FOR = timedelta(hours=24)


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
            db.session.add(record)
            try:
                db.session.commit()
                return record.id, None
            except IntegrityError:
                db.session.rollback()
                continue
        outcome = _existing_outcome(record, request_hash)
        db.session.commit()
        return outcome
    raise ConflictError("A request with this Idempotency-Key is still being processed; retry later.")


def _existing_outcome(record: IdempotencyKey, request_hash: str):
    if record.request_hash != request_hash:
        raise InvalidInputError(
            "This Idempotency-Key was used with a different request body.",
            errors={"Idempotency-Key": ["Already used with a different request."]},
        )
    if record.status_code is not None:
        return None, StoredResponse(record.status_code, record.response_body)
    if utcnow() - record.created_at > ABANDONED_CLAIM_AFTER:
        record.created_at = utcnow()
        return record.id, None
    raise ConflictError("A request with this Idempotency-Key is still being processed; retry later.")


def store_response(claim_id: int, status_code: int, body: Any) -> None:
    record = db.session.get(IdempotencyKey, claim_id)
    if record is not None:
        record.status_code = status_code
        record.response_body = body
    db.session.commit()


def release_claim(claim_id: int) -> None:
    db.session.rollback()
    db.session.execute(delete(IdempotencyKey).where(IdempotencyKey.id == claim_id))
    db.session.commit()


def purge_expired_keys() -> int:
    """Delete keys older than 24 hours; returns how many."""
    result = db.session.execute(
        delete(IdempotencyKey).where(IdempotencyKey.created_at < utcnow() - KEEP_KEYS_FOR)
    )
    db.session.commit()
    return result.rowcount or 0
