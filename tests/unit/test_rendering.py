"""Template bodies render in a sandbox with strict variables."""
import pytest

from service.rendering import (
    TemplateRenderError,
    TemplateSyntaxProblem,
    check_template_syntax,
    render_template_text,
)


def test_renders_variables_filters_and_loops():
    body = "{{ name|title }}: {% for i in items %}{{ i }}{% if not loop.last %}, {% endif %}{% endfor %}"
    assert render_template_text(body, {"name": "jana", "items": [1, 2]}) == "Jana: 1, 2"


def test_text_is_not_html_escaped():
    assert render_template_text("{{ x }}", {"x": "A & B <ok>"}) == "A & B <ok>"


@pytest.mark.parametrize("body", ["{{ missing }}", "{{ user.name }}", "{{ missing|upper }}", "{% for x in nope %}{% endfor %}"])
def test_undefined_variables_raise(body):
    with pytest.raises(TemplateRenderError, match="missing template variable"):
        render_template_text(body, {"user": {}})


@pytest.mark.parametrize(
    "body",
    [
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ x.__class__.__init__.__globals__ }}",
        "{{ cycler.__init__.__globals__.os }}",
        "{{ x.__dict__ }}",
        "{{ f.__code__ }}",
    ],
)
def test_python_internals_are_out_of_reach(body):
    with pytest.raises(TemplateRenderError):
        render_template_text(body, {"x": object(), "f": len})


@pytest.mark.parametrize(
    "body",
    ["{{ 'a' * 100000000 }}", "{{ [1] * 100000000 }}", "{{ 9 ** 9999999 }}", "{{ range(10**9)|list }}"],
)
def test_memory_exhausting_expressions_are_refused(body):
    with pytest.raises(TemplateRenderError):
        render_template_text(body, {})


def test_over_long_output_is_refused():
    with pytest.raises(TemplateRenderError, match="longer than"):
        render_template_text("{% for i in range(2000) %}0123456789{% endfor %}", {})


@pytest.mark.parametrize("body, context", [("{{ 1 / 0 }}", {}), ("{{ x + 1 }}", {"x": "a"}), ("{{ d['k'] }}", {"d": {}})])
def test_runtime_failures_become_render_errors(body, context):
    with pytest.raises(TemplateRenderError):
        render_template_text(body, context)


def test_syntax_is_checked_with_a_line_number():
    with pytest.raises(TemplateSyntaxProblem, match="line 2"):
        check_template_syntax("ok\n{{ broken")
    check_template_syntax("Hello {{ name }}")
