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
from collections.abc import Callable, Mapping
from contextlib import redirect_stdout
from pathlib import Path
from types import ModuleType
from typing import Any

from semantic_kernel import Kernel
from semantic_kernel.functions import KernelFunctionFromMethod

from host.config import ToolConfig
from host.errors import describe_error
from host.sources import SourceReport


class PluginLoader:
    """Loads native plugins into a kernel, skipping (and reporting) broken ones.

    What a plugin prints while it is imported or built goes to stderr: stdout carries
    the host's own output (``agent-host plugins --json``)."""

    def __init__(self, kernel: Kernel, tools: Mapping[str, ToolConfig], report: SourceReport):
        self._kernel = kernel
        self._tools = tools
        self._report = report
        self._sources: dict[str, Path] = {}
        """The file each loaded plugin came from, by plugin name."""

    def load_directory(self, directory: Path) -> None:
        """Load every ``*.py`` module (not starting with ``_``) of ``directory``."""
        if not directory.is_dir():
            self._report.fail(directory, "plugin directory not found")
            return
        for path in sorted(directory.glob("*.py")):
            if path.name.startswith("_"):
                continue
            with redirect_stdout(sys.stderr):
                try:
                    module = _import_file(path)
                except _BROKEN as error:  # a plugin file may raise anything on import
                    self._report.fail(path, f"cannot import: {describe_error(error)}")
                    continue
                self._register(module, path)

    def load_module(self, name: str) -> None:
        """Load the plugin classes of an importable module such as ``plugins.weather``."""
        with redirect_stdout(sys.stderr):
            try:
                module = importlib.import_module(name)
            except _BROKEN as error:  # a plugin module may raise anything on import
                self._report.fail(name, f"cannot import module: {describe_error(error)}")
                return
            self._register(module, Path(module.__file__ or name))

    def _register(self, module: ModuleType, path: Path) -> None:
        classes = _plugin_classes(module)
        if not classes:
            self._report.fail(path, "defines no class with @kernel_function methods")
        for cls in classes:
            name = str(getattr(cls, "plugin_name", "") or path.stem)
            if name in self._kernel.plugins:
                where = self._sources[name]
                self._report.fail(path, f"plugin {name!r} is already loaded from {where}")
                continue
            try:
                instance = cls(**self._constructor_arguments(name))
                plugin = self._kernel.add_plugin(instance, plugin_name=name)
                functions = {
                    function_name: _NativeFunction(function.method, name, function.stream_method)
                    for function_name, function in plugin.functions.items()
                    if isinstance(function, KernelFunctionFromMethod)
                }
            except _BROKEN as error:  # constructors and SK validation raise many kinds
                self._kernel.plugins.pop(name, None)
                self._report.fail(path, f"plugin {name!r}: {describe_error(error)}")
                continue
            self._sources[name] = path
            plugin.functions.update(functions)
            for function_name, function in functions.items():
                problem = _uncallable(function.method)
                if problem is not None:
                    del plugin.functions[function_name]
                    self._report.fail(
                        _line(path, function.method), f"{name}.{function_name}: {problem}"
                    )
                    continue
                self._report.files[f"{name}.{function_name}"] = path

    def _constructor_arguments(self, plugin: str) -> dict[str, Any]:
        tool = self._tools.get(plugin)
        if tool is None:
            return {}
        arguments = dict(tool.settings)
        if tool.endpoint is not None:
            arguments["endpoint"] = tool.endpoint
        return arguments


_BROKEN = (Exception, SystemExit)
"""What a broken plugin raises on import or construction (``sys.exit()`` at the top of a
script, say): reported and skipped, not the end of the process. Ctrl-C still stops it."""


class _NativeFunction(KernelFunctionFromMethod):
    """SK's function of a method, passing an argument already of its parameter's class as
    it is. The host has converted every argument (:func:`host.arguments.check_arguments`),
    and SK's own conversion, ``cls(value)``, fails for a value already a ``date``,
    ``datetime`` or dataclass instance, so such a parameter could never be called."""

    def __init__(
        self, method: Callable[..., Any], plugin_name: str, stream: Callable[..., Any] | None
    ) -> None:
        super().__init__(method, plugin_name, stream)

    def _parse_parameter(self, value: Any, param_type: Any) -> Any:
        if isinstance(param_type, type) and isinstance(value, param_type):
            return value
        return super()._parse_parameter(value, param_type)


def _uncallable(method: Callable[..., Any]) -> str | None:
    """Why SK cannot call ``method`` as it is described, if it cannot: SK passes every
    argument by name, and lists ``*args`` and ``**kwargs`` as two required arguments."""
    for parameter in inspect.signature(method).parameters.values():
        if parameter.kind is inspect.Parameter.POSITIONAL_ONLY:
            return f"parameter {parameter.name!r} is positional-only; SK passes arguments by name"
        if parameter.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            return (
                f"{parameter} cannot be given: SK would list it as a required argument "
                f"called {parameter.name!r}; declare each parameter by name"
            )
    return None


def _line(path: Path, method: Callable[..., Any]) -> str:
    """``path:line`` of ``method``'s definition (its first decorator), else ``path``."""
    code = getattr(method, "__code__", None)
    return f"{path}:{code.co_firstlineno}" if code is not None else str(path)


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
