"""The ordering rule of observations, stated without the state machine, as the tests' oracle."""
import json

from service.models.states import DialerMessageState as S

RESCHEDULED = (S.RESCHEDULED, S.RESCHEDULED_BY_DIALER)
# How far along a call each state is (the tie-break of observations edited at the same time).
PROGRESS = {S.NOT_ASSIGNED: 1, S.READY: 1, S.RESCHEDULED_BY_DIALER: 2, S.RESCHEDULED: 2,
            S.CALL_IN_PROGRESS: 3, S.HANGUP: 4, S.HANGUP_BY_DIALER: 4, S.HANGUP_BY_CUSTOMER: 4}


def expected_outcome(observations):
    """(state, final, last_edited, nextcall_at, action) of a sent READY message after `observations`
    in any order: the final observation edited last decides; without one, the observation edited
    last; observations edited at the same time: the one further along the call wins."""
    known = [o for o in observations if o.state is not None]
    if not known:
        return (S.READY, False, None, None, None)
    finals = [o for o in known if o.final]
    winner = max(finals or known, key=lambda o: (o.edited, PROGRESS.get(o.state, 5), o.state.value,
                                                 json.dumps(o.sender_data, sort_keys=True, default=str)))
    rescheduled = not winner.final and (winner.state in RESCHEDULED or winner.nextcall is not None)
    return (winner.state, winner.final, winner.edited, winner.nextcall if rescheduled else None,
            winner.sender_data.get("action"))


def outcome_view(message):
    """The part of a message that `expected_outcome` predicts."""
    return (message.state, message.is_final_state, message.last_edited, message.nextcall_at,
            (message.extra_sender_data or {}).get("action"))
