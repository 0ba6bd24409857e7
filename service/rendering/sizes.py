"""Bounded measurements of template values.

Both measures stop as soon as they pass their limit, so measuring costs at
most the limit even for a structure that shares its parts (a list holding
the same list twice, forty times over, is small in memory but huge when
compared, hashed or printed).
"""
from __future__ import annotations

from collections import abc
from typing import Any, Iterable, Iterator, Optional

from jinja2.utils import Namespace

_SEQUENCES = (list, tuple, set, frozenset)
_VIEWS = (abc.KeysView, abc.ValuesView, abc.ItemsView)
_MEMO_ENTRIES = 4_096
_END = object()


class TooLarge(Exception):
    pass


class TooDeep(Exception):
    pass


def is_container(value: Any) -> bool:
    return isinstance(value, (_SEQUENCES, dict))


def _container_children(value: Any) -> Optional[Iterable[Any]]:
    if isinstance(value, _SEQUENCES):
        return value
    if isinstance(value, abc.Mapping):
        return _keys_and_values(value)
    return None


def _keys_and_values(mapping: abc.Mapping) -> Iterator[Any]:
    for key, value in mapping.items():
        yield key
        yield value


class ShapeMemo:
    """Size (characters plus items, shared parts counted each time) and depth of values.

    Remembers the containers it measured (holding them, so their ids stay
    theirs) up to a fixed number, so a container built from measured parts
    costs its own length, not its parts' again. Template code cannot change a
    container once built (the environment is immutable), so remembered
    shapes stay true.
    """

    def __init__(self, max_size: int, max_depth: int) -> None:
        self._max_size = max_size
        self._max_depth = max_depth
        self._known: dict[int, tuple[Any, int, int]] = {}

    def measure(self, value: Any) -> tuple[int, int]:
        """(size, depth) of `value`; TooLarge or TooDeep past the limits."""
        return self._shape(value, 0)

    def _shape(self, value: Any, level: int) -> tuple[int, int]:
        if isinstance(value, str):
            return max(len(value), 1), 0
        children = _container_children(value)
        if children is None:
            return 1, 0
        known = self._known.get(id(value))
        if known is not None:
            return known[1], known[2]
        if level >= self._max_depth:
            raise TooDeep()
        size, depth = 1, 0
        for child in children:
            child_size, child_depth = self._shape(child, level + 1)
            size += child_size
            depth = max(depth, child_depth + 1)
            if size > self._max_size:
                raise TooLarge()
        if depth > self._max_depth:
            raise TooDeep()
        if len(self._known) < _MEMO_ENTRIES:
            self._known[id(value)] = (value, size, depth)
        return size, depth


def text_size(value: Any, limit: int) -> int:
    """An upper estimate of len(str(value)); stops counting once past `limit`."""
    total = _own_text_size(value, nested=False)
    stack = [_text_children(value)]
    while stack and total <= limit:
        child = next(stack[-1], _END)
        if child is _END:
            stack.pop()
            continue
        total += _own_text_size(child, nested=True)
        stack.append(_text_children(child))
    return total


def _text_children(value: Any) -> Iterator[Any]:
    if isinstance(value, Namespace):
        return _keys_and_values(value._Namespace__attrs)
    if isinstance(value, _VIEWS):
        return iter(value)
    children = _container_children(value)
    return iter(() if children is None else children)


def _own_text_size(value: Any, nested: bool) -> int:
    """The characters `value` adds by itself: its text, or its brackets and separators."""
    if isinstance(value, str):
        if not nested:
            return len(value)
        # repr() inside a container: quotes, and escapes of up to 10 characters.
        return 2 * len(value) + 2 if value.isprintable() else 10 * len(value) + 2
    if isinstance(value, bool) or value is None:
        return 5
    if isinstance(value, int):
        return value.bit_length() * 10 // 33 + 2
    if isinstance(value, float):
        return 24
    if isinstance(value, Namespace):
        return 16 + 4 * len(value._Namespace__attrs)
    if isinstance(value, (abc.Mapping, _VIEWS)):
        return 16 + 4 * len(value)
    if isinstance(value, _SEQUENCES):
        return 3 + 2 * len(value)
    # Other objects (loops, macros, ranges, cyclers) print a short fixed text.
    return 100
