"""Sandboxed, budgeted rendering of dialer template bodies.

Template authors are API callers, not developers: their templates run in
Jinja2's immutable sandbox (no attribute access to Python internals), with
strict undefined variables (a missing variable is an error, never empty
text), and within a budget (`budget.py`) of output, loop iterations, calls
and their depth, value sizes, memory and time, whatever the template does.
"""
from __future__ import annotations

import time
from typing import Any, Mapping

from jinja2 import Template, TemplateError, TemplateSyntaxError, UndefinedError
from jinja2.sandbox import SecurityError

from service.rendering.budget import MAX_RENDERED_LENGTH, BudgetExceeded, Clock, open_budget
from service.rendering.environment import BudgetedSandbox

__all__ = [
    "MAX_RENDERED_LENGTH",
    "TemplateRenderError",
    "TemplateSyntaxProblem",
    "check_template_syntax",
    "render_template_text",
]


class TemplateRenderError(ValueError):
    """The template cannot be rendered with the given context; `str()` is safe to show."""


class TemplateSyntaxProblem(ValueError):
    """The template body is not valid template syntax; `str()` is safe to show."""


_environment = BudgetedSandbox()


def check_template_syntax(body: str) -> None:
    """Raise TemplateSyntaxProblem when `body` does not parse."""
    try:
        _environment.parse(body)
    except TemplateSyntaxError as exc:
        raise TemplateSyntaxProblem(f"line {exc.lineno}: {exc.message}") from None
    except RecursionError:
        raise TemplateSyntaxProblem("expressions are nested too deeply") from None


def render_template_text(body: str, context_data: Mapping[str, Any], *,
                         clock: Clock = time.monotonic) -> str:
    """Render `body` with `context_data`; raise TemplateRenderError on any failure.

    The render stops with TemplateRenderError naming the limit as soon as it
    goes over any of the budget's limits; `clock` (seconds, monotonic) times it.
    """
    with open_budget(clock):
        try:
            template = _environment.from_string(body)
        except TemplateSyntaxError as exc:
            raise TemplateSyntaxProblem(f"line {exc.lineno}: {exc.message}") from None
        except (RecursionError, SyntaxError, MemoryError):
            raise TemplateSyntaxProblem("expressions are nested too deeply") from None
        try:
            return _render_within_limit(template, dict(context_data))
        except BudgetExceeded as exc:
            raise TemplateRenderError(f"the template went over a limit: {exc}") from None
        except RecursionError:
            raise TemplateRenderError("the template went over a limit: it nests too deeply") from None
        except MemoryError:
            raise TemplateRenderError("the template went over a limit: memory") from None
        except UndefinedError as exc:
            raise TemplateRenderError(f"missing template variable: {exc.message}") from None
        except SecurityError as exc:
            raise TemplateRenderError(f"not allowed in a template: {exc}") from None
        except (TemplateError, ArithmeticError, TypeError, ValueError, LookupError) as exc:
            raise TemplateRenderError(f"the template failed: {type(exc).__name__}") from None


def _render_within_limit(template: Template, context: dict[str, Any]) -> str:
    """The template's output, read piece by piece and refused once past the cap."""
    pieces, length = [], 0
    chunks = template.generate(context)
    try:
        for chunk in chunks:
            length += len(chunk)
            if length > MAX_RENDERED_LENGTH:
                raise BudgetExceeded(
                    f"rendered content is longer than {MAX_RENDERED_LENGTH} characters"
                )
            pieces.append(chunk)
    finally:
        chunks.close()
    return "".join(pieces)
