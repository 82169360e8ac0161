"""Configuration: ``host.yaml`` validated into frozen policy objects."""

from host.config.durations import Duration, parse_duration
from host.config.loader import LoadedConfig, load_config, parse_config
from host.config.schema import HostConfig, ModelConfig, ModelCost, TelemetryConfig, ToolConfig

__all__ = [
    "Duration",
    "HostConfig",
    "LoadedConfig",
    "ModelConfig",
    "ModelCost",
    "TelemetryConfig",
    "ToolConfig",
    "load_config",
    "parse_config",
    "parse_duration",
]
