"""The per-render budget: every hook in the template environment charges it.

A render opens one `RenderBudget` (a context variable, so each thread has its
own); the environment's hooks count loop iterations, calls and their depth,
the size of every value they make, and the time spent. Exceeding any limit
raises `BudgetExceeded`, before the offending value is built wherever the
size can be known in advance.
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Callable, Iterator, Optional

from jinja2.utils import Namespace

from service.rendering.sizes import ShapeMemo, TooDeep, TooLarge, is_container

MAX_RENDERED_LENGTH = 10_000
MAX_LOOP_ITERATIONS = 100_000
MAX_CALLS = 100_000
MAX_CALL_DEPTH = 30
MAX_VALUE_LENGTH = 100_000
MAX_NESTING_DEPTH = 50
MAX_ALLOCATED_BYTES = 16 * 1024 * 1024
MAX_INTEGER_BITS = 4_096
RENDER_TIME_LIMIT_SECONDS = 0.5

# Estimated bytes a value costs: a list item is a pointer plus, usually, an
# object of its own; a non-ASCII character may take four bytes.
ITEM_BYTES = 32
_WIDE_CHARACTER_BYTES = 4

Clock = Callable[[], float]


class BudgetExceeded(Exception):
    """A render went over one of its limits; `str()` names the limit and is safe to show.

    Not a ValueError or TypeError on purpose: Jinja's filters catch those.
    """


class RenderBudget:
    """What one render has spent so far, against the module's limits."""

    def __init__(self, clock: Clock = time.monotonic) -> None:
        self._clock = clock
        self._deadline = clock() + RENDER_TIME_LIMIT_SECONDS
        self.iterations = 0
        self.calls = 0
        self.depth = 0
        self.allocated = 0
        self.shapes = ShapeMemo(MAX_VALUE_LENGTH, MAX_NESTING_DEPTH)

    def check_time(self) -> None:
        if self._clock() > self._deadline:
            raise BudgetExceeded(f"rendering took longer than {RENDER_TIME_LIMIT_SECONDS} seconds")

    def count_iteration(self) -> None:
        self.iterations += 1
        if self.iterations > MAX_LOOP_ITERATIONS:
            raise BudgetExceeded(f"loops ran more than {MAX_LOOP_ITERATIONS} times in all")
        self.check_time()

    def count_call(self) -> None:
        self.calls += 1
        if self.calls > MAX_CALLS:
            raise BudgetExceeded(
                f"more than {MAX_CALLS} calls of macros, functions, filters and tests"
            )
        self.check_time()

    @contextmanager
    def nested_call(self) -> Iterator[None]:
        """Count a call and its depth while it runs (macros calling themselves)."""
        self.count_call()
        if self.depth >= MAX_CALL_DEPTH:
            raise BudgetExceeded(f"calls nested more than {MAX_CALL_DEPTH} deep (recursion)")
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1

    def check_length(self, length: int) -> None:
        """Refuse a string or sequence of `length` before it is built."""
        if length > MAX_VALUE_LENGTH:
            raise BudgetExceeded(f"a value would be longer than {MAX_VALUE_LENGTH} characters or items")

    def check_integer_bits(self, bits: int) -> None:
        if bits > MAX_INTEGER_BITS:
            raise BudgetExceeded(f"a number would be larger than {MAX_INTEGER_BITS} bits")

    def charge_bytes(self, estimated: int) -> None:
        self.allocated += estimated
        if self.allocated > MAX_ALLOCATED_BYTES:
            raise BudgetExceeded(
                f"the template built more than {MAX_ALLOCATED_BYTES // (1024 * 1024)} MiB "
                "of text and lists"
            )

    def charged(self, value: Any) -> Any:
        """Account for a value a hook has just made, and return it."""
        self.check_time()
        if isinstance(value, (str, bytes, bytearray)):
            self.check_length(len(value))
            wide = 1 if value.isascii() else _WIDE_CHARACTER_BYTES
            self.charge_bytes(len(value) * wide)
        elif isinstance(value, int):
            self.check_integer_bits(value.bit_length())
            self.charge_bytes(value.bit_length() // 8)
        elif is_container(value):
            self._charge_container(value)
        elif isinstance(value, Namespace):
            # A leaf to the size measure (it compares and hashes by identity),
            # but `namespace(mapping)` copies the mapping.
            self.charge_bytes(len(value._Namespace__attrs) * ITEM_BYTES)
        return value

    def _charge_container(self, value: Any) -> None:
        try:
            self.shapes.measure(value)
        except TooLarge:
            raise BudgetExceeded(
                f"a value would hold more than {MAX_VALUE_LENGTH} characters and items"
            ) from None
        except TooDeep:
            raise BudgetExceeded(f"a value would be nested more than {MAX_NESTING_DEPTH} deep") from None
        self.charge_bytes(len(value) * ITEM_BYTES)


_current: ContextVar[Optional[RenderBudget]] = ContextVar("render_budget", default=None)


def current_budget() -> RenderBudget:
    budget = _current.get()
    if budget is None:
        # Template code runs only inside `open_budget`; anything else is refused.
        raise BudgetExceeded("templates render only through render_template_text")
    return budget


@contextmanager
def open_budget(clock: Clock = time.monotonic) -> Iterator[RenderBudget]:
    budget = RenderBudget(clock)
    token = _current.set(budget)
    try:
        yield budget
    finally:
        _current.reset(token)
