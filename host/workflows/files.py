"""Workflow YAML files: read, validated as a :class:`Workflow`, each problem at ``file:line``."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from host.catalogue import FunctionInfo
from host.config.loader import read_model_file
from host.errors import WorkflowError
from host.workflows.definition import Workflow
from host.workflows.validation import check_workflow


def load_workflow(
    path: str | Path, catalogue: Mapping[str, FunctionInfo] | None = None
) -> Workflow:
    """The workflow in the YAML file at ``path``, checked as a graph (and against
    ``catalogue`` when given). Raises :class:`WorkflowError` with one
    ``file:line: key.path: problem`` line per problem; unknown keys are problems."""
    file = Path(path)
    workflow, text = read_model_file(file, Workflow, kind="workflow", error=WorkflowError)
    return check_workflow(workflow, catalogue, source=str(file), text=text)
