"""The pytest plugin as a plugin author meets it, through the installed entry point.

Each test writes the README's example project (a shop with its own plugin and prompt
folders and ``config/host.yaml``, no conftest) into pytester's folder, adds a test
file, and runs pytest on it in a subprocess: the plugin is loaded by ``pytest11``
exactly as in the author's project, not by this suite's conftest. Each test names
the break in the plugin it catches.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap

import pytest

from host.config.schema import DEFAULT_API_KEY_ENV
from host.testing.plugin import HIDDEN_KEYS
from tests.conftest import ROOT

pytest_plugins = ["pytester"]


def readme_files() -> dict[str, str]:
    """The files the README's "Testing your plugins" shows: each code block whose first
    line is ``# <path>``, by path."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Testing your plugins\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"^```\w*\n(.*?)^```", section, re.MULTILINE | re.DOTALL)
    return {m[1]: block for block in blocks if (m := re.match(r"# (\S+)\n", block))}


@pytest.fixture
def shop(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """pytester's folder holding the README's example project (its test files aside)."""
    monkeypatch.delenv("AGENT_HOST_CONFIG", raising=False)
    for path, text in readme_files().items():
        if not path.startswith("tests/"):
            target = pytester.path / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
    return pytester


def write(project: pytest.Pytester, path: str, text: str) -> None:
    target = project.path / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(textwrap.dedent(text), encoding="utf-8")


def run(project: pytest.Pytester, *args: str) -> pytest.RunResult:
    """pytest in a subprocess, in the project's folder (arize-phoenix's plugin, which
    this venv has and an author's may not, stays out)."""
    return project.runpytest_subprocess("-p", "no:phoenix", "-p", "no:cacheprovider", *args)


def outcomes(result: pytest.RunResult) -> dict[str, int]:
    return {k: v for k, v in result.parseoutcomes().items() if k != "warnings"}


@pytest.mark.parametrize(
    ("test_file", "passed"), [("tests/test_inventory.py", 3), ("tests/test_retries.py", 1)]
)
def test_the_readme_examples_pass_as_written(
    shop: pytest.Pytester, test_file: str, passed: int
) -> None:
    """Kills: the entry point missing, models not replaced by the double (the config's
    OpenAI model has no key), the config not found in the rootdir, ``request.model``
    not the configured name, ``faulty_tool`` or ``virtual_clock`` not wired in."""
    write(shop, test_file, readme_files()[test_file])

    result = run(shop, test_file)

    assert outcomes(result) == {"passed": passed}, result.stdout.str()


def test_the_marker_config_models_plugins_and_prompts_are_honoured(shop: pytest.Pytester) -> None:
    """Kills: any marker argument ignored, markers of module and test not combined (the
    closest winning), an unknown marker argument or model name let through."""
    write(
        shop,
        "other/host.yaml",
        """\
        models:
          critic: {provider: anthropic, model: claude-x}
          echo: {provider: openai, model: gpt-x}
        """,
    )
    write(
        shop,
        "extra/greeter.py",
        """\
        from semantic_kernel.functions import kernel_function


        class Greeter:
            plugin_name = "greeter"

            @kernel_function(description="Greet someone.")
            def greet(self, name: str) -> str:
                return f"Hello, {name}!"
        """,
    )
    write(
        shop,
        "tests/test_marker.py",
        """\
        import pytest

        from host.testing import Reply, ScriptedChatCompletion

        ECHO = ScriptedChatCompletion.echo("echo")
        pytestmark = pytest.mark.agent_host(
            config="other/host.yaml", plugins_dir="extra", prompts_dir=["prompts"]
        )


        @pytest.mark.agent_host(models=[Reply("from the marker")])
        async def test_config_folders_and_steps(agent_host, scripted_model):
            names = [info.name for info in agent_host.catalogue]
            record = await agent_host.invoke("shop.pitch", item="tea", units="3")
            greeting = await agent_host.invoke("greeter.greet", name="Ada")

            assert names == ["greeter.greet", "shop.pitch"]
            assert (record.output, record.model) == ("from the marker", "critic")
            assert greeting.output == "Hello, Ada!"
            assert [r.model for r in scripted_model.requests] == ["critic"]


        @pytest.mark.agent_host(models={"echo": ECHO})
        async def test_a_model_given_a_service(agent_host, scripted_model):
            record = await agent_host.invoke("shop.pitch", item="tea", units="3", model="echo")

            assert record.output == "Sell tea in one sentence. Units left: 3."
            assert scripted_model.requests == []


        @pytest.mark.agent_host(
            config={"models": {"m": {"provider": "scripted", "model": "m",
                                     "options": {"replies": ["from the config"]}}}},
            models="config",
        )
        async def test_configured_models_kept(agent_host, scripted_model):
            record = await agent_host.invoke("shop.pitch", item="tea", units="3")

            assert record.output == "from the config"
            assert scripted_model.requests == []


        @pytest.mark.agent_host(models={"writer": ECHO})
        async def test_an_unknown_model_name(agent_host):
            pass


        @pytest.mark.agent_host(model="critic")
        async def test_an_unknown_argument(agent_host):
            pass
        """,
    )

    result = run(shop, "tests/test_marker.py")

    assert outcomes(result) == {"passed": 3, "errors": 2}, result.stdout.str()
    result.stdout.fnmatch_lines(
        [
            "*@pytest.mark.agent_host: 'writer' is not a configured model "
            "(configured models: critic, echo)",
            "*@pytest.mark.agent_host: unexpected argument(s) model (expected keywords: config,"
            " models, plugins_dir, prompts_dir, strict)",
        ],
        consecutive=False,
    )


GUARDED = """\
import os
import socket
import urllib.request

import pytest

from host.errors import FunctionNotFoundError

LOOKUPS = ("getaddrinfo", "getnameinfo", "gethostbyname", "gethostbyname_ex", "gethostbyaddr")
ORIGINALS = {name: getattr(socket, name) for name in LOOKUPS}


def test_a_caught_refusal_still_fails():
    try:
        urllib.request.urlopen("https://api.openai.com/v1/models", timeout=5)
    except Exception:
        pass  # the code under test swallows the error


@pytest.mark.agent_host(config={"models": {"writer": {
    "provider": "openai", "model": "gpt-x", "api_key_env": "SHOP_KEY", "retries": 0}}},
    models="config", prompts_dir="prompts")
async def test_a_real_model_endpoint(agent_host):
    try:
        await agent_host.invoke("shop.pitch", item="tea", units="3")
    except FunctionNotFoundError:
        raise
    except Exception:
        pass  # the host turned the refusal into a failed step


def test_loopback_is_reachable():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        with socket.create_connection(server.getsockname(), timeout=5):
            pass


def test_keys_read_empty():
    assert os.environ["OPENAI_API_KEY"] == ""
    assert os.environ["SHOP_KEY"] == "sk-shop"


@pytest.mark.allow_network
def test_opted_out():
    assert {name: getattr(socket, name) for name in LOOKUPS} == ORIGINALS
    assert os.environ["OPENAI_API_KEY"] == "sk-machine"
"""


@pytest.fixture
def guarded(shop: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """The shop with a test file probing the guard, and keys set on the machine."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-machine")
    monkeypatch.setenv("SHOP_KEY", "sk-shop")
    write(shop, "tests/test_guard.py", GUARDED)
    return shop


def test_reaching_beyond_loopback_fails_naming_the_test_and_the_address(
    guarded: pytest.Pytester,
) -> None:
    """Kills: no guard, a refusal the code caught passing unseen, a real model endpoint
    reached through the host, a message without the test or the address, keys not
    hidden, loopback refused, the ``allow_network`` marker ignored (for connections or
    name lookups)."""
    result = run(guarded, "tests/test_guard.py")

    assert outcomes(result) == {"passed": 3, "failed": 2}, result.stdout.str()
    advice = (
        "a test may reach loopback only, * opt out: @pytest.mark.allow_network on the test, "
        "--agent-host-allow-network or agent_host_allow_network = true for the run."
    )
    result.stdout.fnmatch_lines(
        [
            "tests/test_guard.py::test_a_caught_refusal_still_fails tried to reach "
            f"'api.openai.com':443: {advice}",
            f"tests/test_guard.py::test_a_real_model_endpoint tried to reach "
            f"'api.openai.com':443: {advice}",
        ],
        consecutive=False,
    )


@pytest.mark.parametrize(
    "opt_out",
    [["--agent-host-allow-network"], ["-o", "agent_host_allow_network=true"]],
    ids=["flag", "ini"],
)
def test_a_whole_run_can_opt_out(guarded: pytest.Pytester, opt_out: list[str]) -> None:
    """Kills: the command-line flag or the ini option ignored."""
    result = run(guarded, "tests/test_guard.py", "-k", "opted_out", *opt_out, "-p", "no:asyncio")

    assert outcomes(result) == {"passed": 1, "deselected": 4}, result.stdout.str()


LOOKUPS = r"""
import contextlib
import smtplib
import socket
import socketserver
import threading

import pytest

LOOKUPS = {
    "getaddrinfo": lambda host: socket.getaddrinfo(host, 443),
    "getnameinfo": lambda host: socket.getnameinfo((host, 443), 0),
    "gethostbyname": lambda host: socket.gethostbyname(host),
    "gethostbyname_ex": lambda host: socket.gethostbyname_ex(host),
    "gethostbyaddr": lambda host: socket.gethostbyaddr(host),
}


@pytest.mark.parametrize("lookup", LOOKUPS)
def test_a_made_up_name(lookup):
    LOOKUPS[lookup]("example.invalid")


def test_a_swallowed_lookup():
    with contextlib.suppress(Exception):
        socket.gethostbyname("pypi.org")


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", socket.gethostname()])
def test_this_machine_resolves(host):
    socket.getaddrinfo(host, 25)
    socket.gethostbyname(host)
    socket.gethostbyname_ex(host)
    socket.gethostbyaddr(host)
    socket.getnameinfo(("127.0.0.1", 25), 0)


class OneSession(socketserver.StreamRequestHandler):
    def handle(self):
        self.wfile.write(b"220 loopback ESMTP\r\n")
        for line in self.rfile:
            self.wfile.write(b"221 bye\r\n" if line.upper().startswith(b"QUIT") else b"250 ok\r\n")


def test_smtplib_to_a_loopback_server():
    with socketserver.TCPServer(("127.0.0.1", 0), OneSession) as server:
        threading.Thread(target=server.handle_request, daemon=True).start()
        with smtplib.SMTP(*server.server_address, timeout=5) as smtp:
            assert smtp.ehlo()[0] == 250
"""


def test_looking_up_a_name_beyond_loopback_fails_naming_the_test_and_the_host(
    shop: pytest.Pytester,
) -> None:
    """Kills: a lookup function left unguarded (``gethostbyname`` and the rest leaked the
    name to a DNS server and hung offline), a swallowed refused lookup passing unseen;
    and the machine's own name refused (``smtplib`` resolves it through
    ``socket.getfqdn()``), ``localhost`` or ``127.0.0.1`` refused. No name is sent to a
    resolver: the made-up and the real one are refused first."""
    write(shop, "tests/test_lookups.py", LOOKUPS)

    result = run(shop, "tests/test_lookups.py")

    assert outcomes(result) == {"passed": 4, "failed": 6}, result.stdout.str()
    result.stdout.re_match_lines(
        [
            re.escape(f"tests/test_lookups.py::{test} tried to reach {address}: ")
            + "a test may reach loopback only, "
            for test, address in [
                ("test_a_made_up_name[getaddrinfo]", "'example.invalid':443"),
                ("test_a_made_up_name[getnameinfo]", "'example.invalid':443"),
                ("test_a_made_up_name[gethostbyname]", "'example.invalid'"),
                ("test_a_made_up_name[gethostbyname_ex]", "'example.invalid'"),
                ("test_a_made_up_name[gethostbyaddr]", "'example.invalid'"),
                ("test_a_swallowed_lookup", "'pypi.org'"),
            ]
        ],
        consecutive=False,
    )


def test_the_authors_own_plugins_folder_imports_beside_the_hosts(shop: pytest.Pytester) -> None:
    """Kills: agent-host's ``plugins`` as a regular package, which hides a project's own
    ``plugins/`` folder (a namespace package) from ``import plugins.inventory``."""
    write(
        shop,
        "tests/test_direct.py",
        """\
        from plugins.inventory import Inventory
        from plugins.weather import WeatherPlugin


        def test_a_plugin_class_called_directly():
            assert Inventory().stock("iced tea") == 12
            assert WeatherPlugin.__module__ == "plugins.weather"
        """,
    )

    result = run(shop, "-o", "pythonpath=.", "tests/test_direct.py")

    assert outcomes(result) == {"passed": 1}, result.stdout.str()


def test_the_guard_covers_fixtures_of_every_scope(
    shop: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Kills: a session- or module-scoped fixture (set up before a function-scoped guard)
    reaching a real endpoint or reading a real key, a refusal caught in a fixture's
    teardown passing unseen, a key a fixture sets for its test undone before the test."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-machine")
    write(
        shop,
        "tests/test_scopes.py",
        """\
        import os
        import socket

        import pytest


        def reach():
            try:
                socket.create_connection(("192.0.2.1", 80), timeout=1)
            except Exception:
                pass  # the code under test swallows the error


        @pytest.fixture(scope="session")
        def shared_key():
            reach()
            return os.environ["OPENAI_API_KEY"]


        @pytest.fixture
        def closing():
            yield
            reach()


        @pytest.fixture
        def test_key(monkeypatch):
            monkeypatch.setenv("OPENAI_API_KEY", "sk-test")


        def test_session_fixture(shared_key):
            pass


        def test_teardown(closing):
            pass


        def test_a_key_set_by_a_fixture(test_key):
            assert os.environ["OPENAI_API_KEY"] == "sk-test"
        """,
    )

    result = run(shop, "tests/test_scopes.py")

    assert outcomes(result) == {"passed": 2, "errors": 2}, result.stdout.str()
    result.stdout.fnmatch_lines(
        [
            "*ERROR at setup of test_session_fixture*",
            "tests/test_scopes.py::test_session_fixture tried to reach '192.0.2.1':80: *",
            "*ERROR at teardown of test_teardown*",
            "tests/test_scopes.py::test_teardown tried to reach '192.0.2.1':80: *",
        ]
    )


def test_a_call_beyond_the_script_fails_the_test_even_in_a_failed_run(
    shop: pytest.Pytester,
) -> None:
    """Kills: an unscripted model call that ``execute`` records as a failed run, letting
    a test that does not check the run's status pass."""
    write(
        shop,
        "tests/test_unscripted.py",
        """\
        async def test_unscripted(agent_host):
            await agent_host.execute({"steps": [{"id": "pitch", "function": "shop.pitch",
                                                 "capability": "write",
                                                 "arguments": {"item": "tea", "units": "3"}}]})
        """,
    )

    result = run(shop, "tests/test_unscripted.py")

    assert outcomes(result) == {"failed": 1}, result.stdout.str()
    result.stdout.fnmatch_lines(
        [
            "tests/test_unscripted.py::test_unscripted: ScriptExhaustedError: scripted model "
            "'writer': no reply scripted for call 1. Script a step for each call: *"
        ]
    )


def test_a_host_that_cannot_start_fails_with_the_reason_alone(shop: pytest.Pytester) -> None:
    """Kills: a bad config path, a broken plugin or a ``models=`` that is not a list of
    steps reported as a traceback through the plugin and the host instead of a message
    naming the file or the value."""
    write(shop, "broken/syntax.py", "def oops(:\n")
    write(
        shop,
        "tests/test_cannot_start.py",
        """\
        import pytest

        from host.testing import Reply


        @pytest.mark.agent_host(config="nowhere/host.yaml")
        async def test_a_missing_config(agent_host):
            pass


        @pytest.mark.agent_host(plugins_dir="broken")
        async def test_a_broken_plugin(agent_host):
            pass


        @pytest.mark.agent_host(models=Reply("one step, not a list"))
        async def test_one_step(agent_host):
            pass


        @pytest.mark.agent_host(models=["a text, not a step"])
        async def test_a_text_step(agent_host):
            pass
        """,
    )

    result = run(shop, "tests/test_cannot_start.py")

    assert outcomes(result) == {"errors": 4}, result.stdout.str()
    result.stdout.fnmatch_lines(
        [
            "agent_host could not start the host: */nowhere/host.yaml: config file not found",
            "agent_host could not start the host: */broken/syntax.py: cannot import: SyntaxError*",
            "@pytest.mark.agent_host: models=Reply(text='one step, not a list', usage=None); "
            "expected None, 'config', a list of steps or a mapping of model names to services",
            "@pytest.mark.agent_host: models holds 'a text, not a step', not a step (Reply, *",
        ]
    )
    assert "Traceback" not in result.stdout.str()
    assert "plugin.py:" not in result.stdout.str()


def test_the_host_and_the_server_are_closed_after_their_test(shop: pytest.Pytester) -> None:
    """Kills: ``agent_host`` never closed, ``openai_server`` left running, the server
    unreachable from a test under the guard."""
    write(
        shop,
        "tests/test_lifetimes.py",
        """\
        import pytest
        from openai import AsyncOpenAI

        from host import AgentHost

        closed = []
        kept = {}


        @pytest.fixture(autouse=True)
        def record_closing(monkeypatch):
            close = AgentHost.close

            async def recording(self):
                closed.append(self)
                await close(self)

            monkeypatch.setattr(AgentHost, "close", recording)


        async def test_uses_a_host(agent_host):
            kept["host"] = agent_host
            assert closed == []


        async def test_uses_a_server(openai_server):
            kept["server"] = openai_server
            async with AsyncOpenAI(base_url=openai_server.base_url, api_key="t") as client:
                reply = await client.chat.completions.create(
                    model="m", messages=[{"role": "user", "content": "hi"}]
                )
            assert reply.choices[0].message.content == "ok"


        def test_both_were_closed():
            assert closed == [kept["host"]]
            with pytest.raises(RuntimeError, match="not running"):
                kept["server"].base_url
        """,
    )

    result = run(shop, "tests/test_lifetimes.py")

    assert outcomes(result) == {"passed": 3}, result.stdout.str()


def test_traced_gives_the_host_s_spans(shop: pytest.Pytester) -> None:
    """Kills: ``traced`` not handed to the host as its tracer provider."""
    write(
        shop,
        "tests/test_spans.py",
        """\
        from host.testing.assertions import assert_span, assert_span_tree


        async def test_spans(agent_host, traced):
            await agent_host.execute({"steps": [{"id": "count", "function": "inventory.stock",
                                                 "capability": "fetch",
                                                 "arguments": {"item": "iced tea"}}]})

            assert_span_tree(
                traced,
                '''
                invoke_workflow plan
                  step count
                    execute_tool inventory.stock
                ''',
            )
            assert_span(traced, "execute_tool inventory.stock", {"agent_host.attempt": 1})
        """,
    )

    result = run(shop, "tests/test_spans.py")

    assert outcomes(result) == {"passed": 1}, result.stdout.str()


def test_in_pytest_asyncio_strict_mode_a_marked_test_uses_the_fixtures(
    shop: pytest.Pytester,
) -> None:
    """Kills: the async fixtures declared as plain ones, which strict mode leaves unrun."""
    write(shop, "pyproject.toml", '[tool.pytest.ini_options]\nasyncio_mode = "strict"\n')
    write(
        shop,
        "tests/test_strict.py",
        """\
        import pytest


        @pytest.mark.asyncio
        async def test_strict(agent_host, openai_server):
            record = await agent_host.invoke("inventory.stock", item="lemonade")
            assert record.output == 0
            assert openai_server.base_url.startswith("http://127.0.0.1:")
        """,
    )

    result = run(shop, "tests/test_strict.py", "-W", "ignore::DeprecationWarning")

    assert outcomes(result) == {"passed": 1}, result.stdout.str()


def test_without_pytest_asyncio_the_async_fixtures_say_what_is_missing(
    shop: pytest.Pytester,
) -> None:
    """Kills: a bare pytest error about an unhandled coroutine instead of the remedy."""
    write(
        shop,
        "tests/test_no_asyncio.py",
        """\
        async def test_needs_a_loop(agent_host):
            pass
        """,
    )

    result = run(shop, "tests/test_no_asyncio.py", "-p", "no:asyncio")

    assert outcomes(result) == {"errors": 1}, result.stdout.str()
    result.stdout.fnmatch_lines(
        [
            "*tests/test_no_asyncio.py::test_needs_a_loop uses agent_host, an async fixture: "
            "install pytest-asyncio*"
        ]
    )


def test_an_assertion_helper_failure_shows_the_run(shop: pytest.Pytester) -> None:
    """Kills: a helper failing without the field that differs or without the run."""
    write(
        shop,
        "tests/test_helper_failure.py",
        """\
        from host.testing.assertions import assert_step


        async def test_wrong_attempts(agent_host):
            record = await agent_host.invoke("inventory.stock", item="iced tea")

            assert_step(record, "inventory.stock", attempts=2)
        """,
    )

    result = run(shop, "tests/test_helper_failure.py")

    assert outcomes(result) == {"failed": 1}, result.stdout.str()
    result.stdout.fnmatch_lines(
        [
            "E*AssertionError: step s1 (inventory.stock): attempts is 1, expected 2. The run:",
            "E*  s1 inventory.stock ok attempts=1 output=12",
            "E*      events: attempt ok",
        ]
    )


def test_importing_the_plugin_imports_neither_the_host_nor_sk_nor_aiohttp() -> None:
    """Kills: a module-level import of the host, Semantic Kernel, aiohttp or pydantic,
    which every pytest run of every project with agent-host installed would pay."""
    heavy = {"semantic_kernel", "aiohttp", "pydantic", "host.api", "opentelemetry"}
    probe = f"import sys, host.testing.plugin; print(sorted({heavy!r} & set(sys.modules)))"

    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.strip()

    assert loaded == "[]"


def test_the_hidden_keys_are_the_hosted_providers_defaults() -> None:
    """Kills: a provider added to the config schema whose key the guard leaves visible."""
    assert sorted(HIDDEN_KEYS) == sorted(DEFAULT_API_KEY_ENV.values())
