"""The ordering rule of observations, stated without the state machine, as the tests' oracle."""
from service.models.state_machine import observed_state
from service.models.states import DialerMessageState as S

RESCHEDULED = (S.RESCHEDULED, S.RESCHEDULED_BY_DIALER)


def expected_outcome(observations, rules):
    """(state, final, last_edited, nextcall_at, action) of a sent READY message after `observations`
    in any order: the final observation edited last decides; without one, the observation edited
    last; ties go to the higher (action, state)."""
    known = [(o, observed_state(o, rules)[0]) for o in observations]
    known = [(o, state) for o, state in known if state is not None]
    if not known:
        return (S.READY, False, None, None, None)
    finals = [(o, state) for o, state in known if o.action in rules.final_actions]
    winner, state = max(finals or known, key=lambda item: (item[0].edited, item[0].action, item[1].value))
    final = winner.action in rules.final_actions
    rescheduled = not final and (state in RESCHEDULED or winner.nextcall is not None)
    return (state, final, winner.edited, winner.nextcall if rescheduled else None, winner.action)


def outcome_view(message):
    """The part of a message that `expected_outcome` predicts."""
    return (message.state, message.is_final_state, message.last_edited, message.nextcall_at,
            (message.extra_sender_data or {}).get("action"))
