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
    for directory in [*map(loaded.resolve, config.plugins.directories), *plugin_dirs]:
        plugins.load_directory(directory)
    for module in config.plugins.modules:
        plugins.load_module(module)
    prompts = PromptLoader(kernel, report)
    for directory in [*map(loaded.resolve, config.prompts.directories), *prompt_dirs]:
        prompts.load_directory(directory)
    drop_broken_calls(kernel, report)
    report.raise_if_strict(strict)
    return kernel, report
