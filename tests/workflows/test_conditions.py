"""The condition language: references, comparisons, membership, logic and literals, no eval."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from host.state import RunState
from host.workflows.expressions import Expression, ExpressionError, Template


@pytest.fixture
def state() -> RunState:
    state = RunState({"city": "Shanghai"})
    state.outputs["urgency"] = '{"urgency": "high", "tags": ["billing"]}'
    state.outputs["approval"] = "yes"
    state.outputs["count"] = 3
    return state


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("steps.urgency.output.urgency == 'high'", True),
        ('steps.urgency.output.urgency != "high"', False),
        ("steps.approval.output in ['yes', 'y']", True),
        ("steps.approval.output not in ['yes', 'y']", False),
        ("'billing' in steps.urgency.output.tags", True),
        ("'urgency' in steps.urgency.output", True),
        ("'es' in steps.approval.output", True),
        ("1 in steps.approval.output", False),
        ("'x' in steps.count.output", False),
        ("steps.count.output == 3", True),
        ("steps.count.output == 3.0 and state.city == 'Shanghai'", True),
        ("not steps.urgency.output.missing", True),
        ("steps.review.output == null", True),
        ("steps.review.output.next or 'testing'", "testing"),
        ("state.city and steps.approval.output", "yes"),
        ("not (true and false) or false", True),
        ("[1, 'a', null, [true]]", [1, "a", None, [True]]),
        ("-2 == -2.0", True),
        ("steps.count.output > 2", True),
        ("steps.count.output >= 3.5", False),
        ("steps.count.output < 3 or steps.count.output <= 3", True),
        ("'apple' < 'banana'", True),
        ("steps.review.output > 1", False),
        ("'3' > 1", False),
        ("true > false", False),
        ("'it\\'s' == \"it's\"", True),
    ],
)
def test_an_expression_reads_state_and_gives_its_value(
    state: RunState, text: str, value: Any
) -> None:
    assert Expression.parse(text).evaluate(state) == value


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("testing", "unknown name 'testing' (write text in quotes, e.g. 'testing'"),
        ("steps.review == 'x'", "malformed reference 'steps.review'"),
        ("__import__('os')", "unknown name '__import__'"),
        ("steps.review.output.next == ", "expected a value at the end"),
        ("(true", "expected ')' at the end"),
        ("1 2", "expected the end of the expression at column 3 ('2')"),
        ("a.b & c", "unexpected '&' at column 5"),
        ("steps.x.output = 'a'", "unexpected '=' at column 16"),
        ("  ", "expected an expression, got empty text"),
        ("steps.zip.output == 01234", "malformed number (leading zeros"),
        ("'\\x4' == state.a", "malformed text ((unicode error)"),
        ("state.a == '\\N{nothing}'", "malformed text ((unicode error)"),
    ],
)
def test_a_bad_expression_is_named_with_its_column(text: str, problem: str) -> None:
    with pytest.raises(ExpressionError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        Expression.parse(text)


def test_an_expression_lists_the_references_it_reads() -> None:
    expression = Expression.parse(
        "steps.a.output.x == state.k or steps.b.output in [steps.c.output]"
    )

    assert [(t.source, t.step, t.path) for t in expression.references()] == [
        ("steps", "a", ("x",)),
        ("state", None, ("k",)),
        ("steps", "b", ()),
        ("steps", "c", ()),
    ]


def test_a_template_fills_its_placeholders_from_state(state: RunState) -> None:
    template = Template.parse(
        "To {{ state.city }}: {{steps.urgency.output.tags}}, "
        "{{ steps.customer.output.name or 'unknown' }}{{ steps.customer.output }}."
    )

    assert template.render(state) == 'To Shanghai: ["billing"], unknown.'


def test_a_field_of_text_nested_too_deeply_to_parse_is_null(state: RunState) -> None:
    state.outputs["deep"] = "[" * 100_000 + "]" * 100_000

    assert Expression.parse("steps.deep.output.x == null").evaluate(state) is True


def test_a_template_writes_a_value_json_cannot_hold_as_its_text(state: RunState) -> None:
    state.outputs["day"] = date(2026, 1, 2)
    state.outputs["days"] = [date(2026, 1, 2)]

    rendered = Template.parse("On {{ steps.day.output }}: {{ steps.days.output }}").render(state)

    assert rendered == 'On 2026-01-02: ["2026-01-02"]'


def test_a_template_with_an_unclosed_placeholder_is_rejected() -> None:
    with pytest.raises(ExpressionError, match="unclosed"):
        Template.parse("Send {{ steps.draft.output ?")


@pytest.mark.reliability
@pytest.mark.parametrize("text", ["not " * 5_000 + "true", "(" * 5_000 + "true" + ")" * 5_000])
def test_an_expression_nested_too_deeply_is_a_clear_error(text: str) -> None:
    with pytest.raises(ExpressionError, match="nests too deeply"):
        Expression.parse(text)
