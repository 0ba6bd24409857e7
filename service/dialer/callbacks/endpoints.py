"""Callback endpoints: what client systems subscribe, and the URL rules they must keep."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Optional

from sqlalchemy import select

from service.dialer.callbacks.outbox import ENDPOINT_SET
from service.dialer.callbacks.signing import new_secret
from service.dialer.callbacks.urls import UnsafeURLError, check_callback_url
from service.dialer.runtime import dialer_config
from service.dialer.runtime import now as clock_now
from service.errors import InvalidInputError, NotFoundError
from service.extensions import db
from service.infrastructure.locks import hold_key_exclusively
from service.infrastructure.pagination import Page, decode_cursor, page_from_rows
from service.infrastructure.transactions import end_transaction, transaction
from service.models.callback import CallbackEndpoint


class EndpointNotFoundError(NotFoundError):
    default_message = "No callback endpoint has this id."


@dataclass(frozen=True)
class IssuedSecret:
    """An endpoint and the secret just issued for it (shown this once)."""

    endpoint: CallbackEndpoint
    secret: str

    def __getattr__(self, name: str) -> Any:
        return getattr(self.endpoint, name)


def checked_callback_url(url: str, field: str = "url") -> str:
    """`url` if callbacks may go there under this service's settings; else a 422 naming the rule."""
    config = dialer_config()
    try:
        return check_callback_url(url, require_https=config.is_production,
                                  allow_private=config.callbacks.allow_private_networks)
    except UnsafeURLError as exc:
        raise InvalidInputError(errors={field: [str(exc)]}) from None


def checked_message_callback_url(url: str) -> str:
    """A message's own callback_url, which DIALER_CALLBACK_SIGNING_SECRET signs: 422 without it."""
    if not dialer_config().callbacks.signing_secret:
        raise InvalidInputError(errors={"callback_url": [
            "This service has no DIALER_CALLBACK_SIGNING_SECRET to sign callbacks with."]})
    return checked_callback_url(url, "callback_url")


def create_endpoint(url: str, description: str = "", event_types: Optional[list[str]] = None,
                    tag: Optional[str] = None, enabled: bool = True) -> IssuedSecret:
    """Store a new endpoint with a fresh secret; the secret is returned this once."""
    endpoint = CallbackEndpoint(url=checked_callback_url(url), description=description,
                                event_types=sorted(set(event_types or ())), tag=tag, enabled=enabled,
                                secret=new_secret())
    with transaction() as session:
        session.add(endpoint)
    return IssuedSecret(endpoint, endpoint.secret)


def get_endpoint(endpoint_id: int) -> CallbackEndpoint:
    endpoint = db.session.get(CallbackEndpoint, endpoint_id)
    end_transaction()
    if endpoint is None:
        raise EndpointNotFoundError()
    return endpoint


def list_endpoints(cursor: Optional[str], limit: int) -> Page[CallbackEndpoint]:
    after = decode_cursor(cursor)
    query = select(CallbackEndpoint).order_by(CallbackEndpoint.id).limit(limit + 1)
    if after is not None:
        query = query.where(CallbackEndpoint.id > after)
    rows = list(db.session.scalars(query))
    end_transaction()
    return page_from_rows(rows, limit)


def update_endpoint(endpoint_id: int, **changes: Any) -> CallbackEndpoint:
    """Change the given fields; enabling an endpoint clears why it was disabled."""
    if "url" in changes:
        changes["url"] = checked_callback_url(changes["url"])
    if "event_types" in changes:
        changes["event_types"] = sorted(set(changes["event_types"]))
    with transaction() as session:
        endpoint = session.get(CallbackEndpoint, endpoint_id)
        if endpoint is None:
            raise EndpointNotFoundError()
        for name, value in changes.items():
            setattr(endpoint, name, value)
        if changes.get("enabled"):
            endpoint.disabled_reason, endpoint.failing_since = None, None
    return endpoint


def delete_endpoint(endpoint_id: int) -> None:
    """Delete the endpoint and its deliveries."""
    with transaction() as session:
        # Transactions that read the endpoints to write their deliveries finish first.
        hold_key_exclusively(session.connection(), ENDPOINT_SET)
        endpoint = session.get(CallbackEndpoint, endpoint_id)
        if endpoint is None:
            raise EndpointNotFoundError()
        session.delete(endpoint)


def rotate_secret(endpoint_id: int) -> IssuedSecret:
    """Issue a new secret; the old one keeps signing too for DIALER_CALLBACK_SECRET_OVERLAP_HOURS."""
    overlap = timedelta(hours=dialer_config().callbacks.secret_overlap_hours)
    with transaction() as session:
        endpoint = session.get(CallbackEndpoint, endpoint_id)
        if endpoint is None:
            raise EndpointNotFoundError()
        endpoint.previous_secret, endpoint.secret = endpoint.secret, new_secret()
        endpoint.previous_secret_expires_at = clock_now() + overlap
    return IssuedSecret(endpoint, endpoint.secret)
