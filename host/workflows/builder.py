"""Workflows in Python: a small builder that yields the same model a YAML file does."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from typing import Any, Self

from pydantic import ValidationError

from host.config.loader import validation_problems
from host.errors import WorkflowError
from host.plans import Ref
from host.workflows.definition import Workflow
from host.workflows.validation import check_workflow


def ref(reference: str) -> Ref:
    """An argument read from run state: ``steps.<node>.output[.<field>]`` or ``state.<key>``."""
    return Ref.model_validate({"$ref": reference})


class WorkflowBuilder:
    """Collects nodes and edges; :meth:`build` validates them like a YAML file.

    Options left as ``None`` take the model's defaults, so a built workflow
    equals the one loaded from the equivalent YAML file::

        workflow = (
            WorkflowBuilder("review_loop", max_rounds=6)
            .step("review", "dev.review", {"code": ref("state.code")},
                  next_from="steps.review.output.next")
            .step("testing", "dev.test", next_from="steps.testing.output")
            .edge("review", "testing")
            .edge("testing", "review", signal="fail")
            .edge("testing", "end", signal="pass")
            .build()
        )
    """

    def __init__(
        self,
        name: str,
        *,
        description: str | None = None,
        inputs: Iterable[str] | None = None,
        start: str | None = None,
        output: str | None = None,
        max_rounds: int | None = None,
    ) -> None:
        self._workflow = _given(
            name=name,
            description=description,
            inputs=list(inputs) if inputs is not None else None,
            start=start,
            output=output,
            max_rounds=max_rounds,
        )
        self._nodes: dict[str, dict[str, Any]] = {}
        self._edges: list[dict[str, Any]] = []
        self._twice: list[str] = []

    def step(
        self,
        node_id: str,
        function: str,
        arguments: Mapping[str, Any] | None = None,
        *,
        capability: str | None = None,
        next_from: str | None = None,
    ) -> Self:
        """A node calling ``function`` (``plugin.function``); argument values are literals or
        :func:`ref`."""
        return self._node(
            node_id,
            _given(
                function=function,
                arguments=dict(arguments) if arguments is not None else None,
                capability=capability,
                next_from=next_from,
            ),
        )

    def ask(self, node_id: str, question: str, *, next_from: str | None = None) -> Self:
        """A hand-off node: the run pauses with ``question`` until a person answers."""
        return self._node(node_id, _given(ask=question, next_from=next_from))

    def edge(
        self, source: str, target: str, *, when: str | None = None, signal: str | None = None
    ) -> Self:
        """An allowed move from ``source`` to ``target`` (``end`` finishes the run)."""
        self._edges.append(_given(**{"from": source, "to": target, "when": when, "signal": signal}))
        return self

    def chain(self, *node_ids: str) -> Self:
        """Unconditional edges from each node to the next: a linear chain."""
        for source, target in itertools.pairwise(node_ids):
            self.edge(source, target)
        return self

    def build(self) -> Workflow:
        """The validated workflow; raises :class:`WorkflowError` listing every problem."""
        source = f"workflow {self._workflow['name']!r}"
        problems = [f"{source}: nodes.{node_id}: defined more than once" for node_id in self._twice]
        try:
            workflow = Workflow.model_validate(
                {**self._workflow, "nodes": self._nodes, "edges": self._edges}
            )
        except ValidationError as error:
            raise WorkflowError(problems + validation_problems(error, source, None)) from None
        if problems:
            raise WorkflowError(problems)
        return check_workflow(workflow)

    def _node(self, node_id: str, spec: dict[str, Any]) -> Self:
        if node_id in self._nodes:
            self._twice.append(node_id)
        self._nodes[node_id] = spec
        return self


def _given(**options: Any) -> dict[str, Any]:
    return {key: value for key, value in options.items() if value is not None}
