"""agent-host: a Semantic Kernel plugin-based agent host.

The public surface::

    from host import AgentHost, RunResult, StepRecord, load_config, AgentHostError

Everything else may change. Names are imported on first use, so ``import host``
stays fast and does not import Semantic Kernel.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from host.api import AgentHost
    from host.catalogue import FunctionInfo, ParameterInfo
    from host.config import HostConfig, load_config
    from host.effects import side_effects
    from host.errors import AgentHostError, ConfigError
    from host.state import RunResult, StepRecord

_EXPORTS = {
    "AgentHost": "host.api",
    "AgentHostError": "host.errors",
    "ConfigError": "host.errors",
    "FunctionInfo": "host.catalogue",
    "HostConfig": "host.config",
    "ParameterInfo": "host.catalogue",
    "RunResult": "host.state",
    "StepRecord": "host.state",
    "load_config": "host.config",
    "side_effects": "host.effects",
}

__all__ = [
    "AgentHost",
    "AgentHostError",
    "ConfigError",
    "FunctionInfo",
    "HostConfig",
    "ParameterInfo",
    "RunResult",
    "StepRecord",
    "__version__",
    "load_config",
    "side_effects",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'host' has no attribute {name!r}")
