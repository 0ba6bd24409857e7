"""The poller's shortcut for records that carry nothing new must agree with the full path:
`ordering_key_of(record)` is exactly (edited, observation_key) of `observation_of(record)`."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from config import Config, DaktelaConfig
from service.backends.daktela.backend import DaktelaDialerBackend
from service.backends.daktela.records import RecordSnapshot
from service.models.state_machine import observation_key


def _backend(zone: str) -> DaktelaDialerBackend:
    return DaktelaDialerBackend(Config(sender_backend="daktela", daktela=DaktelaConfig(
        url="http://127.0.0.1:9", access_token="t", autodialer_record_type="tts", timezone=zone,
        states_mapping={"statuses_declined": "DECLINED", "statuses_done": "ANSWERED_COMPLETE"})))


times = st.one_of(st.none(), st.sampled_from(["2026-10-25 02:30:00", "2026-10-25 01:59:59", "garbage",
                                              "2026-10-25T02:30:00+01:00", "2026-03-29 02:30:00"]))
records = st.builds(
    RecordSnapshot, name=st.just("dialer_1"), action=st.one_of(st.none(), st.integers(-1, 7)),
    statuses=st.lists(st.sampled_from(["statuses_declined", "statuses_done", "unknown", "x\x1ey"]),
                      max_size=2).map(tuple),
    edited=times, nextcall=times, call_id=st.one_of(st.none(), st.text(max_size=5)))


@settings(max_examples=300, deadline=None)
@given(record=records, zone=st.sampled_from(["UTC", "Europe/Prague"]))
def test_ordering_key_matches_the_observation_it_stands_for(record, zone):
    backend = _backend(zone)
    observation = backend.observation_of(record, "poll")
    assert backend.ordering_key_of(record) == (observation.edited, observation_key(observation))


def test_a_changed_record_has_a_different_key():
    backend = _backend("UTC")
    ready = RecordSnapshot("dialer_1", 1, (), "2026-10-25 02:30:00", None, None)
    declined = RecordSnapshot("dialer_1", 5, ("statuses_declined",), "2026-10-25 02:30:00", None, "c1")
    assert backend.ordering_key_of(ready)[0] == backend.ordering_key_of(declined)[0]
    assert backend.ordering_key_of(ready)[1] != backend.ordering_key_of(declined)[1]
