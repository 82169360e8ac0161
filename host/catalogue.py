"""The catalogue of loaded functions: what a planner, the CLI and people see of each one."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from host.effects import has_side_effects

if TYPE_CHECKING:
    from semantic_kernel import Kernel
    from semantic_kernel.functions import KernelFunction, KernelParameterMetadata


INTERNAL_PLUGIN = "agent_host"
"""The host's own functions (the planner); never in the catalogue, never offered as tools."""


@dataclass(frozen=True)
class ParameterInfo:
    """One parameter: its type name, whether it is required, and its default."""

    name: str
    type: str
    required: bool
    default: Any
    description: str
    annotation: Any = field(default=None, compare=False, repr=False)
    """The Python type a native function declares (``None`` for prompt functions);
    :mod:`host.arguments` checks arguments against it, else against ``type``."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description (without the Python annotation)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "annotation"}


@dataclass(frozen=True)
class FunctionInfo:
    """One loaded function, named ``plugin.function``."""

    name: str
    plugin: str
    function: str
    kind: Literal["native", "prompt"]
    description: str
    parameters: tuple[ParameterInfo, ...]
    source: str | None
    side_effects: bool = False
    """Marked with :func:`host.effects.side_effects`: never cached, repeated or replayed twice."""

    def parameter(self, name: str) -> ParameterInfo | None:
        """The parameter called ``name``, if the function has one."""
        return next((p for p in self.parameters if p.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description (``plugins --json`` prints a list of these)."""
        described = {f.name: getattr(self, f.name) for f in fields(self)}
        return {**described, "parameters": [p.to_dict() for p in self.parameters]}


def describe_function(function: KernelFunction, source: Path | None) -> FunctionInfo:
    """Describe one SK function from its metadata."""
    meta = function.metadata
    parameters = tuple(
        ParameterInfo(
            name=str(p.name),
            type=p.type_ or "str",
            required=bool(p.is_required),
            default=p.default_value,
            description=p.description or "",
            annotation=declared_type(p),
        )
        for p in meta.parameters
    )
    return FunctionInfo(
        name=f"{meta.plugin_name}.{meta.name}",
        plugin=meta.plugin_name or "",
        function=meta.name,
        kind="prompt" if meta.is_prompt else "native",
        description=meta.description or "",
        parameters=parameters,
        source=str(source) if source is not None else None,
        side_effects=has_side_effects(function),
    )


def declared_type(parameter: KernelParameterMetadata) -> Any:
    """The Python type an SK parameter declares; ``None`` for none (a prompt variable, or a
    native parameter without annotation, which SK gives as ``inspect.Parameter.empty``)."""
    declared = parameter.type_object
    return None if declared is inspect.Parameter.empty else declared


def describe_kernel(kernel: Kernel, files: Mapping[str, Path]) -> list[FunctionInfo]:
    """Every function of every plugin in ``kernel``, sorted by name."""
    infos = [
        describe_function(function, files.get(f"{plugin.name}.{function.name}"))
        for plugin in kernel.plugins.values()
        for function in plugin.functions.values()
    ]
    return sorted(infos, key=lambda info: info.name)
