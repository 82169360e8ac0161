"""Prompt functions from files in Semantic Kernel's own formats, loaded unmodified.

A prompt directory holds plugin folders; each plugin folder holds function
folders (``skprompt.txt`` + ``config.json``) and YAML prompt files
(``*.yaml``/``*.yml``). A directory that itself holds function folders is one
plugin, named after the directory; so are YAML prompt files at the top of a
prompt directory, beside its plugin folders.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from semantic_kernel import Kernel
from semantic_kernel.functions import KernelFunction, KernelFunctionFromPrompt
from semantic_kernel.utils.validation import PLUGIN_NAME_REGEX

from host.errors import describe_error
from host.sources import SourceReport

if TYPE_CHECKING:
    from jinja2 import TemplateSyntaxError

_YAML_SUFFIXES = (".yaml", ".yml")
_Builder = Callable[[Path, str], KernelFunction]


class PromptLoader:
    """Adds prompt functions to a kernel, skipping (and reporting) broken files."""

    def __init__(self, kernel: Kernel, report: SourceReport):
        self._kernel = kernel
        self._report = report

    def load_directory(self, directory: Path) -> None:
        """Load ``directory``'s own functions as a plugin named after it, then, unless it
        holds function folders itself, every plugin folder below it."""
        if not directory.is_dir():
            self._report.fail(directory, "prompt directory not found")
            return
        self.load_plugin(directory, directory.name)
        if _is_plugin_folder(directory):
            return
        for child in sorted(directory.iterdir()):
            if child.is_dir() and not child.name.startswith((".", "_")):
                self.load_plugin(child, child.name)

    def load_plugin(self, folder: Path, plugin_name: str) -> None:
        """Load one plugin folder's function folders and YAML prompt files."""
        for entry in sorted(folder.iterdir()):
            if entry.is_dir() and (entry / "skprompt.txt").is_file():
                self._add(entry / "skprompt.txt", plugin_name, _from_folder, entry)
            elif entry.is_dir() and (entry / "config.json").is_file():
                reason = "a function folder's config.json without skprompt.txt beside it"
                self._report.fail(entry / "config.json", reason)
            elif entry.is_file() and entry.suffix.lower() in _YAML_SUFFIXES:
                self._add(entry, plugin_name, _from_yaml, entry)

    def _add(self, source: Path, plugin_name: str, build: _Builder, entry: Path) -> None:
        if re.fullmatch(PLUGIN_NAME_REGEX, plugin_name) is None:
            reason = f"plugin name {plugin_name!r} (a folder's name) is not letters, digits and _"
            self._report.fail(source, reason)
            return
        try:
            function = build(entry, plugin_name)
        except Exception as error:  # SK raises many kinds on a malformed file
            self._report.fail(source, describe_error(error))
            return
        syntax = _template_error(function)
        if syntax is not None:  # skprompt.txt is the template: its line is the file's
            if entry.suffix.lower() in _YAML_SUFFIXES:
                self._report.fail(source, f"jinja2 template line {syntax.lineno}: {syntax}")
            else:
                self._report.fail(f"{source}:{syntax.lineno}", f"jinja2 template: {syntax}")
            return
        name = f"{plugin_name}.{function.name}"
        if name in self._report.files:
            self._report.fail(source, f"{name} is already loaded from {self._report.files[name]}")
            return
        self._kernel.add_function(plugin_name, function)
        self._report.files[name] = source


def drop_broken_calls(kernel: Kernel, report: SourceReport) -> None:
    """Drop, and report, each prompt function whose template calls a function the kernel
    does not hold (``{{plugin.function}}``, in SK's own template format): it would fail
    on every call, blamed on its model. Repeated, since a dropped function may be the
    one another calls."""
    from semantic_kernel.exceptions import KernelFunctionNotFoundError, KernelPluginNotFoundError

    while True:
        broken = []
        for plugin in kernel.plugins.values():
            for function in plugin.functions.values():
                for called in _calls(function):
                    try:
                        kernel.get_function(*called)
                    except (KernelFunctionNotFoundError, KernelPluginNotFoundError):
                        broken.append((plugin.name, function.name, ".".join(filter(None, called))))
                        break
        if not broken:
            return
        for plugin_name, function_name, missing in broken:
            name = f"{plugin_name}.{function_name}"
            del kernel.plugins[plugin_name].functions[function_name]
            reason = f"{name}'s template calls {missing}, which is not loaded"
            report.fail(report.files.pop(name, name), reason)


def _calls(function: KernelFunction) -> list[tuple[str | None, str]]:
    """The functions a prompt function's template calls (plugin or ``None``, name)."""
    from semantic_kernel.prompt_template.kernel_prompt_template import KernelPromptTemplate
    from semantic_kernel.template_engine.blocks.code_block import CodeBlock
    from semantic_kernel.template_engine.blocks.function_id_block import FunctionIdBlock

    template = getattr(function, "prompt_template", None)
    if not isinstance(template, KernelPromptTemplate):
        return []
    return [
        (block.tokens[0].plugin_name, block.tokens[0].function_name)
        for block in template._blocks
        if isinstance(block, CodeBlock)
        and block.tokens
        and isinstance(block.tokens[0], FunctionIdBlock)
    ]


def _template_error(function: KernelFunction) -> TemplateSyntaxError | None:
    """The syntax error of a jinja2 template, which SK compiles only on each call and so
    would fail every call, blamed on its model; ``None`` for any other."""
    from jinja2 import TemplateSyntaxError
    from semantic_kernel.prompt_template.jinja2_prompt_template import Jinja2PromptTemplate

    template = getattr(function, "prompt_template", None)
    if not isinstance(template, Jinja2PromptTemplate) or template._env is None:
        return None
    try:
        template._env.compile(template.prompt_template_config.template or "")
    except TemplateSyntaxError as error:  # TemplateAssertionError (an unknown filter) is one
        return error
    return None


def _from_folder(folder: Path, plugin_name: str) -> KernelFunction:
    return KernelFunctionFromPrompt.from_directory(str(folder), plugin_name=plugin_name)


def _from_yaml(file: Path, plugin_name: str) -> KernelFunction:
    return KernelFunctionFromPrompt.from_yaml(file.read_text(encoding="utf-8"), plugin_name)


def _is_plugin_folder(directory: Path) -> bool:
    return any(
        (child / "skprompt.txt").is_file() for child in directory.iterdir() if child.is_dir()
    )
