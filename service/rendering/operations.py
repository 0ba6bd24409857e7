"""Operators, string methods and formatting, each sized before it allocates."""
from __future__ import annotations

import operator
import re
from collections import abc
from itertools import islice
from typing import Any, Callable, Iterable

from service.rendering.budget import (
    MAX_VALUE_LENGTH,
    BudgetExceeded,
    RenderBudget,
)
from service.rendering.sizes import is_container, text_size

_BINOPS = {
    "*": operator.mul,
    "**": operator.pow,
    "+": operator.add,
    "%": operator.mod,
    "-": operator.sub,
    "/": operator.truediv,
    "//": operator.floordiv,
}
_UNOPS = {"-": operator.neg, "+": operator.pos}
# Room for what a conversion adds beyond its argument's text: a float's
# digits (up to 309 before the point), signs, prefixes, exponents.
_NUMBER_ROOM = 330
_PRINTF_SPEC = re.compile(
    r"%(?:\((?P<key>[^)]*)\))?[#0 +-]*(?P<width>\*|\d+)?(?:\.(?P<precision>\*|\d+)?)?[hlL]?(?P<type>.?)",
    re.DOTALL,
)
_DIGITS = re.compile(r"\d+")


def apply_binop(budget: RenderBudget, name: str, left: Any, right: Any) -> Any:
    """`left <name> right`, refused if its result would be too big; every result is charged."""
    budget.check_time()
    if name == "*":
        _check_product(budget, left, right)
    elif name == "**":
        _check_power(budget, left, right)
    elif name == "+":
        _check_sum(budget, left, right)
    elif name == "%" and isinstance(left, str):
        budget.check_length(printf_size(left, right))
    return budget.charged(_BINOPS[name](left, right))


def apply_unop(budget: RenderBudget, name: str, operand: Any) -> Any:
    # `-x` of a large number is a new large number.
    return budget.charged(_UNOPS[name](operand))


def _size(budget: RenderBudget, value: Any) -> int:
    if isinstance(value, str):
        return len(value)
    return budget.shapes.measure(value)[0] if is_container(value) else 1


def _check_product(budget: RenderBudget, left: Any, right: Any) -> None:
    if _is_int(left) and _is_int(right):
        budget.check_integer_bits(left.bit_length() + right.bit_length())
        return
    for sequence, times in ((left, right), (right, left)):
        if _is_int(times) and (isinstance(sequence, str) or is_container(sequence)):
            budget.check_length(_size(budget, sequence) * max(times, 0))


def _check_power(budget: RenderBudget, base: Any, exponent: Any) -> None:
    if _is_int(base) and _is_int(exponent) and exponent > 0 and abs(base) > 1:
        # The exponent itself may be huge: cap it before multiplying.
        budget.check_integer_bits(base.bit_length() * min(exponent, 2**32))


def _check_sum(budget: RenderBudget, left: Any, right: Any) -> None:
    if isinstance(left, str) and isinstance(right, str):
        budget.check_length(len(left) + len(right))
    elif is_container(left) and is_container(right):
        budget.check_length(_size(budget, left) + _size(budget, right))


def _is_int(value: Any) -> bool:
    return isinstance(value, int)


def _field_number(digits: str) -> int:
    """A width or precision written in a format; absurdly long ones are refused as such."""
    if len(digits) > len(str(MAX_VALUE_LENGTH)):
        raise BudgetExceeded(f"a format width or precision is larger than {MAX_VALUE_LENGTH}")
    return int(digits)


def printf_size(template: str, arguments: Any) -> int:
    """An upper estimate of len(template % arguments)."""
    positional = list(arguments) if isinstance(arguments, tuple) else [arguments]
    mapping = arguments if isinstance(arguments, abc.Mapping) else {}
    total = len(template)
    for spec in _PRINTF_SPEC.finditer(template):
        if spec["type"] == "%":
            continue
        room = _NUMBER_ROOM
        for part in (spec["width"], spec["precision"]):
            if part == "*":
                star = positional.pop(0) if positional else 0
                room += max(star, 0) if _is_int(star) else 0
            elif part:
                room += _field_number(part)
        if spec["key"] is not None:
            argument = mapping.get(spec["key"], "")
        else:
            argument = positional.pop(0) if positional else ""
        # repr() (%r, %a) may write up to 10 characters for one.
        expansion = 10 if spec["type"] in ("r", "a") else 1
        total += room + expansion * text_size(argument, MAX_VALUE_LENGTH)
        if total > MAX_VALUE_LENGTH:
            return total
    return total


def format_field_size(value: Any, format_spec: str) -> int:
    """An upper estimate of len(format(value, format_spec)), for str.format fields."""
    widths = sum(_field_number(digits) for digits in _DIGITS.findall(format_spec))
    # A date's spec expands each directive (%A: 'Wednesday') by a few characters.
    return text_size(value, MAX_VALUE_LENGTH) + widths + _NUMBER_ROOM + 16 * len(format_spec)


def _padded_size(text: str, width: Any = 0, *_: Any, **__: Any) -> int:
    return max(len(text), width if _is_int(width) else 0)


def _expanded_size(text: str, tabsize: Any = 8, **_: Any) -> int:
    return len(text) + text.count("\t") * (tabsize if _is_int(tabsize) and tabsize > 0 else 0)


def replaced_size(text: str, old: Any = "", new: Any = "", count: Any = -1, **_: Any) -> int:
    """len(text.replace(old, new, count)), computed without replacing."""
    if not (isinstance(old, str) and isinstance(new, str)):
        return len(text)
    found = len(text) + 1 if old == "" else text.count(old)
    if _is_int(count) and count >= 0:
        found = min(found, count)
    return len(text) + found * max(len(new) - len(old), 0)


def joined_size(separator: str, items: list[Any]) -> int:
    """An upper estimate of len(separator.join(str(item) for item in items))."""
    total = len(separator) * max(len(items) - 1, 0)
    for item in items:
        total += text_size(item, MAX_VALUE_LENGTH)
        if total > MAX_VALUE_LENGTH:
            break
    return total


def bounded_items(budget: RenderBudget, iterable: Iterable[Any]) -> list[Any]:
    """The items of `iterable` as a list, refusing more than the value limit."""
    items = list(islice(iterable, MAX_VALUE_LENGTH + 1))
    budget.check_length(len(items))
    return items


def _join_method(budget: RenderBudget, method: Callable, iterable: Any = (), *rest: Any) -> str:
    items = bounded_items(budget, iterable)
    budget.check_length(joined_size(method.__self__, items))
    return method(items, *rest)


_SIZED_STR_METHODS: dict[str, Callable[..., int]] = {
    "center": _padded_size,
    "ljust": _padded_size,
    "rjust": _padded_size,
    "zfill": _padded_size,
    "expandtabs": _expanded_size,
    "replace": replaced_size,
}
# Their result's size cannot be told from their arguments cheaply.
_REFUSED_STR_METHODS = frozenset(["translate", "maketrans"])


def call_str_method(budget: RenderBudget, method: Callable, args: tuple, kwargs: dict) -> Any:
    """Call a method of a string, sizing the ones that can grow it first."""
    name = method.__name__
    if name in _REFUSED_STR_METHODS:
        raise BudgetExceeded(f"str.{name} is not available in templates")
    if name == "join" and not kwargs:
        return _join_method(budget, method, *args)
    sizer = _SIZED_STR_METHODS.get(name)
    if sizer is not None:
        budget.check_length(sizer(method.__self__, *args, **kwargs))
    return method(*args, **kwargs)


def is_str_method(value: Any) -> bool:
    return isinstance(getattr(value, "__self__", None), str) and callable(value)

