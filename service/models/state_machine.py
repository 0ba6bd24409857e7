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
- `transition`: our own decisions (published, retry, gave up, scheduled,
  expired, cancelled, status checks failed), refused once the message is
  final. Our own final states (ERROR, ERROR_UPDATE, EXPIRED, DEBUG,
  CANCELLED) are never changed again.
- `record_decision`: a decision that changes no state (a take-back of the
  provider's record requested, or given up because the call had started).

Observations are provider-neutral (a target state, final or not, the provider's
ordering time): each backend translates its own codes into them (Daktela's
in `service/backends/daktela/states.py`).

`decide_observation` is the pure core of `apply_observation`, for callers that
write rows themselves (the batched webhook path).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Mapping, Optional, Protocol

from sqlalchemy.orm import object_session

from service import metrics
from service.models.message import DialerMessage, DialerMessageEvent
from service.models.states import DialerMessageState

RESCHEDULED_STATES = frozenset(
    {DialerMessageState.RESCHEDULED_BY_DIALER, DialerMessageState.RESCHEDULED}
)
S = DialerMessageState
# How far along a call a state is: of two observations with the same ordering key,
# the final one wins, then the one further along (then a fixed order, so that any
# arrival order ends the same).
PROGRESS = {S.WAITING: 0, S.SCHEDULED: 0, S.ERROR_RETRY: 0, S.NOT_ASSIGNED: 1, S.READY: 1, S.RESCHEDULED_BY_DIALER: 2,
            S.RESCHEDULED: 2, S.CALL_IN_PROGRESS: 3, S.HANGUP: 4, S.HANGUP_BY_DIALER: 4,
            S.HANGUP_BY_CUSTOMER: 4}
OUTCOME_PROGRESS = 5


@dataclass(frozen=True)
class Observation:
    """A provider's view of one call at one moment, in our terms (the provider's
    backend translates its own codes into `state` and `final`)."""

    source: str
    state: Optional[DialerMessageState]  # None: the provider said nothing we understand
    final: bool = False
    edited: Optional[datetime] = None  # aware UTC: when the provider last changed the call; orders observations
    nextcall: Optional[datetime] = None  # aware UTC
    call_id: Optional[str] = None
    warning: Optional[str] = None  # kept in the history, e.g. an unmapped provider status
    sender_data: Mapping[str, Any] = field(default_factory=dict)  # merged into extra_sender_data
    payload: Mapping[str, Any] = field(default_factory=dict)  # the history's copy of what arrived
    # Text that differs whenever sender_data differs; a backend may give a cheaper one than JSON.
    identity: Optional[str] = None

    def __post_init__(self):
        # A naive time cannot be ordered against stored ones: refused here, it fails its own
        # record (the apply path catches per record), not the page it came in.
        for name in ("edited", "nextcall"):
            moment = getattr(self, name)
            if moment is not None and moment.tzinfo is None:
                raise ValueError(f"observation {name} must be an aware datetime")


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
    if decision.applied:
        metrics.state_changed_on_commit(object_session(message), decision.old_state, decision.new_state)
    return event


def _canonical(data: Mapping[str, Any]) -> str:
    return json.dumps(data, sort_keys=True, default=str)


def observation_key(observation: Observation) -> str:
    """A digest of what the observation would store (its state, finality and provider data):
    equal keys at the same `edited` time mean a repeat."""
    identity = observation.identity if observation.identity is not None else _canonical(observation.sender_data)
    return key_of(observation.state, observation.final, identity)


def key_of(state: Optional[DialerMessageState], final: bool, identity: str) -> str:
    """`observation_key` from its parts, for a backend that computes them without building the
    observation (`DialerBackend.ordering_key_of`)."""
    text = f"{state.value if state else ''}|{final}|{identity}"
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def may_change(message: CallState, observation: Observation, stored_key: Optional[str]) -> bool:
    """False only when `decide_observation` would certainly ignore `observation`, judged from the
    message's ordering state and its stored `observation_key` (cheap: for skipping what carries
    nothing new before any lock). True means: decide it properly."""
    if message.is_final_state and (message.state in OUR_FINAL_STATES or not observation.final):
        return False
    last = message.last_edited
    if last is None or observation.state is None:
        return last is None and observation.state is not None
    if observation.edited is None:
        return False
    if observation.final and not message.is_final_state:
        return True
    if observation.edited != last:
        return observation.edited > last
    return stored_key is None or stored_key != observation_key(observation)


def _rank(final: bool, state: DialerMessageState, sender_data: Mapping[str, Any]) -> tuple:
    """Orders two different observations with the same `edited`, whatever order they arrive in."""
    return (final, PROGRESS.get(state, OUTCOME_PROGRESS), state.value, _canonical(sender_data))


OUR_FINAL_STATES = frozenset(
    {DialerMessageState.ERROR, DialerMessageState.ERROR_UPDATE, DialerMessageState.EXPIRED,
     DialerMessageState.DEBUG, DialerMessageState.CANCELLED}
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
        stored = message.extra_sender_data or {}
        current_data = {key: stored.get(key) for key in observation.sender_data}
        if final == message.is_final_state and state == message.state and current_data == observation.sender_data:
            return "repeats the last applied observation"  # the common case, without ranking
        current = _rank(message.is_final_state, message.state, current_data)
        new = _rank(final, state, observation.sender_data)
        return "repeats the last applied observation" if new <= current else None
    return None


def decide_observation(message: CallState, observation: Observation) -> Decision:
    """What `observation` does to `message`: applied unless the ordering rule (see the
    module's docstring) ignores it. Pure: `message` is not changed."""
    old, state, final = message.state, observation.state, observation.final
    if state is None:
        return Decision(False, "the observation names no state we know", old, old)
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
        "extra_sender_data": {**(message.extra_sender_data or {}), **observation.sender_data},
        "observation_key": observation_key(observation),
    }
    return Decision(True, observation.warning, old, state, changes)


def apply_observation(message: DialerMessage, observation: Observation) -> DialerMessageEvent:
    """Apply `observation` to `message` as `decide_observation` says, and record it in its history."""
    decision = decide_observation(message, observation)
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


def record_decision(message: DialerMessage, *, source: str, note: str,
                    payload: Optional[Mapping[str, Any]] = None) -> DialerMessageEvent:
    """Our own decision that leaves the state as it is, recorded in the message's history."""
    decision = Decision(True, note, message.state, message.state)
    return _event(message, decision, source, payload or {})
