"""Assemble a Semantic Kernel from config: model selector, native plugins, prompt functions."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from host.config import LoadedConfig
from host.models.selection import ModelSelector
from host.plugins import PluginLoader
from host.prompt_files import PromptLoader, drop_broken_calls
from host.resilience.chain import install
from host.resilience.guard import Guard
from host.sources import SourceReport

if TYPE_CHECKING:
    from semantic_kernel import Kernel


def build_kernel(
    loaded: LoadedConfig,
    selector: ModelSelector,
    guard: Guard,
    *,
    plugin_dirs: Sequence[Path] = (),
    prompt_dirs: Sequence[Path] = (),
    strict: bool = False,
) -> tuple[Kernel, SourceReport]:
    """A kernel holding every configured plugin and prompt function.

    Directories from config resolve against the config file; extra directories
    (``--plugins-dir``/``--prompts-dir``) against the current directory. Broken
    sources are reported and skipped, or fatal with ``strict``. Every call goes
    through the resilience filter chain guarded by ``guard``.
    """
    from semantic_kernel import Kernel

    kernel = Kernel(ai_service_selector=selector)
    install(kernel, guard)
    report = SourceReport()
    config = loaded.config
    plugins = PluginLoader(kernel, config.tools, report)
    for directory in _once([*map(loaded.resolve, config.plugins.directories), *plugin_dirs]):
        plugins.load_directory(directory)
    for module in config.plugins.modules:
        plugins.load_module(module)
    prompts = PromptLoader(kernel, report)
    for directory in _once([*map(loaded.resolve, config.prompts.directories), *prompt_dirs]):
        prompts.load_directory(directory)
    drop_broken_calls(kernel, report)
    _report_unknown_names(loaded, kernel, report)
    report.raise_if_strict(strict)
    return kernel, report


def _once(directories: Sequence[Path]) -> list[Path]:
    """``directories`` without repeats: one named in config and again on the command line
    is loaded once, not reported as holding a second copy of each of its functions."""
    unique: dict[Path, Path] = {}
    for directory in directories:
        unique.setdefault(directory.resolve(), directory)
    return list(unique.values())


def _report_unknown_names(loaded: LoadedConfig, kernel: Kernel, report: SourceReport) -> None:
    """Report each ``tools`` entry naming no loaded plugin or function, and each
    ``validation`` entry naming no loaded function: a misspelt name's policy or checks
    would apply to nothing, silently."""
    plugins = {plugin.name for plugin in kernel.plugins.values()}
    functions = {
        f"{plugin.name}.{function}"
        for plugin in kernel.plugins.values()
        for function in plugin.functions
    }
    named = [
        ("tools", name, plugins | functions, "plugin or function") for name in loaded.config.tools
    ]
    named += [("validation", name, functions, "function") for name in loaded.config.validation]
    for section, name, known, what in named:
        if name not in known:
            key = f"{section}.{name}"
            reason = f"{key}: no loaded {what} is called {name!r}; it applies to nothing"
            report.fail(loaded.position(key), reason)
