"""The one state machine: mapping, final states, ordering, rescheduling, history."""
import random
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.backends.daktela.states import StateRules, daktela_observation
from service.models import DialerMessage, DialerMessageState
from service.models.state_machine import apply_observation, decide_observation, transition
from tests.support.outcomes import expected_outcome, outcome_view

S = DialerMessageState
RULES = StateRules(
    states_mapping={"statuses_complete": "ANSWERED_COMPLETE", "statuses_declined": "DECLINED"},
    final_actions=frozenset({5}),
)
T0 = datetime(2026, 11, 26, 10, 0, 0, tzinfo=timezone.utc)


def sent_message():
    return DialerMessage(state=S.READY, is_final_state=False, extra_sender_data={}, last_edited=None,
                         number_of_status_check_attempts=0)


def observe(action, seconds=0, statuses=(), nextcall=None, source="poll"):
    return daktela_observation(source, action, statuses, edited=T0 + timedelta(seconds=seconds), nextcall=nextcall,
                               rules=RULES)


@pytest.mark.parametrize(
    "action, state",
    [(0, S.NOT_ASSIGNED), (1, S.READY), (2, S.RESCHEDULED_BY_DIALER), (3, S.CALL_IN_PROGRESS),
     (4, S.HANGUP), (5, S.DONE), (6, S.RESCHEDULED)],
)
def test_actions_map_to_states(action, state):
    message = sent_message()
    event = apply_observation(message, observe(action))
    assert message.state == state and event.applied
    assert message.is_final_state is (action == 5)


def test_a_mapped_status_wins_over_the_action():
    message = sent_message()
    apply_observation(message, observe(5, statuses=["statuses_complete", "statuses_declined"]))
    assert message.state == S.ANSWERED_COMPLETE and message.is_final_state


def test_an_unmapped_status_falls_back_to_the_action_with_a_warning():
    message = sent_message()
    event = apply_observation(message, observe(5, statuses=["statuses_mystery"]))
    assert message.state == S.DONE and event.applied
    assert event.note == "unmapped Daktela status 'statuses_mystery'; used the action's state"


def test_an_observation_without_a_known_action_is_ignored():
    message = sent_message()
    event = apply_observation(message, observe(None))
    assert message.state == S.READY and not event.applied
    assert apply_observation(message, observe(9)).applied is False


def test_a_final_message_never_changes_again():
    message = sent_message()
    apply_observation(message, observe(5, 1, ["statuses_declined"]))
    later = apply_observation(message, observe(3, 60))
    assert message.state == S.DECLINED and message.is_final_state
    assert later.applied is False and later.note == "the message is in a final state"
    assert transition(message, S.EXPIRED, source="poll", final=True) is None
    assert message.state == S.DECLINED


def test_older_observations_are_ignored_and_repeats_are_no_ops():
    message = sent_message()
    apply_observation(message, observe(3, 10))
    older = apply_observation(message, observe(1, 5))
    repeat = apply_observation(message, observe(3, 10))
    assert message.state == S.CALL_IN_PROGRESS and message.last_edited == T0 + timedelta(seconds=10)
    assert (older.applied, older.note) == (False, "older than the last applied observation")
    assert (repeat.applied, repeat.note) == (False, "repeats the last applied observation")


def test_rescheduled_keeps_nextcall_until_the_call_moves_on():
    nextcall = datetime(2026, 11, 27, 9, 0, tzinfo=timezone.utc)
    message = sent_message()
    apply_observation(message, observe(6, 1, nextcall=nextcall))
    assert message.state == S.RESCHEDULED and not message.is_final_state and message.nextcall_at == nextcall
    apply_observation(message, observe(3, 2))
    assert message.nextcall_at is None
    apply_observation(message, observe(1, 3, nextcall=nextcall))
    assert message.state == S.READY and message.nextcall_at == nextcall
    apply_observation(message, observe(5, 4, nextcall=nextcall))
    assert message.is_final_state and message.nextcall_at is None


def test_a_successful_observation_resets_failed_checks():
    message = sent_message()
    message.number_of_status_check_attempts = 3
    message.error = "Status check failed: timeout"
    apply_observation(message, observe(3, 1))
    assert message.number_of_status_check_attempts == 0 and message.error is None


def test_a_late_final_answer_that_is_earlier_still_ends_the_call():
    message = sent_message()
    apply_observation(message, observe(3, 20))
    event = apply_observation(message, observe(5, 10, ["statuses_declined"]))
    assert event.applied and message.state == S.DECLINED and message.is_final_state
    assert apply_observation(message, observe(3, 20)).applied is False


def test_among_final_answers_the_latest_edited_decides_and_older_ones_are_recorded_and_ignored():
    message = sent_message()
    apply_observation(message, observe(5, 20, ["statuses_complete"]))
    # A bare close edited before the real result arrives late: recorded, ignored, edited not moved back.
    bare = apply_observation(message, observe(5, 10))
    assert (bare.applied, bare.note) == (False, "older than the final answer applied")
    assert message.state == S.ANSWERED_COMPLETE and message.last_edited == T0 + timedelta(seconds=20)


def test_a_record_closed_first_and_given_its_status_later_ends_with_the_status():
    message = sent_message()
    apply_observation(message, observe(5, 10))
    assert message.state == S.DONE and message.is_final_state
    event = apply_observation(message, observe(5, 11, ["statuses_declined"]))
    assert event.applied and message.state == S.DECLINED and message.is_final_state
    assert message.last_edited == T0 + timedelta(seconds=11)


def test_our_own_final_states_never_change():
    message = sent_message()
    apply_observation(message, observe(3, 20))
    transition(message, S.EXPIRED, source="poll", final=True, error="too late")
    assert apply_observation(message, observe(5, 10)).applied is False
    assert message.state == S.EXPIRED


def _final_view(message):
    return (message.state, message.is_final_state, message.last_edited, message.nextcall_at)


observation_steps = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=6),
        st.sampled_from([(), ("statuses_complete",), ("statuses_declined",), ("statuses_mystery",)]),
        st.booleans(),
    ),
    min_size=1, max_size=12,
)


@settings(max_examples=300, deadline=None)
@given(steps=observation_steps, seed=st.integers(0, 2**32 - 1), duplicates=st.integers(0, 6))
def test_any_duplication_or_reordering_ends_where_the_latest_final_observation_says(steps, seed, duplicates):
    nextcall = datetime(2026, 11, 27, 9, 0, tzinfo=timezone.utc)
    ordered = [observe(action, index, statuses, nextcall if has_nextcall else None, "webhook")
               for index, (action, statuses, has_nextcall) in enumerate(steps)]
    rng = random.Random(seed)
    shuffled = ordered + [rng.choice(ordered) for _ in range(duplicates)]
    rng.shuffle(shuffled)
    actual = sent_message()
    for observation in shuffled:
        apply_observation(actual, observation)
    assert outcome_view(actual) == expected_outcome(ordered)
    in_order = sent_message()
    for observation in ordered:
        apply_observation(in_order, observation)
    assert _final_view(actual) == _final_view(in_order)
    assert actual.extra_sender_data == in_order.extra_sender_data


def test_deciding_changes_nothing_and_applying_writes_exactly_the_decided_changes():
    message = sent_message()
    decision = decide_observation(message, observe(5, 3, ["statuses_complete"]))
    assert message.state == S.READY and message.last_edited is None and not message.is_final_state
    assert (decision.applied, decision.old_state, decision.new_state) == (True, S.READY, S.ANSWERED_COMPLETE)
    event = apply_observation(message, observe(5, 3, ["statuses_complete"]))
    assert {name: getattr(message, name) for name in decision.changes} == dict(decision.changes)
    assert (event.old_state, event.new_state, event.applied) == ("READY", "ANSWERED_COMPLETE", True)


@settings(max_examples=300, deadline=None)
@given(steps=observation_steps, probe=observation_steps, seed=st.integers(0, 2**32 - 1))
def test_may_change_is_false_only_for_observations_the_state_machine_would_ignore(steps, probe, seed):
    """The poller skips what `may_change` rules out before locking: that must never drop news."""
    from service.models.state_machine import may_change

    rng = random.Random(seed)
    message = sent_message()
    for action, statuses, _ in steps:
        apply_observation(message, observe(action, rng.randint(0, 8), statuses))
    for action, statuses, has_nextcall in probe:
        observation = observe(action, rng.randint(0, 8), statuses, T0 if has_nextcall else None)
        if not may_change(message, observation, message.observation_key):
            assert decide_observation(message, observation).applied is False


def test_a_repeat_of_the_applied_observation_is_ruled_out_without_deciding():
    from service.models.state_machine import may_change

    message = sent_message()
    applied = observe(3, 10, ["statuses_complete"])
    apply_observation(message, applied)
    assert may_change(message, observe(3, 10, ["statuses_complete"]), message.observation_key) is False
    assert may_change(message, observe(4, 10), message.observation_key) is True  # same time, other news
    assert may_change(message, observe(3, 11), message.observation_key) is True
    assert may_change(message, observe(3, 9), message.observation_key) is False
