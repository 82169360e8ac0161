"""Checks a workflow as a graph and against the catalogue, reporting every problem at once.

Each problem carries the key path it is about (``edges.2.to``), so a problem
in a YAML file is reported as ``file:line: key.path: problem``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping

from host.catalogue import FunctionInfo
from host.config.loader import KeyProblem, located
from host.errors import WorkflowError
from host.plans import Ref, RefTarget, call_problems
from host.workflows.definition import END, NAME_PATTERN, Workflow


def workflow_problems(
    workflow: Workflow, catalogue: Mapping[str, FunctionInfo] | None = None
) -> list[KeyProblem]:
    """Every problem with ``workflow``; with a ``catalogue``, unknown functions and bad
    arguments too. Empty when it is valid."""
    problems = list(_node_problems(workflow, catalogue))
    problems.extend(_edge_problems(workflow))
    problems.extend(_reference_problems(workflow))
    problems.extend(_reachability_problems(workflow))
    return problems


def check_workflow(
    workflow: Workflow,
    catalogue: Mapping[str, FunctionInfo] | None = None,
    *,
    source: str | None = None,
    text: str | None = None,
) -> Workflow:
    """``workflow`` itself when valid; else raise :class:`WorkflowError` listing every problem,
    each at ``source:line`` when the file's ``source`` and ``text`` are given."""
    problems = workflow_problems(workflow, catalogue)
    if problems:
        raise WorkflowError(located(problems, f"workflow {workflow.name!r}", source, text))
    return workflow


def _node_problems(
    workflow: Workflow, catalogue: Mapping[str, FunctionInfo] | None
) -> Iterator[KeyProblem]:
    for key in ("start", "output"):
        named = getattr(workflow, key)
        if named is not None and named not in workflow.nodes:
            yield KeyProblem(key, f"unknown node {named!r} ({_listed(workflow)})")
    for node_id, node in workflow.nodes.items():
        if node_id == END:
            yield KeyProblem(f"nodes.{node_id}", f"{END!r} is reserved for finishing a run")
        elif re.fullmatch(NAME_PATTERN, node_id) is None:
            yield KeyProblem(
                f"nodes.{node_id}", "a node id is a name: letters, digits and _, not first a digit"
            )
        if catalogue is None or node.function is None:
            continue
        key = "function" if node.function not in catalogue else "arguments"
        for message in call_problems(node.step(node_id), catalogue):
            yield KeyProblem(f"nodes.{node_id}.{key}", message)


def _edge_problems(workflow: Workflow) -> Iterator[KeyProblem]:
    for index, edge in enumerate(workflow.edges):
        if edge.source not in workflow.nodes:
            yield KeyProblem(
                f"edges.{index}.from", f"unknown node {edge.source!r} ({_listed(workflow)})"
            )
        elif edge.signal is not None and workflow.nodes[edge.source].next_from is None:
            yield KeyProblem(
                f"edges.{index}.signal",
                f"node {edge.source!r} sends no signal (give it next_from to use signal)",
            )
        if edge.to != END and edge.to not in workflow.nodes:
            yield KeyProblem(
                f"edges.{index}.to",
                f"unknown node {edge.to!r} ({_listed(workflow)}, or {END} to finish)",
            )


def _reference_problems(workflow: Workflow) -> Iterator[KeyProblem]:
    """References must name a node of the workflow, or one of its inputs."""
    for path, target in _references(workflow):
        if target.source == "steps" and target.step not in workflow.nodes:
            yield KeyProblem(path, f"refers to unknown node {target.step!r} ({_listed(workflow)})")
        elif target.source == "state" and target.path[0] not in workflow.inputs:
            inputs = ", ".join(workflow.inputs) or "none"
            yield KeyProblem(
                path, f"refers to state.{target.path[0]}, which is not an input (inputs: {inputs})"
            )


def _references(workflow: Workflow) -> Iterator[tuple[str, RefTarget]]:
    for node_id, node in workflow.nodes.items():
        for name, value in node.arguments.items():
            if isinstance(value, Ref):
                yield f"nodes.{node_id}.arguments.{name}", value.target()
        if node.ask is not None:
            yield from ((f"nodes.{node_id}.ask", t) for t in node.ask.references())
        if node.next_from is not None:
            yield from ((f"nodes.{node_id}.next_from", t) for t in node.next_from.references())
    for index, edge in enumerate(workflow.edges):
        if edge.when is not None:
            yield from ((f"edges.{index}.when", t) for t in edge.when.references())


def _reachability_problems(workflow: Workflow) -> Iterator[KeyProblem]:
    start = workflow.start_node
    if start not in workflow.nodes:
        return
    reached, frontier = {start}, [start]
    while frontier:
        for edge in workflow.edges_from(frontier.pop()):
            if edge.to in workflow.nodes and edge.to not in reached:
                reached.add(edge.to)
                frontier.append(edge.to)
    for node_id in workflow.nodes:
        if node_id not in reached:
            yield KeyProblem(
                f"nodes.{node_id}", f"unreachable: no path of edges leads here from {start!r}"
            )


def _listed(workflow: Workflow) -> str:
    return "nodes: " + ", ".join(workflow.nodes)
