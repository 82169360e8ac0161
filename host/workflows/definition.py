"""What a workflow is: named nodes, the edges allowed between them, and a cap on rounds.

A node either calls a loaded function (``function`` with ``arguments``, like a
plan step) or hands off to a person (``ask``: a question that may hold
``{{ … }}`` placeholders). The YAML file and :class:`~host.workflows.builder.WorkflowBuilder`
both produce this model; :mod:`host.workflows.validation` checks it as a graph
and against the catalogue.

After a node runs, the engine takes the first of its edges, in order, that
applies; a node without edges ends the run. An edge applies when its ``when``
condition holds (no condition: always). A node with ``next_from`` names its own
next move: the expression's value must equal an edge's ``signal`` (or, for
an edge without one, its target), otherwise the move is rejected. The target
``end`` finishes the run.
"""

from __future__ import annotations

from functools import cached_property
from typing import Annotated, Any, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    field_validator,
    model_validator,
)

from host.plans import Argument, Step, reject_deep_arguments, reject_malformed_refs
from host.workflows.expressions import Expression, Template

END = "end"
"""The target that finishes a run; no node may take this name."""

NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"


def _parser(kind: type[Expression] | type[Template]) -> Any:
    def parse(value: object) -> Expression | Template:
        if isinstance(value, kind):
            return value
        if not isinstance(value, str):
            raise ValueError("expected text")
        return kind.parse(value)

    return parse


Condition = Annotated[Expression, PlainValidator(_parser(Expression)), PlainSerializer(str)]
"""An expression in the condition language, written as text."""

Question = Annotated[Template, PlainValidator(_parser(Template)), PlainSerializer(str)]
"""Text with ``{{ expression }}`` placeholders, written as text."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Node(_Strict):
    """A function call (``function``) or a hand-off to a person (``ask``)."""

    function: str | None = Field(
        default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*$"
    )
    arguments: dict[str, Argument] = Field(default_factory=dict)
    capability: str = Field(
        default="fetch",
        pattern=r"^[a-z][a-z0-9_ -]*$",
        description="what a prompt function needs from a model; routes it",
    )
    ask: Question | None = None
    next_from: Condition | None = None
    """An expression naming the next node, or a signal matched against edges' ``signal``."""

    _refs = field_validator("arguments", mode="after")(reject_malformed_refs)
    _depth = field_validator("arguments", mode="before")(reject_deep_arguments)

    @model_validator(mode="after")
    def _one_kind(self) -> Self:
        if (self.function is None) == (self.ask is None):
            raise ValueError("a node has either function (a call) or ask (a hand-off), not both")
        if self.ask is not None and self.arguments:
            raise ValueError("a hand-off node (ask) takes no arguments")
        return self

    def step(self, node_id: str) -> Step:
        """The plan step that runs this function node as ``node_id``."""
        if self.function is None:
            raise ValueError(f"node {node_id!r} is a hand-off, not a function call")
        return Step(
            id=node_id, function=self.function, arguments=self.arguments, capability=self.capability
        )


class Edge(_Strict):
    """An allowed move ``from`` → ``to``, taken when ``when`` holds (and on ``signal``)."""

    source: str = Field(alias="from")
    to: str
    when: Condition | None = None
    signal: str | None = None
    """For a node with ``next_from``: the value that takes this edge (default: ``to``)."""

    def accepts(self, value: object) -> bool:
        """Whether a ``next_from`` value names this edge: its ``signal``, else its target."""
        return value == (self.signal if self.signal is not None else self.to)

    def describe(self) -> str:
        """``to``, with its signal and condition when it has them."""
        text = self.to if self.signal is None else f"{self.to} on signal {self.signal!r}"
        return text if self.when is None else f"{text} when {self.when}"


class Workflow(_Strict):
    """Nodes, edges between them, where to start, and how many rounds a run may take."""

    name: str = Field(pattern=NAME_PATTERN)
    description: str = ""
    inputs: list[Annotated[str, Field(pattern=NAME_PATTERN)]] = Field(default_factory=list)
    """The run-state values a run needs (``state.<key>`` references read them)."""
    start: str | None = None
    """The first node; default the first one listed."""
    output: str | None = None
    """The node whose output is the run's answer; default the last node run."""
    max_rounds: int = Field(default=25, ge=1)
    """How many node runs (rounds) a run may take, hand-offs and revisits included."""
    nodes: dict[str, Node] = Field(min_length=1)
    edges: list[Edge] = Field(default_factory=list)

    @property
    def start_node(self) -> str:
        """The node a run begins at."""
        return self.start if self.start is not None else next(iter(self.nodes))

    def edges_from(self, node_id: str) -> tuple[Edge, ...]:
        """The edges leaving ``node_id``, in the order they are tried."""
        return self._outgoing.get(node_id, ())

    @cached_property
    def _outgoing(self) -> dict[str, tuple[Edge, ...]]:
        """The edges by the node they leave, grouped once: a walk of a workflow with
        thousands of nodes asks for each node's edges in constant time."""
        grouped: dict[str, list[Edge]] = {}
        for edge in self.edges:
            grouped.setdefault(edge.source, []).append(edge)
        return {source: tuple(edges) for source, edges in grouped.items()}
