"""Workflow YAML files: read, validated as a :class:`Workflow`, each problem at ``file:line``."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from pydantic import ValidationError

from host.catalogue import FunctionInfo
from host.config.loader import read_yaml_mapping, validation_problems
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
    raw, text = read_yaml_mapping(file, kind="workflow", error=WorkflowError)
    try:
        workflow = Workflow.model_validate(raw)
    except ValidationError as error:
        raise WorkflowError(validation_problems(error, str(file), text)) from None
    return check_workflow(workflow, catalogue, source=str(file), text=text)
