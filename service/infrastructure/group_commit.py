"""Group commit: callers that arrive together share one transaction.

Each caller hands its item to `submit` and waits for its own outcome. One of
the waiting callers, the leader, takes every item queued so far (at most
`max_batch`) and runs them with a single call of `run_batch`; callers that
arrive meanwhile queue up and form the next group as soon as it is done.
Nothing waits to fill a group: a caller alone runs at once, so grouping adds
no latency when the process is idle and grows with the load. There is no
background thread: the leader is one of the callers, so a group runs in that
caller's application context, and an idle process holds nothing open.
"""
from __future__ import annotations

import threading
from typing import Callable, Generic, Sequence, TypeVar, Union

Item = TypeVar("Item")
Result = TypeVar("Result")
_PENDING = object()


class _Slot:
    """One caller's item, its outcome, and the lock the caller sleeps on until woken."""

    __slots__ = ("item", "outcome", "_wake")

    def __init__(self, item) -> None:
        self.item = item
        self.outcome = _PENDING
        self._wake = threading.Lock()
        self._wake.acquire()

    @property
    def done(self) -> bool:
        return self.outcome is not _PENDING

    def sleep(self) -> None:
        self._wake.acquire()

    def wake(self) -> None:
        self._wake.release()

    def result(self):
        if isinstance(self.outcome, BaseException):
            raise self.outcome
        return self.outcome


class GroupCommit(Generic[Item, Result]):
    """Runs `run_batch(items)` for groups of concurrent `submit(item)` calls.

    `run_batch` returns one outcome per item, in order: a result, or an
    exception that is raised to that item's caller alone. If `run_batch`
    raises, every caller of the group gets that exception.

    Each caller is woken once: when its outcome is ready, or when it is made
    the next leader (the leader hands over to the oldest waiting caller).
    """

    def __init__(self, run_batch: Callable[[list[Item]], Sequence[Union[Result, BaseException]]],
                 max_batch: int = 64) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self._run_batch = run_batch
        self._max_batch = max_batch
        self._lock = threading.Lock()
        self._queue: list[_Slot] = []
        # Invariant: with no leader the queue is empty, and a leader's own
        # item is at the head of the queue when it takes its group.
        self._leading = False

    @property
    def waiting(self) -> int:
        """How many submitted items wait for a group."""
        with self._lock:
            return len(self._queue)

    def submit(self, item: Item) -> Result:
        """Run `item` in the next group and return its outcome (or raise its exception)."""
        slot = _Slot(item)
        with self._lock:
            self._queue.append(slot)
            leader = not self._leading
            self._leading = True
        if not leader:
            slot.sleep()
        if not slot.done:
            self._lead()
        return slot.result()

    def _lead(self) -> None:
        with self._lock:
            group = self._queue[: self._max_batch]
            del self._queue[: self._max_batch]
        successor = None
        try:
            outcomes = list(self._run_batch([slot.item for slot in group]))
            if len(outcomes) != len(group):
                raise RuntimeError(f"run_batch returned {len(outcomes)} outcomes for {len(group)} items")
        except BaseException as exc:  # noqa: BLE001 - every caller of the group must be woken with it
            outcomes = [exc] * len(group)
        finally:
            with self._lock:
                if self._queue:
                    successor = self._queue[0]
                else:
                    self._leading = False
        for slot, outcome in zip(group, outcomes, strict=True):
            slot.outcome = outcome
        for slot in group[1:]:
            slot.wake()
        if successor is not None:
            successor.wake()
