"""Code-defined workflows: nodes, allowed edges, conditions and a cap on rounds.

Define one in YAML (:func:`load_workflow`) or in Python (:class:`WorkflowBuilder`);
``AgentHost.run_workflow`` checks it against the loaded functions and runs it
with :class:`~host.workflows.engine.WorkflowEngine`.
"""

from host.workflows.builder import WorkflowBuilder, ref
from host.workflows.definition import END, Edge, Node, Workflow
from host.workflows.files import load_workflow
from host.workflows.validation import check_workflow, workflow_problems

__all__ = [
    "END",
    "Edge",
    "Node",
    "Workflow",
    "WorkflowBuilder",
    "check_workflow",
    "load_workflow",
    "ref",
    "workflow_problems",
]
