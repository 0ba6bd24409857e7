"""Every render is bounded: a hostile template is a clear error naming the limit, fast and small."""
import time
import tracemalloc

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jinja2 import StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from service.dialer import send_template
from service.errors import InvalidInputError
from service.models.template import DialerTemplate
from service.rendering import (
    MAX_RENDERED_LENGTH,
    TemplateRenderError,
    TemplateSyntaxProblem,
    render_template_text,
)
from tests.support.db import count_rows

MEMORY_LIMIT = 50 * 1024 * 1024
RECIPIENT = "+420777123456"

OUTPUT = "longer than 10000 characters"
LOOPS = "loops ran more than 100000 times"
DEPTH = "nested more than 30 deep"
VALUE = "longer than 100000 characters or items"
HOLDS = "hold more than 100000 characters and items"
NUMBER = "larger than 4096 bits"
WIDTH = "width or precision is larger than 100000"
CALLS = "more than 100000 calls"
NESTING = "nested more than 50 deep"

# (body, the words the error must contain)
HOSTILE = [
    ("{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}", OUTPUT),
    ("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}", LOOPS),
    ("{% for i in range(100000) %}{% for j in range(100000) if false %}{% endfor %}{% endfor %}", LOOPS),
    ("{{ 'a'|center(1000000000) }}", VALUE),
    ("{{ 'a'|indent(1000000000, true) }}", VALUE),
    ("{{ 'a\nb\nc'|indent(1000000000) }}", VALUE),
    ("{% macro f(n) %}{{ f(n+1) }}{% endmacro %}{{ f(0) }}", DEPTH),
    ("{% for x in [1] recursive %}{{ loop([x]) }}{% endfor %}", DEPTH),
    ("{% macro f(n) %}{% if n < 40 %}{{ f(n+1) }}{{ f(n+1) }}{% endif %}{% endmacro %}{{ f(0) }}", DEPTH),
    ("{% macro f(n) %}{% if n < 20 %}{{ f(n+1) }}{{ f(n+1) }}{{ f(n+1) }}{% endif %}{% endmacro %}{{ f(0) }}",
     CALLS),
    ("{% set ns = namespace(s='a') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}", VALUE),
    ("{% set ns = namespace(l=[1]) %}{% for i in range(40) %}{% set ns.l = ns.l + ns.l %}{% endfor %}", VALUE),
    ("{% set ns = namespace(l=[1]) %}{% for i in range(40) %}{% set ns.l = ns.l * 2 %}{% endfor %}", VALUE),
    ("{% set ns = namespace(x=[1], y=[1]) %}{% for i in range(60) %}{% set ns.x = [ns.x, ns.x] %}"
     "{% set ns.y = [ns.y, ns.y] %}{% endfor %}{{ ns.x == ns.y }}", HOLDS),
    ("{% set ns = namespace(t=(1,)) %}{% for i in range(1000) %}{% set ns.t = (ns.t,) %}{% endfor %}"
     "{{ {ns.t: 1} }}", NESTING),
    ("{% set ns = namespace(x=none) %}{% for i in range(60) %}{% set ns.x = namespace(a=ns.x, b=ns.x) %}"
     "{% endfor %}{{ ns.x }}", OUTPUT),
    ("{% set ns = namespace(x=none) %}{% for i in range(60) %}{% set ns.x = namespace(a=ns.x, b=ns.x) %}"
     "{% endfor %}{{ ns.x|string|length }}", VALUE),
    ("{{ ((2**100)**100)**100 }}", NUMBER),
    ("{{ 9 ** 9999999 }}", NUMBER),
    ("{% set ns = namespace(n=3) %}{% for i in range(40) %}{% set ns.n = ns.n * ns.n %}{% endfor %}", NUMBER),
    ("{{ 'a' * 100000000 }}", VALUE),
    ("{{ '%*s' % (1000000000, 'x') }}", VALUE),
    ("{{ '%.1000000000f' % 1.0 }}", WIDTH),
    ("{{ '%(a)s%(a)s%(a)s%(a)s%(a)s%(a)s%(a)s%(a)s%(a)s%(a)s%(a)s' % {'a': 'x' * 10000} }}", VALUE),
    ("{{ '%s' % ([('x' * 1000)] * 100) }}", VALUE),
    ("{{ '{0:>{1}}'.format('x', 10**9) }}", WIDTH),
    ("{{ '{0:>1000000000}'.format('x') }}", WIDTH),
    ("{{ '{0}{0}{0}{0}{0}{0}{0}{0}{0}{0}{0}{0}'.format('x' * 10000) }}", VALUE),
    ("{{ '{x}{x}{x}{x}{x}{x}{x}{x}{x}{x}{x}{x}'.format_map({'x': 'y' * 10000}) }}", VALUE),
    ("{{ '%s'|format('x' * 100) * 10000 }}", VALUE),
    ("{{ 'a'.center(1000000000) }}", VALUE),
    ("{{ 'a'.zfill(1000000000) }}", VALUE),
    ("{{ '\t'.expandtabs(tabsize=1000000000) }}", VALUE),
    ("{{ ('a' * 10000).replace('', 'b' * 10000) }}", VALUE),
    ("{{ ('a' * 10000)|replace('', 'b' * 10000) }}", VALUE),
    ("{{ 'x'.join(['a' * 10000] * 10) }}", VALUE),
    ("{{ range(100000)|join('x' * 1000) }}", VALUE),
    ("{{ ('ab' * 5000)|wordwrap(1, wrapstring='x' * 1000) }}", VALUE),
    ("{{ [1]|batch(1000000000, 'x')|list }}", VALUE),
    ("{{ [1]|slice(1000000000)|list }}", VALUE),
    ("{{ ['x' * 60000, 'y' * 60000]|tojson }}", HOLDS),
    ("{{ [[1, 2], [3]]|tojson(indent=1000000000) }}", "tojson indents by at most 8"),
    ("{% macro m() %}{% for i in range(100000) %}" + "x" * 1000 + "{% endfor %}{% endmacro %}{{ m()|length }}",
     VALUE),
    ("{% set x %}{% for i in range(100000) %}" + "x" * 1000 + "{% endfor %}{% endset %}{{ x|length }}", VALUE),
    ("{{ range(100000)|map('string')|map('string')|list|length }}", CALLS),
    ("{% set ns = namespace(l=[]) %}{% for i in range(100000) %}{% set ns.l = [ns.l, ('x' * 5000)[1:]] %}"
     "{% endfor %}", HOLDS),
    ("{% set ns = namespace(l=[]) %}{% for i in range(100000) %}{% set ns.l = [ns.l, 1] %}{% endfor %}", NESTING),
    # Namespaces compare by identity, so a chain of them is not measured as one
    # value; what they keep is charged to the render's allocation budget.
    ("{% set ns = namespace(c=none) %}{% for i in range(100000) %}"
     "{% set ns.c = namespace(prev=ns.c, s=('x' * 1000)[1:]) %}{% endfor %}", "more than 16 MiB"),
    ("{% set ns = namespace(c=none) %}{% for i in range(100000) %}"
     "{% set ns.c = namespace(prev=ns.c, c=cycler(*range(1000))) %}{% endfor %}", "more than 16 MiB"),
    ("{% set ns = namespace(c=none) %}{% for i in range(100000) %}"
     "{% set ns.c = namespace(prev=ns.c, n=-(7 ** 1300)) %}{% endfor %}", "more than 16 MiB"),
    ("{{ 'abc'.translate({97: 'x'}) }}", "not available in templates"),
    ("{{ lipsum(1000000) }}", "'lipsum' is undefined"),
    ("{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}", "nested too deeply"),
]


def _refusal(body, **kwargs):
    with pytest.raises((TemplateRenderError, TemplateSyntaxProblem)) as refused:
        render_template_text(body, {}, **kwargs)
    return refused.value


def _frozen_clock():
    return 0.0


@pytest.mark.parametrize("body, limit", HOSTILE)
def test_hostile_template_is_refused_naming_its_limit(body, limit):
    # With time standing still, the limit that stops the render is the one named.
    assert limit in str(_refusal(body, clock=_frozen_clock))


@pytest.mark.parametrize("body, limit", HOSTILE)
def test_hostile_template_is_refused_on_the_real_clock(body, limit):
    started = time.monotonic()
    error = _refusal(body)
    # A hang guard, not a speed test: the render's own budget is 0.5 s; an unbounded render of
    # these bodies runs for minutes. (How fast refusals come is the benchmarks' business.)
    assert time.monotonic() - started < 5.0
    assert "went over a limit" in str(error) or limit in str(error)


@pytest.mark.parametrize("body, limit", HOSTILE)
def test_hostile_template_is_refused_before_it_allocates(body, limit):
    tracemalloc.start()
    try:
        _refusal(body, clock=_frozen_clock)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < MEMORY_LIMIT


class _SteppingClock:
    """A clock that moves forward a fixed step each time it is read."""

    def __init__(self, step):
        self.now, self.step = 0.0, step

    def __call__(self):
        self.now += self.step
        return self.now


def test_render_stops_at_the_time_limit_of_its_clock():
    slow = "{% for i in range(2000) %}{% endfor %}done"
    error = _refusal(slow, clock=_SteppingClock(0.001))
    assert "took longer than 0.5 seconds" in str(error)
    assert render_template_text("{% for i in range(100) %}{% endfor %}done", {},
                                clock=_SteppingClock(0.001)) == "done"


def test_time_is_checked_inside_a_loop_that_prints_nothing():
    body = "{% for i in range(100) %}{% for j in range(100) %}{% endfor %}{% endfor %}"
    clock = _SteppingClock(0.01)
    assert "took longer" in str(_refusal(body, clock=clock))
    # Stopped at the deadline, not after the last of the 10,000 passes.
    assert clock.now < 1.0


def test_output_at_the_cap_renders_and_one_more_character_is_refused():
    exact = "{% for i in range(1000) %}0123456789{% endfor %}"
    assert len(render_template_text(exact, {})) == MAX_RENDERED_LENGTH
    assert OUTPUT in str(_refusal(exact + "!"))


ORDINARY = [
    ("Hello {{ name }}, please pay {{ amount }} CZK.", {"name": "Jana", "amount": 120}),
    ("{% for i in items %}{{ loop.index }}:{{ i|upper }}{% if not loop.last %}, {% endif %}{% endfor %}",
     {"items": ["a", "b", "c"]}),
    ("{% macro greet(who) %}Hi {{ who|title }}{% endmacro %}{{ greet(name) }}! {{ greet('eva') }}",
     {"name": "jana novak"}),
    ("{% set ns = namespace(total=0) %}{% for p in prices %}{% set ns.total = ns.total + p %}{% endfor %}"
     "{{ ns.total }} {{ prices|sum }} {{ (ns.total / 3)|round(2) }} {{ -ns.total }} {{ 7 // 2 }}",
     {"prices": [10, 20.5, 3]}),
    ("{{ '%s owes %d' % (name, amount) }} {{ '{} owes {:>6.2f}'.format(name, amount) }}"
     " {{ '%-8s|'|format(name) }} {{ name|center(12) }}|", {"name": "Jana", "amount": 120}),
    ("{{ items|join(', ') }} {{ items|batch(2)|list }} {{ items|slice(2)|list }} {{ items[1:] }}",
     {"items": ["a", "b", "c"]}),
    ("{{ text|wordwrap(10) }}\n{{ text|indent(2, true) }}\n{{ text|replace('a', 'A') }} "
     "{{ text|truncate(12) }}", {"text": "a long line of text that wraps"}),
    ("{{ data|tojson }} {{ data.items()|list }} {{ data|dictsort }} {{ [1, 2] + [3] }} {{ (1, 2) * 2 }}",
     {"data": {"b": 1, "a": [1, 2]}}),
    ("{% set x %}{% for i in range(3) %}{{ i }}{% endfor %}{% endset %}[{{ x }}] {{ 'a' ~ 1 ~ none }}"
     " {{ 2 ** 10 }} {{ 'ab' * 3 }} {{ 'x'.ljust(3, '.') }}{{ 'a,b'.split(',') }}", {}),
    ("{% for k, v in data|dictsort %}{{ k }}={{ v }};{% else %}empty{% endfor %}"
     "{% for i in range(5) if i is odd %}{{ i }}{% endfor %}", {"data": {"z": 1, "y": 2}}),
]


@pytest.mark.parametrize("body, context", ORDINARY)
def test_ordinary_templates_render_as_jinja2s_sandbox_renders_them(body, context):
    stock = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
    assert render_template_text(body, context) == stock.from_string(body).render(context)


def test_python_api_render_body_is_bounded():
    template = DialerTemplate(slug="t", body=HOSTILE[0][0], is_active=True)
    with pytest.raises(TemplateRenderError, match=OUTPUT):
        template.render_body({})


API_HOSTILE = [HOSTILE[0], HOSTILE[3], HOSTILE[6], HOSTILE[10], HOSTILE[17], HOSTILE[22]]


@pytest.fixture
def hostile_template(api):
    def create(body):
        response = api.post("/api/v1/templates", json={"slug": "hostile", "body": body})
        assert response.status_code == 201, response.json
        return "hostile"

    return create


def _assert_limit_envelope(response, limit):
    assert response.status_code == 422
    body = response.json
    assert body["code"] == 422 and body["status"] == "Unprocessable Entity"
    (message,) = body["errors"]["context_data"]
    assert limit in message and "Traceback" not in message


@pytest.mark.parametrize("body, limit", API_HOSTILE)
def test_preview_of_a_hostile_template_is_422_naming_the_limit(api, app_context, hostile_template, body, limit):
    slug = hostile_template(body)
    started = time.monotonic()
    response = api.post(f"/api/v1/templates/{slug}/preview", json={"context_data": {}})
    assert time.monotonic() - started < 5.0  # a hang guard (the render's budget is 0.5 s), not a speed test
    _assert_limit_envelope(response, limit)


@pytest.mark.parametrize("body, limit", API_HOSTILE)
def test_send_of_a_hostile_template_is_422_and_stores_nothing(api, app_context, hostile_template, body, limit):
    slug = hostile_template(body)
    response = api.post(f"/api/v1/templates/{slug}/send", json={"recipient": RECIPIENT, "context_data": {}},
                        headers={"Idempotency-Key": "hostile-1"})
    _assert_limit_envelope(response, limit)
    assert count_rows() == 0


@pytest.mark.parametrize("body, limit", API_HOSTILE)
def test_send_template_of_a_hostile_template_raises_422_and_stores_nothing(
        api, app_context, hostile_template, body, limit):
    slug = hostile_template(body)
    with pytest.raises(InvalidInputError) as refused:
        send_template(RECIPIENT, slug, {})
    assert refused.value.status_code == 422
    assert limit in refused.value.errors["context_data"][0]
    assert count_rows() == 0


# Hostile fragments, composed at random: whatever they make, a render is
# the text within the cap or a TemplateRenderError, and stays small.
_PRELUDE = ("{% set ns = namespace(s='ab', l=[1, 2], x=[0], n=7) %}"
            "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}")
_WIDTHS = st.sampled_from(["3", "100000", "1000000000", "10**9", "ns.n"])
_FRAGMENTS = st.one_of(
    st.sampled_from([
        "{% set ns.s = ns.s ~ ns.s %}", "{% set ns.l = ns.l + ns.l %}", "{% set ns.x = [ns.x, ns.x] %}",
        "{% set ns.n = ns.n * ns.n %}", "{% set ns.n = ns.n ** ns.n %}", "{% set ns.s = ns.s * ns.n %}",
        "{% set ns.l = ns.l * ns.n %}", "{{ f(0) }}", "{{ ns.s }}", "{{ ns.l }}", "{{ ns.x }}",
        "{{ ns.x == ns.l }}", "{{ ns.s|replace('', ns.s) }}", "{{ ns.l|join(ns.s) }}", "{{ ns.l|tojson }}",
        "{% set ns.s = '%s%s' % (ns.s, ns.s) %}", "{% set ns.s = '{0}{0}'.format(ns.s) %}", "x",
    ]),
    _WIDTHS.map(lambda w: "{{ 'a'|center(%s) }}" % w),
    _WIDTHS.map(lambda w: "{{ ns.s|indent(%s, true) }}" % w),
    _WIDTHS.map(lambda w: "{{ '%%*s' %% (%s, 'x') }}" % w),
    _WIDTHS.map(lambda w: "{{ '{0:>{1}}'.format('x', %s) }}" % w),
    _WIDTHS.map(lambda w: "{{ ns.s.rjust(%s) }}" % w),
    _WIDTHS.map(lambda w: "{{ ns.l|batch(%s, 0)|list }}" % w),
)
_BODIES = st.recursive(
    _FRAGMENTS,
    lambda inner: st.one_of(
        st.tuples(st.sampled_from(["10", "1000", "100000"]), inner).map(
            lambda loop: "{%% for i in range(%s) %%}%s{%% endfor %%}" % loop),
        st.tuples(inner, inner).map("".join),
    ),
    max_leaves=6,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_BODIES)
def test_any_composition_of_hostile_fragments_renders_within_the_cap_or_is_refused(body):
    tracemalloc.start()
    try:
        try:
            rendered = render_template_text(_PRELUDE + body, {})
        except TemplateRenderError:
            rendered = ""
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(rendered) <= MAX_RENDERED_LENGTH
    assert peak < MEMORY_LIMIT
