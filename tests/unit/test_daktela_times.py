"""Daktela's times carry no zone: read in DAKTELA_TIMEZONE, they order a call's observations in UTC,
also in the hour that happens twice when daylight saving time ends."""
from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from service.backends.daktela.records import daktela_local_to_utc, parse_daktela_time, parse_record
from service.backends.daktela.states import StateRules, daktela_observation
from service.models import DialerMessage, DialerMessageState
from service.models.state_machine import apply_observation

PRAGUE = "Europe/Prague"
S = DialerMessageState


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def test_an_ordinary_local_time_is_one_instant():
    summer, winter = datetime(2026, 7, 1, 12, 0), datetime(2026, 12, 1, 12, 0)
    assert daktela_local_to_utc(summer, PRAGUE) == utc(2026, 7, 1, 10, 0)
    assert daktela_local_to_utc(winter, PRAGUE, received_at=utc(2026, 12, 1, 11, 0)) == utc(2026, 12, 1, 11, 0)


def test_a_time_with_its_own_offset_keeps_it():
    assert daktela_local_to_utc(parse_daktela_time("2026-07-01T12:00:00+00:00"), PRAGUE) == utc(2026, 7, 1, 12, 0)
    assert daktela_local_to_utc(parse_daktela_time("2026-07-01 12:00:00"), PRAGUE) == utc(2026, 7, 1, 10, 0)
    # A record's own `edited`, as the observation and the poller's ordering key read it.
    rules = StateRules()
    for edited, expected in (("2026-07-01T12:00:00+00:00", utc(2026, 7, 1, 12, 0)),
                             ("2026-07-01 12:00:00", utc(2026, 7, 1, 10, 0)),
                             (" 2026-07-01 12:00 ", utc(2026, 7, 1, 10, 0)), ("null", None), ("", None)):
        record = parse_record({"name": "dialer_1", "action": "3", "edited": edited})
        assert record.observation("poll", PRAGUE, rules).edited == expected, edited
        assert record.ordering_key(PRAGUE, rules)[0] == expected, edited


def test_a_wall_clock_time_of_the_repeated_hour_is_the_latest_instant_already_past():
    # 25 October 2026: Prague's clocks go from 03:00 CEST back to 02:00 CET (01:00 UTC).
    repeated = datetime(2026, 10, 25, 2, 30)
    first_pass, second_pass = utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 1, 30)
    assert daktela_local_to_utc(repeated, PRAGUE, received_at=utc(2026, 10, 25, 0, 31)) == first_pass
    assert daktela_local_to_utc(repeated, PRAGUE, received_at=utc(2026, 10, 25, 1, 31)) == second_pass
    assert daktela_local_to_utc(repeated, PRAGUE, received_at=utc(2026, 10, 25, 1, 10)) == first_pass
    assert daktela_local_to_utc(repeated, PRAGUE) == first_pass  # a future time (nextcall): the earlier


def test_a_final_answer_in_the_second_pass_of_the_repeated_hour_ends_the_call():
    rules = StateRules(states_mapping={"statuses_answered_complete": "ANSWERED_COMPLETE"})
    message = DialerMessage(state=S.READY, is_final_state=False, extra_sender_data={}, last_edited=None,
                            number_of_status_check_attempts=0)

    def observe(edited: str, action: int, statuses: list, received_at: datetime):
        record = parse_record({"name": "dialer_1", "action": str(action), "statuses": statuses, "edited": edited})
        return apply_observation(message, record.observation("webhook", PRAGUE, rules, received_at))

    # Ringing at 02:50 CEST; answered and done at 02:10 CET, forty minutes later.
    assert observe("2026-10-25 02:50:00", 3, [], utc(2026, 10, 25, 0, 50, 2)).applied
    done = observe("2026-10-25 02:10:00", 5, ["statuses_answered_complete"], utc(2026, 10, 25, 1, 10, 2))
    assert done.applied, done.note
    assert (message.state, message.is_final_state) == (S.ANSWERED_COMPLETE, True)
    assert message.last_edited == utc(2026, 10, 25, 1, 10)
    assert message.extra_sender_data["edited"] == "2026-10-25T01:10:00+00:00"


FALL_BACK = utc(2026, 10, 25, 0, 0)  # 02:00 CEST; Prague's clocks repeat 02:00-03:00 from 01:00 UTC


@settings(max_examples=200, deadline=None)
@given(steps=st.lists(st.tuples(st.integers(0, 7199), st.integers(0, 6), st.integers(0, 600)),
                      min_size=1, max_size=10, unique_by=lambda step: step[0]),
       order=st.randoms(use_true_random=False))
def test_across_the_repeated_hour_any_arrival_order_ends_as_the_true_order(steps, order):
    """Records edited over the two hours around the change (local text only), each delivered
    up to ten minutes later, in any order, end where applying them in true time order ends."""
    from zoneinfo import ZoneInfo

    rules = StateRules()

    def snapshot(second: int, action: int):
        local = (FALL_BACK + timedelta(seconds=second)).astimezone(ZoneInfo(PRAGUE))
        return parse_record({"name": "dialer_1", "action": str(action), "edited": local.strftime("%Y-%m-%d %H:%M:%S")})

    def fresh():
        return DialerMessage(state=S.READY, is_final_state=False, extra_sender_data={}, last_edited=None,
                             number_of_status_check_attempts=0)

    expected = fresh()  # the true instants, in true order
    for second, action, _delay in sorted(steps):
        apply_observation(expected, daktela_observation("webhook", action, edited=FALL_BACK + timedelta(seconds=second),
                                                        rules=rules))
    arrived = fresh()
    for second, action, delay in order.sample(steps, len(steps)):
        apply_observation(arrived, snapshot(second, action).observation(
            "webhook", PRAGUE, rules, FALL_BACK + timedelta(seconds=second + delay)))
    assert (arrived.state, arrived.is_final_state, arrived.last_edited) == (
        expected.state, expected.is_final_state, expected.last_edited)
