"""Bearer API keys on every /api/v1 route."""
from __future__ import annotations

import hashlib
import hmac

from flask import g, request

from service.dialer.runtime import dialer_config
from service.errors import AuthenticationError, UnsupportedMediaTypeError

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def api_key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def matches_any(presented: str, secrets) -> bool:
    """Whether `presented` equals one of `secrets`, compared in constant time.

    Every secret is compared, so timing does not tell which one nearly matched.
    """
    matched = False
    for secret in secrets:
        matched |= hmac.compare_digest(presented.encode(), secret.encode())
    return bool(presented) and matched


def authenticate_request() -> None:
    """Accept the request only with a configured key; compared in constant time."""
    header = request.headers.get("Authorization", "")
    scheme, _, presented = header.partition(" ")
    presented = presented.strip()
    if scheme.lower() != "bearer" or not presented:
        raise AuthenticationError()
    if not matches_any(presented, dialer_config().api_keys):
        raise AuthenticationError("The API key is not valid.")
    g.api_key_hash = api_key_digest(presented)


def require_json_body() -> None:
    """A body must be JSON. A request without one (cancel, retry, rotate-secret take none) needs no
    type: where a schema wants fields, it names the missing ones (422)."""
    if request.method in BODY_METHODS and request.content_length and not request.is_json:
        raise UnsupportedMediaTypeError()


def guard_api_request() -> None:
    authenticate_request()
    require_json_body()
