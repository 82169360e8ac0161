"""Native plugins: Semantic Kernel ``@kernel_function`` classes from directories and modules.

A plugin module defines classes whose methods carry ``@kernel_function``. A class
is registered under its ``plugin_name`` attribute, else the module's name, and is
built with keyword arguments from ``tools.<plugin_name>`` in config: its
``settings`` mapping plus ``endpoint`` when one is set.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import sys
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from semantic_kernel import Kernel

from host.config import ToolConfig
from host.errors import describe_error
from host.sources import SourceReport


class PluginLoader:
    """Loads native plugins into a kernel, skipping (and reporting) broken ones."""

    def __init__(self, kernel: Kernel, tools: Mapping[str, ToolConfig], report: SourceReport):
        self._kernel = kernel
        self._tools = tools
        self._report = report

    def load_directory(self, directory: Path) -> None:
        """Load every ``*.py`` module (not starting with ``_``) of ``directory``."""
        if not directory.is_dir():
            self._report.fail(directory, "plugin directory not found")
            return
        for path in sorted(directory.glob("*.py")):
            if path.name.startswith("_"):
                continue
            try:
                module = _import_file(path)
            except Exception as error:  # a plugin file may raise anything on import
                self._report.fail(path, f"cannot import: {describe_error(error)}")
                continue
            self._register(module, path)

    def load_module(self, name: str) -> None:
        """Load the plugin classes of an importable module such as ``plugins.weather``."""
        try:
            module = importlib.import_module(name)
        except Exception as error:  # a plugin module may raise anything on import
            self._report.fail(name, f"cannot import module: {describe_error(error)}")
            return
        self._register(module, Path(module.__file__ or name))

    def _register(self, module: ModuleType, path: Path) -> None:
        classes = _plugin_classes(module)
        if not classes:
            self._report.fail(path, "defines no class with @kernel_function methods")
        for cls in classes:
            name = str(getattr(cls, "plugin_name", "") or path.stem)
            try:
                instance = cls(**self._constructor_arguments(name))
                plugin = self._kernel.add_plugin(instance, plugin_name=name)
            except Exception as error:  # constructors and SK validation raise many kinds
                self._report.fail(path, f"plugin {name!r}: {describe_error(error)}")
                continue
            for function_name in plugin.functions:
                self._report.files[f"{name}.{function_name}"] = path

    def _constructor_arguments(self, plugin: str) -> dict[str, Any]:
        tool = self._tools.get(plugin)
        if tool is None:
            return {}
        arguments = dict(tool.settings)
        if tool.endpoint is not None:
            arguments["endpoint"] = tool.endpoint
        return arguments


def _plugin_classes(module: ModuleType) -> list[type]:
    return [
        cls
        for _, cls in inspect.getmembers(module, inspect.isclass)
        if cls.__module__ == module.__name__
        and any(
            hasattr(member, "__kernel_function__")
            for _, member in inspect.getmembers(cls, callable)
        )
    ]


_stamps: dict[str, tuple[int, int]] = {}
"""Modification time and size of each plugin file imported, by module name."""


def _import_file(path: Path) -> ModuleType:
    """The module of a plugin file, imported once per process as other modules are (again
    only when the file has changed), so state a plugin keeps per process stays so."""
    digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:10]
    name = f"agent_host_plugin_{digest}_{path.stem}"
    stat = path.stat()
    stamp = (stat.st_mtime_ns, stat.st_size)
    if name in sys.modules and _stamps.get(name) == stamp:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"not a Python module: {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    _stamps[name] = stamp
    return module
