"""Workflow definitions: YAML and the builder give one model; problems are named at file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from host.catalogue import FunctionInfo, ParameterInfo
from host.errors import WorkflowError
from host.workflows import WorkflowBuilder, load_workflow, ref
from tests.conftest import ROOT

REVIEW_LOOP = """\
name: review_loop
inputs: [change]
max_rounds: 6
nodes:
  review:
    function: dev.review
    capability: review
    arguments: {change: {$ref: state.change}}
    next_from: steps.review.output.next
  testing:
    function: dev.test
    arguments: {change: {$ref: state.change}}
    next_from: steps.testing.output
edges:
  - {from: review, to: testing}
  - {from: testing, to: review, signal: fail}
  - {from: testing, to: end, signal: pass}
"""

CATALOGUE = {
    name: FunctionInfo(
        name=name,
        plugin="dev",
        function=name.split(".")[1],
        kind="native",
        description="",
        parameters=(ParameterInfo("change", "str", True, None, ""),),
        source=None,
    )
    for name in ("dev.review", "dev.test")
}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "flow.yaml"
    path.write_text(text)
    return path


def test_yaml_and_builder_give_equal_workflows(tmp_path: Path) -> None:
    built = (
        WorkflowBuilder("review_loop", inputs=["change"], max_rounds=6)
        .step(
            "review",
            "dev.review",
            {"change": ref("state.change")},
            capability="review",
            next_from="steps.review.output.next",
        )
        .step(
            "testing", "dev.test", {"change": ref("state.change")}, next_from="steps.testing.output"
        )
        .edge("review", "testing")
        .edge("testing", "review", signal="fail")
        .edge("testing", "end", signal="pass")
        .build()
    )

    assert load_workflow(write(tmp_path, REVIEW_LOOP), CATALOGUE) == built


def test_a_chain_is_a_row_of_unconditional_edges() -> None:
    chained = (
        WorkflowBuilder("c").step("a", "dev.test").step("b", "dev.test").chain("a", "b").build()
    )
    edged = WorkflowBuilder("c").step("a", "dev.test").step("b", "dev.test").edge("a", "b").build()
    assert chained == edged


BAD = [
    pytest.param(
        REVIEW_LOOP.replace("    capability: review\n", "    capability: review\n    retry: 2\n"),
        8,
        "nodes.review.retry: unknown key",
        id="unknown key",
    ),
    pytest.param(
        REVIEW_LOOP.replace("signal: fail}", 'when: "steps.testing.output =="}'),
        16,
        "edges.1.when: expected a value at the end in 'steps.testing.output =='",
        id="condition syntax",
    ),
    pytest.param(
        REVIEW_LOOP.replace("to: end, signal: pass", "to: deploy, signal: pass"),
        17,
        "edges.2.to: unknown node 'deploy' (nodes: review, testing, or end to finish)",
        id="dangling edge",
    ),
    pytest.param(
        REVIEW_LOOP.replace("edges:\n", "  orphan: {ask: 'Why?'}\nedges:\n"),
        14,
        "nodes.orphan: unreachable: no path of edges leads here from 'review'",
        id="unreachable node",
    ),
    pytest.param(
        REVIEW_LOOP.replace("max_rounds: 6\n", "max_rounds: 6\nstart: reviews\n"),
        4,
        "start: unknown node 'reviews' (nodes: review, testing)",
        id="missing start",
    ),
    pytest.param(
        REVIEW_LOOP.replace("    function: dev.test\n", "    function: dev.test\n    ask: Go?\n"),
        10,
        "nodes.testing: a node has either function (a call) or ask (a hand-off), not both",
        id="function and ask",
    ),
    pytest.param(
        REVIEW_LOOP.replace(
            "{$ref: state.change}}\n    next_from: steps.testing",
            "{$ref: state.diff}}\n    next_from: steps.testing",
        ),
        12,
        "nodes.testing.arguments.change: refers to state.diff, which is not an input "
        "(inputs: change)",
        id="state reference not an input",
    ),
    pytest.param(
        REVIEW_LOOP.replace("steps.review.output.next", "steps.reviewer.output.next"),
        9,
        "nodes.review.next_from: refers to unknown node 'reviewer' (nodes: review, testing)",
        id="reference to an unknown node",
    ),
    pytest.param(
        REVIEW_LOOP.replace("function: dev.review", "function: dev.reviews"),
        6,
        "nodes.review.function: unknown function 'dev.reviews' (did you mean dev.review",
        id="unknown function",
    ),
    pytest.param(
        REVIEW_LOOP.replace(
            "{change: {$ref: state.change}}\n    next_from: steps.review",
            "{}\n    next_from: steps.review",
        ),
        8,
        "nodes.review.arguments: missing required argument 'change' (str)",
        id="missing argument",
    ),
    pytest.param(
        REVIEW_LOOP.replace(
            "{$ref: state.change}}\n    next_from: steps.review",
            "[" * 150 + "]" * 150 + "}\n    next_from: steps.review",
        ),
        8,
        "nodes.review.arguments: argument 'change' nests deeper than 100 levels",
        id="argument nested too deep",
    ),
    pytest.param(
        REVIEW_LOOP.replace("    next_from: steps.testing.output\n", ""),
        15,
        "edges.1.signal: node 'testing' sends no signal (give it next_from to use signal)",
        id="signal without next_from",
    ),
    pytest.param(
        REVIEW_LOOP.replace("nodes:\n", "nodes:\n  end: {ask: 'Done?'}\n"),
        5,
        "nodes.end: 'end' is reserved for finishing a run",
        id="reserved node name",
    ),
    pytest.param(
        REVIEW_LOOP.replace("nodes:\n", "nodes:\n  2nd-look: {ask: 'Again?'}\n"),
        5,
        "nodes.2nd-look: a node id is a name: letters, digits and _, not first a digit",
        id="node id not a name",
    ),
    pytest.param(
        REVIEW_LOOP.replace(
            "to: end, signal: pass}", "to: end, when: 'steps.testing.output == 007'}"
        ),
        17,
        "edges.2.when: malformed number (leading zeros in decimal integer literals are not "
        "permitted",
        id="number Python would not read",
    ),
    pytest.param("name: x\nnodes: [a\n", 3, "YAML syntax error", id="yaml syntax"),
    pytest.param(
        REVIEW_LOOP.replace("edges:\n", "  review: {ask: 'Again?'}\nedges:\n"),
        14,
        "duplicate key 'review' (first at line 5)",
        id="duplicate node",
    ),
]


@pytest.mark.parametrize(("text", "line", "problem"), BAD)
def test_a_bad_workflow_file_is_named_at_file_and_line(
    tmp_path: Path, text: str, line: int, problem: str
) -> None:
    path = write(tmp_path, text)

    with pytest.raises(WorkflowError) as raised:
        load_workflow(path, CATALOGUE)

    assert f"{path}:{line}: {problem}" in str(raised.value)


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = REVIEW_LOOP.replace("to: end, signal: pass", "to: deploy, signal: pass").replace(
        "max_rounds: 6\n", "max_rounds: 6\nstart: reviews\n"
    )

    with pytest.raises(WorkflowError) as raised:
        load_workflow(write(tmp_path, text))

    assert [p.split(": ")[1] for p in raised.value.problems] == ["start", "edges.2.to"]


def test_the_builder_reports_problems_by_key_path() -> None:
    builder = (
        WorkflowBuilder("loop")
        .step("review", "dev.review")
        .step("review", "dev.review")
        .edge("review", "tests", when="steps.review.output.next = 'x'")
    )

    with pytest.raises(WorkflowError) as raised:
        builder.build()

    assert raised.value.problems == [
        "workflow 'loop': nodes.review: defined more than once",
        "workflow 'loop': edges.0.when: unexpected '=' at column 26 in "
        "\"steps.review.output.next = 'x'\" (got \"steps.review.output.next = 'x'\")",
    ]


def test_the_readme_example_in_yaml_equals_the_one_built_in_python(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Workflows") :]
    text = section[section.index("```yaml\n") + 8 : section.index("\n```\n")]
    built = (
        WorkflowBuilder("review_loop", inputs=["change"], max_rounds=6)
        .step(
            "review",
            "dev.review",
            {"change": ref("state.change")},
            capability="review",
            next_from="steps.review.output.next",
        )
        .step(
            "testing", "dev.test", {"change": ref("state.change")}, next_from="steps.testing.output"
        )
        .ask("approval", "Merge {{ state.change }}? Tests say {{ steps.testing.output }}.")
        .edge("review", "testing")
        .edge("testing", "review", signal="fail")
        .edge("testing", "approval", signal="pass")
        .build()
    )

    assert load_workflow(write(tmp_path, text), CATALOGUE) == built
