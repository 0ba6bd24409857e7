"""Sandboxed rendering of dialer template bodies.

Template authors are API callers, not developers: their templates run in
Jinja2's sandbox (no attribute access to Python internals), with strict
undefined variables (a missing variable is an error, never empty text) and
bounds on the operations that could exhaust memory.
"""
from __future__ import annotations

import operator
from typing import Any, Mapping

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError, UndefinedError
from jinja2.sandbox import SandboxedEnvironment, SecurityError

MAX_RENDERED_LENGTH = 10_000
_MAX_SEQUENCE_PRODUCT = 10_000
_MAX_POWER_EXPONENT = 100


class TemplateRenderError(ValueError):
    """The template cannot be rendered with the given context; `str()` is safe to show."""


class TemplateSyntaxProblem(ValueError):
    """The template body is not valid template syntax; `str()` is safe to show."""


class _BoundedSandbox(SandboxedEnvironment):
    intercepted_binops = frozenset(["*", "**"])

    def call_binop(self, context, operator_name: str, left: Any, right: Any) -> Any:
        if operator_name == "*":
            for sequence, times in ((left, right), (right, left)):
                if isinstance(sequence, (str, list, tuple)) and isinstance(times, int):
                    if len(sequence) * times > _MAX_SEQUENCE_PRODUCT:
                        raise SecurityError("the result of * would be too long")
            return operator.mul(left, right)
        if operator_name == "**":
            if isinstance(right, (int, float)) and abs(right) > _MAX_POWER_EXPONENT:
                raise SecurityError("the exponent is too large")
            return operator.pow(left, right)
        return super().call_binop(context, operator_name, left, right)


_environment = _BoundedSandbox(undefined=StrictUndefined, autoescape=False, cache_size=400)


def check_template_syntax(body: str) -> None:
    """Raise TemplateSyntaxProblem when `body` does not parse."""
    try:
        _environment.parse(body)
    except TemplateSyntaxError as exc:
        raise TemplateSyntaxProblem(f"line {exc.lineno}: {exc.message}") from None


def render_template_text(body: str, context_data: Mapping[str, Any]) -> str:
    """Render `body` with `context_data`; raise TemplateRenderError on any failure."""
    try:
        template = _environment.from_string(body)
    except TemplateSyntaxError as exc:
        raise TemplateSyntaxProblem(f"line {exc.lineno}: {exc.message}") from None
    try:
        rendered = template.render(dict(context_data))
    except UndefinedError as exc:
        raise TemplateRenderError(f"missing template variable: {exc.message}") from None
    except SecurityError as exc:
        raise TemplateRenderError(f"not allowed in a template: {exc}") from None
    except (TemplateError, ArithmeticError, TypeError, ValueError, LookupError) as exc:
        raise TemplateRenderError(f"the template failed: {type(exc).__name__}") from None
    if len(rendered) > MAX_RENDERED_LENGTH:
        raise TemplateRenderError(
            f"rendered content is longer than {MAX_RENDERED_LENGTH} characters"
        )
    return rendered
