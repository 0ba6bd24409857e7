"""Daktela's webhook body, read leniently into a record name and an observation.

Daktela posts whatever body an administrator templates in its Events module:
JSON or form fields, a whole record under `result` or `record`, values as
text ("null" included), statuses in several shapes. With `action` and
`edited` the body is an observation; without them it is a hint that the
record changed.
"""
from __future__ import annotations

import json
from typing import Any, Mapping, Optional

from service.backends.daktela.records import (
    daktela_local_to_utc,
    optional_text,
    parse_action,
    parse_daktela_time,
    parse_statuses,
)
from service.backends.daktela.states import StateRules, daktela_observation
from service.errors import InvalidInputError
from service.models.state_machine import Observation
from service.models.types import utcnow

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


def _observation(payload: Mapping[str, Any], zone: str, rules: StateRules) -> Optional[Observation]:
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
    return daktela_observation(
        "webhook", action, statuses,
        edited=daktela_local_to_utc(edited, zone, received_at=utcnow()),
        nextcall=daktela_local_to_utc(nextcall, zone), call_id=call_id,
        payload={"name": optional_text(payload.get("name")), "action": action, "statuses": list(statuses),
                 "edited": raw_edited, "nextcall": raw_nextcall, "call_id": call_id},
        rules=rules,
    )


def parse_webhook(values: Mapping[str, Any], zone: str, rules: StateRules) -> tuple[str, Optional[Observation]]:
    """(record name, observation or None for a hint); InvalidInputError names each bad field."""
    payload = normalize_payload(values)
    name = optional_text(payload.get("name"))
    if name is None:
        raise InvalidInputError("The webhook has no record name.", errors={"name": ["Missing."]})
    return name, _observation(payload, zone, rules)
