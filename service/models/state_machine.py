"""The one state machine of dialer messages: every change of `state` goes through here.

Two entry points change a message and add an event to its history (the
caller commits):

- `apply_observation`: what the provider says about the call (from a
  webhook, a poll, a look-up or a publish answer). Observations are ordered
  by the provider's `edited` time, and the rule is order-independent: once
  final, a message never becomes non-final again; a final answer ends a call
  whatever non-final observations were applied before it (even later-edited
  ones); among final answers the one edited last decides the outcome (a record
  closed first and given its status a moment later ends with that status);
  anything else is recorded and ignored. So any arrival order, with any
  duplicates, ends where the latest final observation (else the latest one)
  says.
- `transition`: our own decisions (published, retry, gave up, expired,
  status checks failed), refused once the message is final. Our own final
  states (ERROR, ERROR_UPDATE, EXPIRED, DEBUG) are never changed again.

`decide_observation` is the pure core of `apply_observation`, for callers that
write rows themselves (the batched webhook path).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Mapping, Optional, Protocol

from service.models.message import DialerMessage, DialerMessageEvent
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
RESCHEDULED_STATES = frozenset(
    {DialerMessageState.RESCHEDULED_BY_DIALER, DialerMessageState.RESCHEDULED}
)


@dataclass(frozen=True)
class Observation:
    """The provider's view of one call at one moment."""

    source: str
    action: Optional[int]
    statuses: tuple[str, ...] = ()
    edited: Optional[datetime] = None  # aware UTC: when the provider last changed the record; orders observations
    nextcall: Optional[datetime] = None  # aware UTC
    call_id: Optional[str] = None
    payload: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StateRules:
    """The provider's codes in our terms (DAKTELA_STATES_MAPPING, DAKTELA_FINAL_ACTIONS)."""

    states_mapping: Mapping[str, str] = field(default_factory=dict)
    final_actions: frozenset[int] = frozenset({5})


@dataclass(frozen=True)
class Decision:
    """What one observation does to a message: the changed fields, and its history entry."""

    applied: bool
    note: Optional[str]
    old_state: Optional[DialerMessageState]
    new_state: Optional[DialerMessageState]
    changes: Mapping[str, Any] = field(default_factory=dict)

    def event_fields(self, source: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        """The columns of the DialerMessageEvent that records this decision."""
        return dict(source=source, old_state=self.old_state.value if self.old_state else None,
                    new_state=self.new_state.value if self.new_state else None,
                    applied=self.applied, note=self.note, payload=dict(payload))


class CallState(Protocol):
    """What the state machine reads of a message (a DialerMessage, or a row read with Core)."""

    state: Optional[DialerMessageState]
    is_final_state: bool
    last_edited: Optional[datetime]
    extra_sender_data: Optional[Mapping[str, Any]]


def _event(message: DialerMessage, decision: Decision, source: str,
           payload: Mapping[str, Any]) -> DialerMessageEvent:
    event = DialerMessageEvent(**decision.event_fields(source, payload))
    message.events.add(event)
    return event


def observed_state(observation: Observation, rules: StateRules) -> tuple[Optional[DialerMessageState], Optional[str]]:
    """(state, warning): the first status's mapping wins, else the action's state."""
    action_state = ACTION_STATES.get(observation.action) if observation.action is not None else None
    if observation.statuses:
        status = observation.statuses[0]
        mapped = rules.states_mapping.get(status)
        if mapped is not None:
            return DialerMessageState(mapped), None
        return action_state, f"unmapped Daktela status {status!r}; used the action's state"
    return action_state, None


def _rank(is_final: bool, action: Optional[int], state: Optional[DialerMessageState]) -> tuple:
    """Orders two different observations with the same `edited`, whatever order they arrive in."""
    return (is_final, -1 if action is None else action, state.value if state else "")


OUR_FINAL_STATES = frozenset(
    {DialerMessageState.ERROR, DialerMessageState.ERROR_UPDATE, DialerMessageState.EXPIRED,
     DialerMessageState.DEBUG}
)


def _reason_to_ignore(message: CallState, observation: Observation, state: DialerMessageState,
                      final: bool) -> Optional[str]:
    """Why `observation` must not be applied, or None: a final answer beats every non-final
    observation, and among observations of the same kind the latest `edited` wins."""
    if message.is_final_state and message.state in OUR_FINAL_STATES:
        return "the message is in a final state"
    if message.is_final_state and not final:
        return "the message is in a final state"
    last = message.last_edited
    if last is None:
        return None
    if observation.edited is None:
        return "has no edited time to order it by"
    if final and not message.is_final_state:
        return None
    if observation.edited < last:
        return ("older than the final answer applied" if final
                else "older than the last applied observation")
    if observation.edited == last:
        current = _rank(message.is_final_state, (message.extra_sender_data or {}).get("action"), message.state)
        return "repeats the last applied observation" if _rank(final, observation.action, state) <= current else None
    return None


def decide_observation(message: CallState, observation: Observation, rules: StateRules) -> Decision:
    """What `observation` does to `message`: applied unless the ordering rule (see the
    module's docstring) ignores it. Pure: `message` is not changed."""
    old = message.state
    state, warning = observed_state(observation, rules)
    if state is None:
        return Decision(False, "the observation has no known action", old, old)
    final = observation.action in rules.final_actions
    reason = _reason_to_ignore(message, observation, state, final)
    if reason is not None:
        return Decision(False, reason, old, old)
    rescheduled = not final and (state in RESCHEDULED_STATES or observation.nextcall is not None)
    changes = {
        "state": state,
        "is_final_state": final,
        "last_edited": observation.edited or message.last_edited,
        "nextcall_at": observation.nextcall if rescheduled else None,
        "number_of_status_check_attempts": 0,
        "error": None,
        "extra_sender_data": {
            **(message.extra_sender_data or {}),
            "action": observation.action,
            "statuses": list(observation.statuses),
            "edited": observation.edited.isoformat() if observation.edited else None,
            "nextcall": observation.nextcall.isoformat() if observation.nextcall else None,
            "call_id": observation.call_id,
        },
    }
    return Decision(True, warning, old, state, changes)


def apply_observation(message: DialerMessage, observation: Observation, rules: StateRules) -> DialerMessageEvent:
    """Apply `observation` to `message` as `decide_observation` says, and record it in its history."""
    decision = decide_observation(message, observation, rules)
    for name, value in decision.changes.items():
        setattr(message, name, value)
    return _event(message, decision, observation.source, observation.payload)


def transition(message: DialerMessage, state: DialerMessageState, *, source: str, final: bool = False,
               error: Optional[str] = None, note: Optional[str] = None,
               payload: Optional[Mapping[str, Any]] = None) -> Optional[DialerMessageEvent]:
    """Our own decision about a message; None (and no change) once the message is final."""
    if message.is_final_state:
        return None
    decision = Decision(True, note or error, message.state, state)
    message.state = state
    message.is_final_state = final
    message.error = error
    return _event(message, decision, source, payload or {})
