"""The sandboxed Jinja2 environment every template renders in, hooked to the budget.

Jinja2's sandbox keeps templates away from Python internals; these hooks keep
them within the render's budget: every loop iteration (even one that prints
nothing), call, filter, test, operator, string concatenation, literal list
and printed value is counted or sized, and sized before it is built where
that can be known.
"""
from __future__ import annotations

import types
from functools import update_wrapper
from typing import Any, Callable, Iterable, Optional

from jinja2 import StrictUndefined, nodes
from jinja2.compiler import CodeGenerator, Frame, optimizeconst
from jinja2.runtime import markup_join, str_join
from jinja2.sandbox import ImmutableSandboxedEnvironment, SandboxedFormatter, SecurityError
from jinja2.utils import Namespace
from markupsafe import EscapeFormatter, Markup

from service.rendering.budget import (
    ITEM_BYTES,
    MAX_RENDERED_LENGTH,
    MAX_VALUE_LENGTH,
    BudgetExceeded,
    current_budget,
)
from service.rendering.filters import bounded_text, budgeted_filters, budgeted_tests
from service.rendering.operations import (
    apply_binop,
    apply_unop,
    call_str_method,
    format_field_size,
    is_str_method,
)
from service.rendering.sizes import text_size

# Jinja2 allows no custom node types; this node (which template text cannot
# produce) compiles to one counted loop pass that evaluates to True.
_COUNT_ITERATION = "count_iteration"


def _count_iteration(lineno: int) -> nodes.EnvironmentAttribute:
    return nodes.EnvironmentAttribute(_COUNT_ITERATION, lineno=lineno)


class BudgetedCodeGenerator(CodeGenerator):
    def visit_For(self, node: nodes.For, frame: Frame) -> None:
        # The count goes first in the body, so a loop that prints nothing still
        # pays; a loop's `if` filter pays for every item it tests.
        node.body = [nodes.ExprStmt(_count_iteration(node.lineno), lineno=node.lineno), *node.body]
        if node.test is not None:
            node.test = nodes.And(_count_iteration(node.lineno), node.test, lineno=node.lineno)
        super().visit_For(node, frame)

    def visit_EnvironmentAttribute(self, node: nodes.EnvironmentAttribute, frame: Frame) -> None:
        if node.name == _COUNT_ITERATION:
            self.write(f"environment.{_COUNT_ITERATION}()")
        else:
            super().visit_EnvironmentAttribute(node, frame)

    @optimizeconst
    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.concat_texts(context.eval_ctx, (")
        for argument in node.nodes:
            self.visit(argument, frame)
            self.write(", ")
        self.write("))")

    def _charged(self, visit: Callable[[Any, Frame], None], node: nodes.Node, frame: Frame) -> None:
        self.write("environment.charged(")
        visit(node, frame)
        self.write(")")

    def visit_List(self, node: nodes.List, frame: Frame) -> None:
        self._charged(super().visit_List, node, frame)

    def visit_Dict(self, node: nodes.Dict, frame: Frame) -> None:
        self._charged(super().visit_Dict, node, frame)

    def visit_Tuple(self, node: nodes.Tuple, frame: Frame) -> None:
        if node.ctx == "load":
            self._charged(super().visit_Tuple, node, frame)
        else:
            super().visit_Tuple(node, frame)


class BoundedNamespace(Namespace):
    """`namespace()` whose printed form is sized first (namespaces may hold one another)."""

    def __repr__(self) -> str:
        current_budget().check_length(text_size(self, MAX_VALUE_LENGTH))
        return super().__repr__()


class BoundedFormatter(SandboxedFormatter):
    """str.format in templates: each field, and the whole result, sized before it is built."""

    _written = 0

    def vformat(self, format_string: str, args: Any, kwargs: Any) -> str:
        self._written = len(format_string)
        return super().vformat(format_string, args, kwargs)

    def convert_field(self, value: Any, conversion: Optional[str]) -> Any:
        if conversion is not None:
            expansion = 10 if conversion in ("r", "a") else 1
            current_budget().check_length(expansion * text_size(value, MAX_VALUE_LENGTH))
        return super().convert_field(value, conversion)

    def format_field(self, value: Any, format_spec: str) -> Any:
        self._written += format_field_size(value, format_spec)
        current_budget().check_length(self._written)
        return super().format_field(value, format_spec)


class BoundedEscapeFormatter(BoundedFormatter, EscapeFormatter):
    pass


def finalize_output(value: Any) -> str:
    """Every printed value (`{{ ... }}`): sized before it becomes text, and charged."""
    budget = current_budget()
    if text_size(value, MAX_RENDERED_LENGTH) > MAX_RENDERED_LENGTH:
        raise BudgetExceeded(f"rendered content is longer than {MAX_RENDERED_LENGTH} characters")
    # Each printed piece is also held in a list until its block is joined.
    budget.charge_bytes(ITEM_BYTES)
    return budget.charged(str(value))


def join_output(chunks: Iterable[str]) -> str:
    """The text of a macro, call block or `{% set %}` block, refused once too long."""
    budget = current_budget()
    parts, length = [], 0
    for chunk in chunks:
        length += len(chunk)
        budget.check_length(length)
        parts.append(chunk)
    return budget.charged("".join(parts))


class BudgetedSandbox(ImmutableSandboxedEnvironment):
    """Jinja2's immutable sandbox with strict variables, every operation charged to the budget."""

    code_generator_class = BudgetedCodeGenerator
    # Every operator, so that each result is charged: even `-x` or `x - 1`
    # makes a new number as large as x.
    intercepted_binops = frozenset(["*", "**", "+", "%", "-", "/", "//"])
    intercepted_unops = frozenset(["-", "+"])

    def __init__(self) -> None:
        super().__init__(undefined=StrictUndefined, autoescape=False, finalize=finalize_output)
        self.filters = budgeted_filters(self.filters)
        self.tests = budgeted_tests(self.tests)
        # Lorem ipsum of any length, and nothing a message needs.
        self.globals.pop("lipsum", None)
        self.globals["namespace"] = BoundedNamespace
        self.concat = join_output  # type: ignore[assignment]

    def count_iteration(self) -> bool:
        current_budget().count_iteration()
        return True

    def charged(self, value: Any) -> Any:
        return current_budget().charged(value)

    def concat_texts(self, eval_ctx: nodes.EvalContext, values: tuple) -> str:
        """`a ~ b ~ c`: the parts' text sized before any is converted."""
        budget = current_budget()
        budget.check_length(sum(text_size(value, MAX_VALUE_LENGTH) for value in values))
        texts = tuple(bounded_text(value) for value in values)
        return budget.charged((markup_join if eval_ctx.autoescape else str_join)(texts))

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        return apply_binop(current_budget(), operator, left, right)

    def call_unop(self, context: Any, operator: str, arg: Any) -> Any:
        return apply_unop(current_budget(), operator, arg)

    def getitem(self, obj: Any, argument: Any) -> Any:
        value = super().getitem(obj, argument)
        # A slice is a copy, which the template may keep.
        return current_budget().charged(value) if isinstance(argument, slice) else value

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        """Every call from template code: counted, nested at most so deep, its result charged."""
        if not __self.is_safe_callable(__obj):
            raise SecurityError(f"{__obj!r} is not safely callable")
        budget = current_budget()
        # `f(*items)` packs its arguments into a new tuple the callee may keep.
        budget.charge_bytes((len(args) + len(kwargs)) * ITEM_BYTES)
        with budget.nested_call():
            if is_str_method(__obj):
                result = call_str_method(budget, __obj, args, kwargs)
            else:
                result = __context.call(__obj, *args, **kwargs)
        return budget.charged(result)

    def wrap_str_format(self, value: Any) -> Optional[Callable[..., str]]:
        """str.format and format_map through BoundedFormatter (as the sandbox does with its own)."""
        if not isinstance(value, (types.MethodType, types.BuiltinMethodType)) or (
            value.__name__ not in ("format", "format_map")
        ):
            return None
        text = value.__self__
        if not isinstance(text, str):
            return None
        if isinstance(text, Markup):
            formatter: BoundedFormatter = BoundedEscapeFormatter(self, escape=text.escape)
        else:
            formatter = BoundedFormatter(self)
        is_format_map = value.__name__ == "format_map"

        def wrapper(*args: Any, **kwargs: Any) -> str:
            if is_format_map:
                if kwargs or len(args) != 1:
                    raise TypeError("format_map() takes exactly one argument")
                args, kwargs = (), args[0]
            return type(text)(formatter.vformat(text, args, kwargs))

        return update_wrapper(wrapper, value)
