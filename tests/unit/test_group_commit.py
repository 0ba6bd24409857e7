"""Group commit: concurrent callers share one run, each gets its own outcome."""
import threading
import time

import pytest

from service.infrastructure.group_commit import GroupCommit


class Recorder:
    """A run_batch that records its groups and can hold the first one until released."""

    def __init__(self, hold_first=False):
        self.groups = []
        self.started = threading.Event()
        self.release = threading.Event()
        if not hold_first:
            self.release.set()

    def __call__(self, items):
        self.groups.append(list(items))
        self.started.set()
        self.release.wait(5)
        return [ValueError(f"bad {item}") if item < 0 else item * 10 for item in items]


def submit_in_threads(committer, items):
    outcomes = {}

    def call(item):
        try:
            outcomes[item] = committer.submit(item)
        except Exception as exc:  # noqa: BLE001 - the test looks at what each caller got
            outcomes[item] = exc

    threads = [threading.Thread(target=call, args=(item,)) for item in items]
    for thread in threads:
        thread.start()
    return threads, outcomes


def wait_until(condition, seconds=5):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.001)


def test_a_caller_alone_runs_at_once_in_a_group_of_one():
    recorder = Recorder()
    assert GroupCommit(recorder).submit(4) == 40
    assert recorder.groups == [[4]]


def test_callers_arriving_during_a_run_share_the_next_run_and_each_get_their_own_result():
    recorder = Recorder(hold_first=True)
    committer = GroupCommit(recorder)
    first, first_outcome = submit_in_threads(committer, [1])
    assert recorder.started.wait(5)
    rest, outcomes = submit_in_threads(committer, [2, 3, 4, 5])
    wait_until(lambda: committer.waiting == 4)
    recorder.release.set()
    for thread in first + rest:
        thread.join(5)
    assert recorder.groups[0] == [1] and sorted(recorder.groups[1]) == [2, 3, 4, 5]
    assert len(recorder.groups) == 2
    assert first_outcome == {1: 10} and outcomes == {2: 20, 3: 30, 4: 40, 5: 50}


def test_an_exception_for_one_item_is_raised_to_its_caller_only():
    recorder = Recorder(hold_first=True)
    committer = GroupCommit(recorder)
    first, _ = submit_in_threads(committer, [1])
    assert recorder.started.wait(5)
    rest, outcomes = submit_in_threads(committer, [2, -3, 4])
    wait_until(lambda: committer.waiting == 3)
    recorder.release.set()
    for thread in first + rest:
        thread.join(5)
    assert outcomes[2] == 20 and outcomes[4] == 40
    assert isinstance(outcomes[-3], ValueError) and str(outcomes[-3]) == "bad -3"


def test_a_failed_run_fails_its_group_and_the_next_group_still_runs():
    calls = []

    def run_batch(items):
        calls.append(list(items))
        if len(calls) == 1:
            raise RuntimeError("database gone")
        return [item for item in items]

    committer = GroupCommit(run_batch)
    with pytest.raises(RuntimeError, match="database gone"):
        committer.submit(1)
    assert committer.submit(2) == 2
    assert calls == [[1], [2]]


def test_groups_are_never_larger_than_max_batch():
    recorder = Recorder(hold_first=True)
    committer = GroupCommit(recorder, max_batch=3)
    first, _ = submit_in_threads(committer, [0])
    assert recorder.started.wait(5)
    rest, outcomes = submit_in_threads(committer, list(range(1, 8)))
    wait_until(lambda: committer.waiting == 7)
    recorder.release.set()
    for thread in first + rest:
        thread.join(5)
    assert [len(group) for group in recorder.groups] == [1, 3, 3, 1]
    assert outcomes == {item: item * 10 for item in range(1, 8)}


def test_a_run_batch_returning_the_wrong_number_of_outcomes_is_an_error_for_the_group():
    committer = GroupCommit(lambda items: [])
    with pytest.raises(RuntimeError, match="0 outcomes for 1 items"):
        committer.submit(1)


def test_many_callers_each_get_their_own_result_and_nobody_is_left_waiting():
    """Lost wake-ups would leave a caller asleep (the join times out); mixed-up outcomes would mismatch."""
    import random

    sizes = []

    def run_batch(items):
        sizes.append(len(items))
        time.sleep(random.random() / 1000)
        return [(item, "done") for item in items]

    committer = GroupCommit(run_batch, max_batch=5)
    outcomes = {}

    def caller(number):
        for call in range(50):
            outcomes[(number, call)] = committer.submit((number, call))

    threads = [threading.Thread(target=caller, args=(number,), daemon=True) for number in range(32)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 20
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    assert not any(thread.is_alive() for thread in threads)
    assert outcomes == {(number, call): ((number, call), "done") for number in range(32) for call in range(50)}
    assert sum(sizes) == 32 * 50 and max(sizes) <= 5 and committer.waiting == 0
    assert len(sizes) < 32 * 50, "no two callers ever shared a run"
