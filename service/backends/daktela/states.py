"""Daktela's codes in our terms: the action table, DAKTELA_STATES_MAPPING and the final actions.

Everything the state machine needs from Daktela is decided here, so that it
receives provider-neutral observations (a target state, final or not).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cached_property, lru_cache
from typing import Any, Mapping, Optional, Sequence

from service.models.state_machine import Observation, key_of
from service.models.states import DialerMessageState

ACTION_STATES = {
    0: DialerMessageState.NOT_ASSIGNED,
    1: DialerMessageState.READY,
    2: DialerMessageState.RESCHEDULED_BY_DIALER,
    3: DialerMessageState.CALL_IN_PROGRESS,
    4: DialerMessageState.HANGUP,
    5: DialerMessageState.DONE,
    6: DialerMessageState.RESCHEDULED,
}


@dataclass(frozen=True)
class StateRules:
    """DAKTELA_STATES_MAPPING (status name -> our state) and DAKTELA_FINAL_ACTIONS."""

    states_mapping: Mapping[str, str] = field(default_factory=dict)
    final_actions: frozenset[int] = frozenset({5})

    @cached_property
    def mapped_states(self) -> Mapping[str, DialerMessageState]:
        """`states_mapping` with our states as members (read once per record of every page)."""
        return {status: DialerMessageState(state) for status, state in self.states_mapping.items()}


DEFAULT_RULES = StateRules()


def observed_state(action: Optional[int], statuses: Sequence[str],
                   rules: StateRules) -> tuple[Optional[DialerMessageState], Optional[str]]:
    """(state, warning): the first status's mapping wins, else the action's state."""
    action_state = ACTION_STATES.get(action) if action is not None else None
    if statuses:
        mapped = rules.mapped_states.get(statuses[0])
        if mapped is not None:
            return mapped, None
        return action_state, f"unmapped Daktela status {statuses[0]!r}; used the action's state"
    return action_state, None


def daktela_observation(source: str, action: Optional[int], statuses: Sequence[str] = (),
                        edited: Optional[datetime] = None, nextcall: Optional[datetime] = None,
                        call_id: Optional[str] = None, payload: Optional[Mapping[str, Any]] = None,
                        rules: Optional[StateRules] = None) -> Observation:
    """What a Daktela record says, as the state machine's observation (times aware UTC)."""
    rules = rules or DEFAULT_RULES
    state, warning = observed_state(action, tuple(statuses), rules)
    sender_data = {
        "action": action,
        "statuses": list(statuses),
        "edited": _iso(edited) if edited else None,
        "nextcall": _iso(nextcall) if nextcall else None,
        "call_id": call_id,
    }
    return Observation(
        source=source, state=state, final=state is not None and action in rules.final_actions,
        edited=edited, nextcall=nextcall, call_id=call_id, warning=warning,
        sender_data=sender_data, payload=dict(payload or {}),
        identity=_identity(action, statuses, sender_data["edited"], sender_data["nextcall"], call_id),
    )


def daktela_observation_key(action: Optional[int], statuses: Sequence[str], edited: Optional[datetime],
                            nextcall: Optional[datetime], call_id: Optional[str], rules: StateRules) -> str:
    """`observation_key` of the observation `daktela_observation` would build from these values,
    without building it (the poller's test for records that carry nothing new)."""
    state, _ = observed_state(action, statuses, rules)
    final = state is not None and action in rules.final_actions
    identity = _identity(action, statuses, _iso(edited) if edited else None,
                         _iso(nextcall) if nextcall else None, call_id)
    return key_of(state, final, identity)


# A page of records holds a few distinct edit times: each written out once (in UTC, which the
# records' times are read into: equal times elsewhere may be written with other offsets).
_utc_iso = lru_cache(maxsize=4096)(datetime.isoformat)


def _iso(value: datetime) -> str:
    return _utc_iso(value) if value.tzinfo is timezone.utc else value.isoformat()


def _identity(action, statuses, edited: Optional[str], nextcall: Optional[str], call_id) -> str:
    # The stored values in a fixed order: cheaper to digest than JSON.
    return "\x1f".join(map(str, (action, "\x1e".join(statuses), edited, nextcall, call_id)))
