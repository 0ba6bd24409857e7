"""The `Idempotency-Key` header on routes that send messages."""
from __future__ import annotations

import functools
import hashlib
import json

from flask import g, request

from service.dialer import idempotency

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"


def _request_fingerprint() -> str:
    raw = request.get_data(cache=True)
    try:
        canonical = json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":")).encode()
    except (ValueError, UnicodeDecodeError):
        canonical = raw
    digest = hashlib.sha256()
    for part in (request.method.encode(), request.path.encode(), canonical):
        digest.update(len(part).to_bytes(8, "big") + part)
    return digest.hexdigest()


def idempotent(view):
    """Replay the stored response for a repeated key; claim the key for a new one."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        key = request.headers.get(HEADER)
        if key is None:
            return view(*args, **kwargs)
        claim_id, stored = idempotency.claim_key(g.api_key_hash, key, _request_fingerprint())
        if stored is not None:
            return stored.body, stored.status_code, {REPLAYED_HEADER: "true"}
        try:
            with idempotency.active(claim_id):
                response = view(*args, **kwargs)
        except BaseException:
            idempotency.release_claim(claim_id)
            raise
        if 200 <= response.status_code < 300:
            idempotency.store_response(claim_id, response.status_code, response.get_json())
        else:
            idempotency.release_claim(claim_id)
        return response

    return wrapper
