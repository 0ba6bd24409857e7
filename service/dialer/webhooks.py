"""Call results pushed by Daktela's Events module.

Daktela posts whatever body an administrator templates, so the payload is
read leniently: JSON or form fields, a whole record under `result` or
`record`, values as text ("null" included), statuses in several shapes.
With `action` and `edited` the observation is applied at once; without them
it is a hint: the record is fetched from Daktela and applied, or, when
Daktela cannot be reached, the message is queued for the poller's next run.
"""
from __future__ import annotations

import json
import logging
from typing import Any, Mapping, Optional

from sqlalchemy.orm import noload

from service.backends.daktela.backend import DaktelaDialerBackend
from service.backends.daktela.client import DaktelaError
from service.backends.daktela.records import (
    daktela_local_to_utc,
    optional_text,
    parse_action,
    parse_daktela_time,
    parse_statuses,
)
from service.dialer.locks import select_for_update
from service.dialer.runtime import current_backend, dialer_config
from service.dialer.status_check import CheckReport, apply_records, record_missing
from service.dialer.webhook_apply import (
    PendingWebhook,
    WebhookResult,
    apply_webhook,
)
from service.errors import InvalidInputError
from service.extensions import db
from service.models.message import DialerMessage
from service.models.state_machine import Observation
from service.models.types import utcnow

logger = logging.getLogger(__name__)
FIELDS = ("name", "action", "statuses", "edited", "nextcall", "call_id")


def _decoded(value: Any) -> Any:
    if isinstance(value, str) and value.strip()[:1] in ("[", "{", '"'):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _statuses(value: Any) -> tuple[str, ...]:
    """A list of status objects or names, one status object, a comma-separated string, or JSON text of any."""
    value = _decoded(value)
    if isinstance(value, dict):
        value = [value]
    if isinstance(value, str):
        value = value.split(",")
    return parse_statuses(value)


def normalize_payload(values: Mapping[str, Any]) -> dict[str, Any]:
    """The fields we read, from the top level or a record nested under result/record."""
    merged = {key: values.get(key) for key in FIELDS}
    nested = _decoded(values.get("result") or values.get("record"))
    if isinstance(nested, dict):
        merged.update({key: nested[key] for key in FIELDS if key in nested})
    return merged


def _observation(payload: Mapping[str, Any], zone: str) -> Optional[Observation]:
    errors = {}
    raw_action, raw_edited = optional_text(payload.get("action")), optional_text(payload.get("edited"))
    action = parse_action(raw_action) if raw_action is not None else None
    if raw_action is not None and action is None:
        errors["action"] = ["action must be a number such as 5."]
    edited = parse_daktela_time(raw_edited) if raw_edited is not None else None
    if raw_edited is not None and edited is None:
        errors["edited"] = ["edited must be a time such as 2026-11-26 10:00:00."]
    raw_nextcall = optional_text(payload.get("nextcall"))
    nextcall = parse_daktela_time(raw_nextcall) if raw_nextcall else None
    if raw_nextcall and nextcall is None:
        errors["nextcall"] = ["nextcall must be a time such as 2026-11-26 10:00:00."]
    if errors:
        raise InvalidInputError(errors=errors)
    if action is None or edited is None:
        return None
    statuses = _statuses(payload.get("statuses"))
    call_id = optional_text(payload.get("call_id"))
    return Observation(
        source="webhook", action=action, statuses=statuses,
        edited=daktela_local_to_utc(edited, zone, received_at=utcnow()),
        nextcall=daktela_local_to_utc(nextcall, zone), call_id=call_id,
        payload={"name": optional_text(payload.get("name")), "action": action, "statuses": list(statuses),
                 "edited": raw_edited, "nextcall": raw_nextcall, "call_id": call_id},
    )


def _locked_message(message_id: int) -> Optional[DialerMessage]:
    rows = select_for_update(
        db.select(DialerMessage).where(DialerMessage.id == message_id)
        .options(noload(DialerMessage.related_objects)).execution_options(populate_existing=True)
    )
    return rows[0] if rows else None


def receive_daktela_webhook(values: Mapping[str, Any]) -> WebhookResult:
    """Apply, fetch or queue what one webhook says; never drops a hint about one of our messages."""
    payload = normalize_payload(values)
    name = optional_text(payload.get("name"))
    if name is None:
        raise InvalidInputError("The webhook has no record name.", errors={"name": ["Missing."]})
    backend = current_backend()
    observation = _observation(payload, dialer_config().daktela.timezone)
    # The webhook is Daktela's: with another backend no record name is ours.
    message_id = backend.message_id_for(name) if isinstance(backend, DaktelaDialerBackend) else None
    if message_id is None:
        logger.info("webhook for record %s, which is not one of our messages", name[:100])
        return WebhookResult(202, "unknown record")
    result = apply_webhook(PendingWebhook(message_id, name, observation))
    if result.needs_fetch:
        return _fetch_and_apply(backend, message_id, name)
    return result


def _fetch_and_apply(backend, message_id: int, name: str) -> WebhookResult:
    try:
        records, _ = backend.look_up_records([name])
    except DaktelaError as exc:
        logger.warning("webhook hint for %s: Daktela unreachable (%s); queued for the poller", name, exc)
        records = None
    if records is not None:
        if name in records:
            apply_records(backend, [records[name]], "webhook", CheckReport())
        else:
            # Daktela answered and has no such record: the poller would conclude the same, later.
            record_missing(backend, [message_id], CheckReport())
        message = db.session.get(DialerMessage, message_id)
        db.session.commit()
        return WebhookResult(200, "fetched", message_id, message.state.value)
    message = _locked_message(message_id)
    if message is None:
        db.session.rollback()
        return WebhookResult(202, "unknown record")
    message.needs_status_lookup = True
    message.next_check_at = utcnow()
    db.session.commit()
    return WebhookResult(202, "queued for a status check", message_id, message.state.value)
