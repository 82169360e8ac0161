"""The agent-host command line, run as a real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, SK_SAMPLES


def agent_host(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "host", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
        check=False,
    )


@pytest.fixture
def cli_config(tmp_path: Path) -> Path:
    """Scripted model with two replies, the default plugins, and the SK samples."""
    path = tmp_path / "host.yaml"
    path.write_text(
        "models:\n  main:\n    provider: scripted\n    model: scripted-1\n"
        "    options:\n      replies: ['A sunny 24°C deal!', 'second']\n"
        f"plugins:\n  directories: [{ROOT / 'plugins'}]\n"
        f"prompts:\n  directories: [{SK_SAMPLES}]\n",
        encoding="utf-8",
    )
    return path


def loaded_modules(argv: list[str], names: set[str]) -> set[str]:
    """Which of ``names`` are in ``sys.modules`` after ``main(argv)`` in a fresh interpreter."""
    probe = (
        "import contextlib, io, json, sys\nfrom host.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        f"    main({argv!r})\n"
        f"print(json.dumps(sorted(set({sorted(names)!r}) & set(sys.modules))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, check=True
    )
    return set(json.loads(result.stdout))


@pytest.mark.parametrize(
    "argv",
    [["--help"], ["--version"], ["plugins", "--config", "{bad}"]],
    ids=["help", "version", "config-error"],
)
def test_a_command_that_stops_before_loading_imports_no_semantic_kernel(
    tmp_path: Path, argv: list[str]
) -> None:
    """Help, the version and a config error answer without Semantic Kernel, whose root import
    alone (template engines, openai) is most of a second; a module-level SK import in the
    CLI, the API or config would put it back."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("models: {m: {provider: scripted, model: s, timeout: soon}}\n")
    argv = [arg.format(bad=bad) for arg in argv]

    assert loaded_modules(argv, {"semantic_kernel", "pybars", "openai"}) == set()


def test_plugins_builds_no_model_client(tmp_path: Path) -> None:
    """Model services are built on first use: listing functions imports neither the OpenAI nor
    the Anthropic connector nor llama.cpp, though such models are configured (SK's root
    imports the openai package itself, so only its connector can wait)."""
    config = tmp_path / "host.yaml"
    config.write_text(
        "models:\n"
        "  hosted: {provider: openai, model: gpt-4o-mini}\n"
        "  claude: {provider: anthropic, model: claude-3-5-haiku-latest}\n"
        "  local: {provider: local, model: gemma-3-270m-q4_k_m}\n"
        "default_model: hosted\n"
    )
    clients = {
        "semantic_kernel.connectors.ai.open_ai",
        "semantic_kernel.connectors.ai.anthropic",
        "anthropic",
        "llama_cpp",
    }

    assert loaded_modules(["plugins", "--config", str(config)], clients) == set()


def test_version() -> None:
    result = agent_host("--version")
    assert result.returncode == 0
    assert result.stdout.startswith("agent-host ")


def test_plugins_json_lists_functions_with_parameters(cli_config: Path) -> None:
    result = agent_host("plugins", "--json", "--config", str(cli_config))
    assert result.returncode == 0, result.stderr
    functions = {f["name"]: f for f in json.loads(result.stdout)}
    assert {"weather.daily_temperatures", "clock.yesterday", "FunPlugin.Joke"} <= set(functions)
    weather = functions["weather.daily_temperatures"]
    assert weather["kind"] == "native"
    assert weather["source"].endswith("plugins/weather.py")
    assert [(p["name"], p["type"], p["required"]) for p in weather["parameters"]] == [
        ("city", "str", True),
        ("date", "str", True),
    ]


def test_prompts_dir_adds_a_folder_of_sk_samples(scripted_config: Path) -> None:
    result = agent_host(
        "plugins", "--json", "--config", str(scripted_config), "--prompts-dir", str(SK_SAMPLES)
    )
    names = [f["name"] for f in json.loads(result.stdout)]
    assert names == [
        "ChatPlugin.Chat",
        "FunPlugin.Excuses",
        "FunPlugin.Joke",
        "SummarizePlugin.Summarize",
        "WriterPlugin.Brainstorm",
        "WriterPlugin.ShortPoem",
    ]


def test_plugins_lists_a_yaml_variable_default_instead_of_required(
    tmp_path: Path, scripted_config: Path
) -> None:
    """SK makes every input variable required, with the default "" unless it gives one; the
    listing shows what a call may leave out, as argument checks and planners treat it."""
    prompts = tmp_path / "prompts"
    prompts.mkdir()
    (prompts / "Tagline.yaml").write_text(
        'name: Tagline\ntemplate: "{{$product}}, {{$tone}}"\ndescription: A tagline.\n'
        "input_variables:\n  - {name: product, is_required: true}\n"
        "  - {name: tone, default: upbeat}\n"
    )
    result = agent_host("plugins", "--config", str(scripted_config), "--prompts-dir", str(prompts))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "prompts.Tagline  [prompt]  A tagline.",
        "    product: str = ''",
        "    tone: str = 'upbeat'",
    ]


def test_invoke_runs_a_native_function(cli_config: Path) -> None:
    result = agent_host(
        "invoke", "clock.resolve_date", "expression=2026-06-21", "--config", str(cli_config)
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "2026-06-21"


def test_invoke_with_bad_argument_prints_one_line_and_fails(cli_config: Path) -> None:
    result = agent_host("invoke", "clock.today", "zone=UTC", "--config", str(cli_config))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: clock.today: unknown argument 'zone' (accepted: timezone)"
    ]


NOISY = """\
from semantic_kernel.functions import kernel_function

print("loading noisy")


class Noisy:
    plugin_name = "noisy"

    @kernel_function(description="Count, chattily.")
    def count(self, text: str) -> int:
        print("counting", text)
        return len(text)
"""


def test_json_output_stays_json_when_a_plugin_prints(tmp_path: Path, cli_config: Path) -> None:
    """Kills: a plugin's prints (on import, and during the call) written to stdout before
    the JSON, which then no longer parsed."""
    plugins = tmp_path / "noisy"
    plugins.mkdir()
    (plugins / "noisy.py").write_text(NOISY)
    result = agent_host(
        "invoke", "noisy.count", "text=four", "--json",
        "--config", str(cli_config), "--plugins-dir", str(plugins),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["output"] == 4
    assert "loading noisy" in result.stderr and "counting four" in result.stderr


def test_invoke_refuses_an_argument_given_twice(cli_config: Path) -> None:
    result = agent_host(
        "invoke", "clock.resolve_date", "expression=today", "expression=2026-06-21",
        "--config", str(cli_config),
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: invoke: 'expression' given more than once"
    ]


def test_run_json_reports_output_and_step_metadata(cli_config: Path) -> None:
    result = agent_host(
        "run", "tell me a joke about the weather", "--json", "--config", str(cli_config)
    )
    assert result.returncode == 0, result.stderr
    run = json.loads(result.stdout)
    assert run["status"] == "ok"
    assert run["output"] == "A sunny 24°C deal!"
    [step] = run["steps"]
    assert step["function"] == "FunPlugin.Joke"
    assert (step["model"], step["provider"], step["model_id"]) == ("main", "scripted", "scripted-1")
    assert step["tokens_in"] > 0 and step["tokens_out"] > 0


def test_bad_config_is_one_clear_error_without_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("models:\n  m:\n    provider: scripted\n    model: s\n    timeout: soon\n")
    result = agent_host("plugins", "--config", str(bad))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert f"{bad}:5: models.m.timeout" in result.stderr


def test_strict_fails_on_a_broken_prompt(tmp_path: Path, scripted_config: Path) -> None:
    broken = tmp_path / "prompts" / "P"
    broken.mkdir(parents=True)
    (broken / "Bad.yaml").write_text("name: [unclosed\n")
    result = agent_host(
        "plugins",
        "--strict",
        "--config",
        str(scripted_config),
        "--prompts-dir",
        str(tmp_path / "prompts"),
    )
    assert result.returncode == 2
    assert str(broken / "Bad.yaml") in result.stderr


def test_run_takes_an_answer_for_a_hand_off(tmp_path: Path) -> None:
    """A run whose validation hands off is answered from --answer, not left waiting."""
    import subprocess
    import sys

    folder = tmp_path / "prompts" / "talk"
    folder.mkdir(parents=True)
    (folder / "echo.yaml").write_text(
        'name: Echo\ntemplate: "Say {{$input}}"\ndescription: Say it.\n'
    )
    config = tmp_path / "host.yaml"
    config.write_text(
        "models:\n  local:\n    provider: scripted\n    model: s\n"
        "    options: {replies: [hello]}\n"
        "prompts:\n  directories: [prompts]\n"
        "validation:\n  talk.Echo:\n    regex: '^OK'\n    on_fail: [human]\n"
        "    question: 'What should it say?'\n"
    )
    command = [sys.executable, "-m", "host", "run", "say hi", "--config", str(config)]
    asked = subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    answered = subprocess.run(
        [*command, "--answer", "OK, hi"], capture_output=True, text=True, stdin=subprocess.DEVNULL
    )
    assert asked.returncode == 3 and "What should it say?" in asked.stderr
    assert answered.returncode == 0, answered.stderr
    assert answered.stdout.strip() == "OK, hi"


def test_an_unexpected_error_is_one_line_and_status_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Kills: a bug's error printed as its repr with status 1, which reads as a failed run."""
    from host import cli

    def broken(args: object) -> int:
        raise RuntimeError("the store went away\nsecond line")

    monkeypatch.setattr(cli, "_runs", broken)
    assert cli.main(["runs"]) == 2
    assert capsys.readouterr().err == "error: RuntimeError: the store went away\n"
