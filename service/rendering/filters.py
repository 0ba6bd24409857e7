"""The template filters and tests, each counted and charged; the growing ones sized first."""
from __future__ import annotations

import functools
from typing import Any, Callable, Mapping

from jinja2 import filters as jinja_filters
from jinja2.filters import make_attrgetter
from jinja2.utils import pass_environment, pass_eval_context

from service.rendering.budget import (
    MAX_RENDERED_LENGTH,
    MAX_VALUE_LENGTH,
    BudgetExceeded,
    current_budget,
)
from service.rendering.operations import (
    bounded_items,
    joined_size,
    printf_size,
    replaced_size,
)
from service.rendering.sizes import is_container, text_size

_MAX_JSON_INDENT = 8


def bounded_text(value: Any) -> str:
    """str(value), refused before converting when the text would be too long."""
    if not isinstance(value, str):
        current_budget().check_length(text_size(value, MAX_VALUE_LENGTH))
    return str(value)


def _center(value: Any, width: Any = 80) -> str:
    text = bounded_text(value)
    if isinstance(width, int):
        current_budget().check_length(max(len(text), width))
    return jinja_filters.do_center(text, width)


def _indent(s: Any, width: Any = 4, first: bool = False, blank: bool = False) -> str:
    text = bounded_text(s)
    indention = len(width) if isinstance(width, str) else width
    if isinstance(indention, int):
        lines = len(text.splitlines()) + 1
        current_budget().check_length(len(text) + lines * max(indention, 0))
    return jinja_filters.do_indent(text, width, first, blank)


@pass_environment
def _wordwrap(environment, s: Any, width: int = 79, break_long_words: bool = True,
              wrapstring: Any = None, break_on_hyphens: bool = True) -> str:
    text = bounded_text(s)
    joint = environment.newline_sequence if wrapstring is None else bounded_text(wrapstring)
    # At most one line per character, each ended by the wrap string.
    current_budget().check_length(len(text) + (len(text) + 1) * len(joint))
    return jinja_filters.do_wordwrap(environment, text, width, break_long_words, joint,
                                     break_on_hyphens)


def _format(value: Any, *args: Any, **kwargs: Any) -> str:
    text = bounded_text(value)
    current_budget().check_length(printf_size(text, kwargs or args))
    return jinja_filters.do_format(text, *args, **kwargs)


def _batch(value: Any, linecount: int, fill_with: Any = None) -> Any:
    budget = current_budget()
    items = bounded_items(budget, value)
    if fill_with is not None and isinstance(linecount, int):
        budget.check_length(len(items) + linecount)
    return jinja_filters.do_batch(items, linecount, fill_with)


def _slice(value: Any, slices: int, fill_with: Any = None) -> Any:
    budget = current_budget()
    items = bounded_items(budget, value)
    if isinstance(slices, int):
        budget.check_length(slices)
    return jinja_filters.sync_do_slice(items, slices, fill_with)


@pass_eval_context
def _replace(eval_ctx, s: Any, old: Any, new: Any, count: Any = None) -> str:
    text, old_text, new_text = bounded_text(s), bounded_text(old), bounded_text(new)
    current_budget().check_length(replaced_size(text, old_text, new_text, -1 if count is None else count))
    return jinja_filters.do_replace(eval_ctx, text, old_text, new_text, count)


@pass_eval_context
def _join(eval_ctx, value: Any, d: Any = "", attribute: Any = None) -> str:
    budget = current_budget()
    items = bounded_items(budget, value)
    if attribute is not None:
        items = bounded_items(budget, map(make_attrgetter(eval_ctx.environment, attribute), items))
    joint = bounded_text(d)
    budget.check_length(joined_size(joint, items))
    return jinja_filters.sync_do_join(eval_ctx, items, joint)


@pass_eval_context
def _tojson(eval_ctx, value: Any, indent: Any = None) -> str:
    budget = current_budget()
    width = len(indent) if isinstance(indent, str) else indent
    if width is not None and (not isinstance(width, int) or width > _MAX_JSON_INDENT):
        raise BudgetExceeded(f"tojson indents by at most {_MAX_JSON_INDENT}")
    # Each item may start a line indented once per level it is nested in.
    size, depth = budget.shapes.measure(value) if is_container(value) else (1, 0)
    budget.check_length(text_size(value, MAX_VALUE_LENGTH) + size * (width or 0) * depth)
    return jinja_filters.do_tojson(eval_ctx, value, indent)


def _pprint(value: Any) -> str:
    # Pretty-printing is slow and only ever meant for the output, which is short.
    current_budget().check_length(text_size(value, MAX_RENDERED_LENGTH) * 2)
    return jinja_filters.do_pprint(value)


_SIZED_FILTERS: dict[str, Callable[..., Any]] = {
    "center": _center,
    "indent": _indent,
    "wordwrap": _wordwrap,
    "format": _format,
    "batch": _batch,
    "slice": _slice,
    "replace": _replace,
    "join": _join,
    "tojson": _tojson,
    "pprint": _pprint,
}


def budgeted(function: Callable[..., Any]) -> Callable[..., Any]:
    """`function` counted as a call and its result charged to the render's budget."""

    @functools.wraps(function)  # keeps Jinja's pass_context/pass_environment marks
    def run(*args: Any, **kwargs: Any) -> Any:
        budget = current_budget()
        budget.count_call()
        return budget.charged(function(*args, **kwargs))

    return run


def budgeted_filters(defaults: Mapping[str, Callable[..., Any]]) -> dict[str, Callable[..., Any]]:
    return {name: budgeted(_SIZED_FILTERS.get(name, function)) for name, function in defaults.items()}


def budgeted_tests(defaults: Mapping[str, Callable[..., Any]]) -> dict[str, Callable[..., Any]]:
    return {name: budgeted(function) for name, function in defaults.items()}
