"""Webhooks from a provider, served through the backend's tracking interface.

The backend parses the body (`parse_webhook`) into a record name and an
observation. An observation is applied at once (with the other webhooks
arriving together, see `groups`); a hint without one makes the core fetch
the record from the provider and apply it, or, when the provider cannot be
reached, queue the message for the poller's next run.
"""
from __future__ import annotations

import logging
from typing import Any, Mapping, Optional

from sqlalchemy.orm import noload

from service.backends.base import DialerBackend, ProviderError
from service.dialer.runtime import current_backend
from service.dialer.tracking.accounting import CheckReport, record_missing
from service.dialer.tracking.apply import apply_records
from service.dialer.tracking.groups import PendingWebhook, WebhookResult, apply_webhook
from service.extensions import db
from service.infrastructure.locks import select_for_update
from service.infrastructure.transactions import transaction
from service.models.message import DialerMessage
from service.models.types import utcnow

logger = logging.getLogger(__name__)


def _locked_message(message_id: int) -> Optional[DialerMessage]:
    rows = select_for_update(
        db.select(DialerMessage).where(DialerMessage.id == message_id)
        .options(noload(DialerMessage.related_objects)).execution_options(populate_existing=True)
    )
    return rows[0] if rows else None


def webhook_secrets(provider: str) -> tuple[str, ...]:
    """The secrets a webhook to /webhooks/<provider> must present; none (refuse all) when the
    configured backend does not serve that webhook."""
    backend = current_backend()
    return backend.webhook_secrets() if _serves(backend, provider) else ()


def _serves(backend: DialerBackend, provider: str) -> bool:
    return backend.can_track() and backend.webhook_name == provider


def receive_webhook(provider: str, values: Mapping[str, Any]) -> WebhookResult:
    """Apply, fetch or queue what one webhook says; never drops a hint about one of our messages."""
    backend = current_backend()
    if not _serves(backend, provider):
        # Another backend's provider: no record name is ours.
        logger.info("webhook for %s, which the configured backend does not track", provider[:40])
        return WebhookResult(202, "unknown record")
    name, observation = backend.parse_webhook(values)
    message_id = backend.message_id_for(name)
    if message_id is None:
        logger.info("webhook for record %s, which is not one of our messages", name[:100])
        return WebhookResult(202, "unknown record")
    result = apply_webhook(PendingWebhook(message_id, name, observation))
    if result.needs_fetch:
        return _fetch_and_apply(backend, message_id, name)
    return result


def _fetch_and_apply(backend: DialerBackend, message_id: int, name: str) -> WebhookResult:
    try:
        records = backend.look_up_records([name])
    except ProviderError as exc:
        logger.warning("webhook hint for %s: %s unreachable (%s); queued for the poller", name,
                       backend.provider_name, exc)
        records = None
    if records is not None:
        if name in records:
            apply_records(backend, [records[name]], "webhook", CheckReport())
        else:
            # The provider answered and has no such record: the poller would conclude the same, later.
            record_missing(backend, [message_id], CheckReport())
        with transaction() as session:
            state = session.get(DialerMessage, message_id).state
        return WebhookResult(200, "fetched", message_id, state.value)
    with transaction():
        message = _locked_message(message_id)
        if message is None:
            return WebhookResult(202, "unknown record")
        message.needs_status_lookup = True
        message.next_check_at = utcnow()
    return WebhookResult(202, "queued for a status check", message_id, message.state.value)
