"""Loading native plugins and SK prompt files: what loads, what is reported, what --strict does."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

from host import AgentHost
from host.cli import main
from host.errors import ConfigError, LoadError
from tests.conftest import SK_SAMPLES

GREETER = """
from typing import Annotated
from semantic_kernel.functions import kernel_function

class Greeter:
    plugin_name = "greeter"

    def __init__(self, greeting: str = "Hello") -> None:
        self.greeting = greeting

    @kernel_function(description="Greet someone by name.")
    def greet(self, name: Annotated[str, "who"], times: Annotated[int, "repeat"] = 1) -> str:
        return " ".join([f"{self.greeting}, {name}!"] * times)
"""


def plugin_dir(tmp_path: Path, files: dict[str, str]) -> Path:
    directory = tmp_path / "plugins"
    directory.mkdir()
    for name, text in files.items():
        (directory / name).write_text(text, encoding="utf-8")
    return directory


async def test_native_plugin_from_directory_runs(tmp_path: Path, scripted_config: Path) -> None:
    directory = plugin_dir(tmp_path, {"greeter.py": GREETER})
    async with AgentHost(scripted_config, plugin_dirs=[directory]) as host:
        info = host.function("greeter.greet")
        record = await host.invoke("greeter.greet", name="Ada", times="2")
    assert info.kind == "native"
    assert info.source == str(directory / "greeter.py")
    assert [(p.name, p.type, p.required, p.default) for p in info.parameters] == [
        ("name", "str", True, None),
        ("times", "int", False, 1),
    ]
    assert record.output == "Hello, Ada! Hello, Ada!"
    assert record.arguments == {"name": "Ada", "times": 2}


async def test_plugin_settings_come_from_tools_config(tmp_path: Path) -> None:
    directory = plugin_dir(tmp_path, {"greeter.py": GREETER})
    config = tmp_path / "host.yaml"
    config.write_text(
        "models:\n  m:\n    provider: scripted\n    model: s\n"
        "tools:\n  greeter:\n    settings:\n      greeting: Bonjour\n"
        f"plugins:\n  directories: [{directory.name}]\n"
    )
    async with AgentHost(config) as host:
        record = await host.invoke("greeter.greet", name="Ada")
    assert record.output == "Bonjour, Ada!"


async def test_native_plugin_from_importable_module(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "acme_tools"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "greeting.py").write_text(GREETER)
    monkeypatch.syspath_prepend(str(tmp_path))
    config = tmp_path / "host.yaml"
    config.write_text(
        "models:\n  m:\n    provider: scripted\n    model: s\n"
        "plugins:\n  modules: [acme_tools.greeting]\n"
    )
    async with AgentHost(config) as host:
        record = await host.invoke("greeter.greet", name="Lin")
    assert record.output == "Hello, Lin!"
    sys.modules.pop("acme_tools.greeting", None)
    sys.modules.pop("acme_tools", None)


BROKEN_PLUGINS = {
    "syntax error": ("def oops(:\n", "SyntaxError"),
    "import error": ("import no_such_module_xyz\n", "ModuleNotFoundError"),
    "no kernel functions": ("class Nothing:\n    pass\n", "no class with @kernel_function"),
    "constructor needs a setting": (
        GREETER.replace('greeting: str = "Hello"', "greeting: str"),
        "greeting",
    ),
    "sys.exit on import": (
        "import sys\nsys.exit('set GREETER_KEY')\n",
        "SystemExit: set GREETER_KEY",
    ),
    "sys.exit in the constructor": (
        GREETER.replace("self.greeting = greeting", "raise SystemExit(4)"),
        "SystemExit: 4",
    ),
}


@pytest.mark.parametrize("case", list(BROKEN_PLUGINS))
async def test_broken_plugin_is_reported_and_the_rest_load(
    tmp_path: Path, scripted_config: Path, case: str
) -> None:
    text, reason = BROKEN_PLUGINS[case]
    good = GREETER.replace('"greeter"', '"good"')
    directory = plugin_dir(tmp_path, {"broken.py": text, "good.py": good})
    async with AgentHost(scripted_config, plugin_dirs=[directory]) as host:
        problems = host.problems
        names = [info.name for info in host.catalogue]
    assert len(problems) == 1
    assert problems[0].source == str(directory / "broken.py")
    assert reason in problems[0].reason
    assert names == ["good.greet"]


async def test_strict_makes_a_broken_plugin_fatal(tmp_path: Path, scripted_config: Path) -> None:
    directory = plugin_dir(tmp_path, {"broken.py": "def oops(:\n", "greeter.py": GREETER})
    with pytest.raises(LoadError) as raised:
        AgentHost(scripted_config, plugin_dirs=[directory], strict=True).start()
    assert str(directory / "broken.py") in str(raised.value)


def test_missing_directory_is_reported(tmp_path: Path, scripted_config: Path) -> None:
    host = AgentHost(
        scripted_config, plugin_dirs=[tmp_path / "nope"], prompt_dirs=[tmp_path / "no"]
    )
    assert [p.reason for p in host.problems] == [
        "plugin directory not found",
        "prompt directory not found",
    ]


def test_sk_prompt_samples_load_unmodified(scripted_config: Path) -> None:
    host = AgentHost(scripted_config, prompt_dirs=[SK_SAMPLES])
    by_name = {info.name: info for info in host.catalogue}
    assert host.problems == []
    assert sorted(by_name) == [
        "ChatPlugin.Chat",
        "FunPlugin.Excuses",
        "FunPlugin.Joke",
        "SummarizePlugin.Summarize",
        "WriterPlugin.Brainstorm",
        "WriterPlugin.ShortPoem",
    ]
    joke = by_name["FunPlugin.Joke"]
    assert joke.kind == "prompt"
    assert joke.description == "Generate a funny joke"
    assert [(p.name, p.default) for p in joke.parameters] == [("input", ""), ("style", "")]
    assert joke.source == str(SK_SAMPLES / "FunPlugin" / "Joke" / "skprompt.txt")
    chat = by_name["ChatPlugin.Chat"]
    assert {p.name for p in chat.parameters} == {"user", "bot", "history", "input"}
    excuses = by_name["FunPlugin.Excuses"]
    assert excuses.source == str(SK_SAMPLES / "FunPlugin" / "Excuses.yaml")
    assert excuses.parameters[0].required


def test_a_plugin_folder_itself_can_be_a_prompt_directory(scripted_config: Path) -> None:
    host = AgentHost(scripted_config, prompt_dirs=[SK_SAMPLES / "WriterPlugin"])
    assert [info.name for info in host.catalogue] == [
        "WriterPlugin.Brainstorm",
        "WriterPlugin.ShortPoem",
    ]


TAGLINE_YAML = """\
name: Tagline
template: "A tagline for {{$product}} in a {{$tone}} tone:"
description: Write a one-line tagline for a product.
input_variables:
  - name: product
    description: what to advertise
    is_required: true
  - name: tone
    description: the voice of the tagline
    default: upbeat
"""


def prompts_with_top_level_yaml(tmp_path: Path) -> Path:
    """``shop_prompts/``: a plugin folder ``Writer`` and, beside it, ``Tagline.yaml``."""
    prompts = tmp_path / "shop_prompts"
    (prompts / "Writer" / "Poem").mkdir(parents=True)
    (prompts / "Writer" / "Poem" / "skprompt.txt").write_text("A poem about {{$input}}")
    (prompts / "Writer" / "Poem" / "config.json").write_text('{"schema": 1, "description": "Poem"}')
    (prompts / "Tagline.yaml").write_text(TAGLINE_YAML)
    return prompts


async def test_yaml_prompts_beside_plugin_folders_form_a_plugin_named_after_the_directory(
    tmp_path: Path,
) -> None:
    prompts = prompts_with_top_level_yaml(tmp_path)
    config = tmp_path / "host.yaml"
    config.write_text(
        "models:\n  main:\n    provider: scripted\n    model: s\n"
        "    options: {replies: ['Fresh tea, fresh start.']}\n"
    )
    async with AgentHost(config, prompt_dirs=[prompts]) as host:
        record = await host.invoke("shop_prompts.Tagline", product="iced tea")
        assert host.problems == []
        assert [(info.name, info.source) for info in host.catalogue] == [
            ("Writer.Poem", str(prompts / "Writer" / "Poem" / "skprompt.txt")),
            ("shop_prompts.Tagline", str(prompts / "Tagline.yaml")),
        ]
    assert record.output == "Fresh tea, fresh start."


def test_a_folder_name_sk_rejects_as_a_plugin_name_is_reported_per_file(
    tmp_path: Path, scripted_config: Path
) -> None:
    prompts = tmp_path / "shop-prompts"
    prompts.mkdir()
    (prompts / "Tagline.yaml").write_text(TAGLINE_YAML)
    host = AgentHost(scripted_config, prompt_dirs=[prompts])
    assert host.catalogue == []
    [problem] = host.problems
    assert problem.source == str(prompts / "Tagline.yaml")
    assert "'shop-prompts'" in problem.reason


BROKEN_PROMPTS = {
    "config.json not JSON": (
        {"Bad/skprompt.txt": "Hi {{$input}}", "Bad/config.json": "{oops"},
        "Bad/skprompt.txt",
    ),
    "YAML prompt not YAML": ({"Bad.yaml": "name: [unclosed\n"}, "Bad.yaml"),
    "unknown template format": (
        {"Bad.yaml": "name: Bad\ntemplate: x\ntemplate_format: nope\n"},
        "Bad.yaml",
    ),
    "skprompt.txt without config.json": ({"Bad/skprompt.txt": "Hi"}, "Bad/skprompt.txt"),
    "config.json without skprompt.txt": (
        {"Bad/prompt.txt": "Hi", "Bad/config.json": '{"schema": 1}'},
        "Bad/config.json",
    ),
    "jinja2 syntax error in a YAML prompt": (
        {"Bad.yaml": "name: Bad\ntemplate_format: jinja2\ntemplate: '{% if x %}open'\n"},
        "Bad.yaml",
    ),
    "jinja2 syntax error in skprompt.txt, at its line": (
        {
            "Bad/skprompt.txt": "Say\n{{ input | no_such_filter }}",
            "Bad/config.json": '{"schema": 1, "template_format": "jinja2"}',
        },
        "Bad/skprompt.txt:2",
    ),
}


@pytest.mark.parametrize("case", list(BROKEN_PROMPTS))
def test_broken_prompt_file_is_reported_and_skipped(
    tmp_path: Path, scripted_config: Path, case: str
) -> None:
    files, source = BROKEN_PROMPTS[case]
    plugin = tmp_path / "prompts" / "Mixed"
    (plugin / "Good").mkdir(parents=True)
    (plugin / "Good" / "skprompt.txt").write_text("Say {{$input}}")
    (plugin / "Good" / "config.json").write_text('{"schema": 1, "description": "Say it"}')
    for name, text in files.items():
        (plugin / name).parent.mkdir(parents=True, exist_ok=True)
        (plugin / name).write_text(text)
    host = AgentHost(scripted_config, prompt_dirs=[tmp_path / "prompts"])
    assert [info.name for info in host.catalogue] == ["Mixed.Good"]
    assert [p.source for p in host.problems] == [str(plugin / source)]


def test_a_template_calling_a_function_not_loaded_is_reported_and_skipped(
    tmp_path: Path, scripted_config: Path
) -> None:
    """Kills: such a prompt function loaded, to fail on every call as its model's error
    (``KernelPluginNotFoundError``), naming neither itself nor its file. One calling a
    loaded native function stays; one calling the dropped one goes too."""
    directory = plugin_dir(tmp_path, {"greeter.py": GREETER})
    plugin = tmp_path / "prompts" / "Talk"
    plugin.mkdir(parents=True)
    (plugin / "Greets.yaml").write_text('name: Greets\ntemplate: "Say {{greeter.greet}}"\n')
    (plugin / "Lost.yaml").write_text('name: Lost\ntemplate: "Say {{nope.find $input}}"\n')
    (plugin / "Relays.yaml").write_text('name: Relays\ntemplate: "Tell {{Talk.Lost}}"\n')
    host = AgentHost(scripted_config, plugin_dirs=[directory], prompt_dirs=[plugin.parent])
    assert [info.name for info in host.catalogue] == ["Talk.Greets", "greeter.greet"]
    assert [(p.source, p.reason) for p in host.problems] == [
        (str(plugin / "Lost.yaml"), "Talk.Lost's template calls nope.find, which is not loaded"),
        (
            str(plugin / "Relays.yaml"),
            "Talk.Relays's template calls Talk.Lost, which is not loaded",
        ),
    ]
    with pytest.raises(LoadError, match=re.escape("Talk.Lost's template calls nope.find")):
        AgentHost(
            scripted_config, plugin_dirs=[directory], prompt_dirs=[plugin.parent], strict=True
        ).start()


def test_a_tools_or_validation_entry_naming_nothing_loaded_is_reported(
    tmp_path: Path, scripted_config: Path
) -> None:
    """Kills: a misspelt name under ``tools`` or ``validation`` loading silently, its
    timeout, retries or checks then applying to nothing."""
    directory = plugin_dir(tmp_path, {"greeter.py": GREETER})
    with scripted_config.open("a", encoding="utf-8") as config:
        config.write(
            "tools:\n"
            "  greeter: {retries: 1}\n"  # a plugin
            "  greeter.greet: {timeout: 5s}\n"  # a function
            "  greeterr: {retries: 3}\n"
            "  greeter.great: {timeout: 1s}\n"
            "validation:\n"
            "  greeter.greet: {regex: Hello}\n"
            "  greeter: {regex: Hello}\n"  # a plugin: validation is per function
        )
    host = AgentHost(scripted_config, plugin_dirs=[directory])
    assert [info.name for info in host.catalogue] == ["greeter.greet"]
    assert [str(problem) for problem in host.problems] == [
        f"{scripted_config}:9: tools.greeterr: no loaded plugin or function is called "
        "'greeterr'; it applies to nothing",
        f"{scripted_config}:10: tools.greeter.great: no loaded plugin or function is called "
        "'greeter.great'; it applies to nothing",
        f"{scripted_config}:13: validation.greeter: no loaded function is called 'greeter'; "
        "it applies to nothing",
    ]
    with pytest.raises(LoadError, match=re.escape("tools.greeterr: no loaded plugin")):
        AgentHost(scripted_config, plugin_dirs=[directory], strict=True).start()


async def test_a_config_given_as_a_mapping_is_checked_as_a_file_is(tmp_path: Path) -> None:
    """Kills: a mapping passed through to ``load_config`` as if it were a path (a bare
    ``TypeError``)."""
    directory = plugin_dir(tmp_path, {"greeter.py": GREETER})
    scripted = {"provider": "scripted", "model": "s", "options": {"replies": ["hi"]}}
    async with AgentHost({"models": {"main": scripted}}, plugin_dirs=[directory]) as host:
        record = await host.invoke("greeter.greet", name="Ada")
    assert record.output == "Hello, Ada!"
    with pytest.raises(ConfigError) as raised:
        AgentHost({"models": {"main": {**scripted, "timeout": "soon"}}}).start()
    assert str(raised.value).startswith("config: models.main.timeout: expected a duration")


def test_a_second_plugin_of_the_same_name_is_reported_not_swapped_in(
    tmp_path: Path, scripted_config: Path
) -> None:
    """Kills: SK's ``add_plugin`` replacing the first ``greeter`` with the second silently,
    its functions gone. A directory named twice (config and --plugins-dir) is no clash."""
    other = GREETER.replace("def greet(", "def wave(")
    directory = plugin_dir(tmp_path, {"a_greeter.py": GREETER, "b_greeter.py": other})
    host = AgentHost(scripted_config, plugin_dirs=[directory, directory])
    assert [info.name for info in host.catalogue] == ["greeter.greet"]
    assert [str(problem) for problem in host.problems] == [
        f"{directory / 'b_greeter.py'}: plugin 'greeter' is already loaded from "
        f"{directory / 'a_greeter.py'}"
    ]
    with pytest.raises(LoadError, match="plugin 'greeter' is already loaded"):
        AgentHost(scripted_config, plugin_dirs=[directory], strict=True).start()


def test_a_prompt_directory_named_twice_loads_once(scripted_config: Path) -> None:
    host = AgentHost(
        scripted_config, prompt_dirs=[SK_SAMPLES, SK_SAMPLES / "." / "FunPlugin" / ".."]
    )
    assert host.problems == []
    assert len(host.catalogue) == 6


def test_a_yaml_prompt_file_named_in_capitals_loads(tmp_path: Path, scripted_config: Path) -> None:
    """Kills: ``Tagline.YAML`` skipped without a word (only ``.yaml`` and ``.yml`` were read)."""
    plugin = tmp_path / "prompts" / "shop"
    plugin.mkdir(parents=True)
    (plugin / "Tagline.YAML").write_text(TAGLINE_YAML)
    host = AgentHost(scripted_config, prompt_dirs=[plugin.parent])
    assert host.problems == []
    assert [info.name for info in host.catalogue] == ["shop.Tagline"]


def test_what_a_plugin_prints_while_loading_goes_to_stderr(
    tmp_path: Path, scripted_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Kills: a plugin's print at import or construction written into ``plugins --json``'s
    stdout, which then is not JSON."""
    printing = "print('importing greeter')\n" + GREETER.replace(
        "self.greeting = greeting", "self.greeting = greeting\n        print('built')"
    )
    directory = plugin_dir(tmp_path, {"greeter.py": printing})
    arguments = ["--config", str(scripted_config), "--plugins-dir", str(directory)]
    assert main(["plugins", "--json", *arguments]) == 0
    out, err = capsys.readouterr()
    assert [info["name"] for info in json.loads(out)] == ["greeter.greet"]
    assert "importing greeter" in err and "built" in err
