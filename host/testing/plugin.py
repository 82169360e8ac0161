"""The pytest plugin of agent-host, registered as ``pytest11: agent_host``.

Installing agent-host gives every pytest run of the project:

- a guard, on by default: a test may reach loopback only (:func:`loopback_only`), and
  the hosted providers' key variables read empty. A test that reaches further fails
  naming itself and the address, even when the code under test swallowed the error.
  Opt out for one test with ``@pytest.mark.allow_network``, for a run with
  ``--agent-host-allow-network`` or the ini option ``agent_host_allow_network = true``.
- fixtures: ``agent_host`` (a started host, closed after), ``scripted_model``,
  ``openai_server``, ``virtual_clock``, ``faulty_tool`` and ``traced``;
- the marker ``@pytest.mark.agent_host(config=, models=, plugins_dir=, prompts_dir=,
  strict=)`` saying how ``agent_host`` builds its host.

``agent_host`` and ``openai_server`` are pytest-asyncio fixtures (in either
``asyncio_mode``); without pytest-asyncio a test using them fails with a message
saying so. Importing this module imports neither the host, Semantic Kernel nor
aiohttp: pytest loads it in every run of every project that installs agent-host.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import os
import sys
import types
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import pytest

if TYPE_CHECKING:
    from host.api import AgentHost
    from host.config import HostConfig, LoadedConfig
    from host.testing.assertions import CapturedSpans
    from host.testing.clock import VirtualClock
    from host.testing.faults import Behaviour, FaultyTool
    from host.testing.openai_server import OpenAICompatibleServer
    from host.testing.scripted import ScriptedChatCompletion

HIDDEN_KEYS = ("OPENAI_API_KEY", "AZURE_OPENAI_API_KEY", "ANTHROPIC_API_KEY")
"""The hosted providers' default key variables, empty in every guarded test (an empty
variable also hides one in ``.env``); a test that needs a key sets it itself."""

ASYNC_FIXTURES = frozenset({"agent_host", "openai_server"})

_REFUSED = pytest.StashKey[list[str]]()
"""The addresses the guard refused during a test, in order."""

_GUARD = pytest.StashKey[contextlib.ExitStack]()
"""The guard and the hidden keys of a test, from its setup to the end of its teardown."""

_F = TypeVar("_F", bound=Callable[..., Any])


def _async_fixture(function: _F) -> _F:
    """``pytest_asyncio.fixture`` when pytest-asyncio is installed, else a plain fixture
    that :func:`pytest_runtest_setup` refuses with a clear message before it runs."""
    try:
        from pytest_asyncio import fixture
    except ImportError:
        return cast(_F, pytest.fixture(function))
    return cast(_F, fixture(function))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("agent-host").addoption(
        "--agent-host-allow-network",
        action="store_true",
        dest="agent_host_allow_network",
        help="let every test reach beyond loopback and see real API keys",
    )
    parser.addini(
        "agent_host_allow_network",
        "let every test reach beyond loopback and see real API keys",
        type="bool",
        default=False,
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "agent_host(config=None, models=None, plugins_dir=None, prompts_dir=None, strict=True):"
        " how the agent_host fixture builds its host",
    )
    config.addinivalue_line(
        "markers", "allow_network: let this test reach beyond loopback and see real API keys"
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    """Refuse an async fixture without pytest-asyncio; start the guard, which stays on
    until the test's teardown, so that it covers the fixtures of every scope."""
    needed = sorted(ASYNC_FIXTURES & set(getattr(item, "fixturenames", ())))
    if needed and not item.config.pluginmanager.has_plugin("asyncio"):
        pytest.fail(
            f"{item.nodeid} uses {', '.join(needed)}, an async fixture: install pytest-asyncio "
            "(pip install pytest-asyncio) and make the test an async def, marked "
            "@pytest.mark.asyncio unless asyncio_mode = auto",
            pytrace=False,
        )
    guard = item.stash[_GUARD] = contextlib.ExitStack()
    if not _network_allowed(item):
        from host.testing.network import loopback_only

        hidden = guard.enter_context(pytest.MonkeyPatch.context())
        for variable in HIDDEN_KEYS:
            hidden.setenv(variable, "")
        item.stash[_REFUSED] = guard.enter_context(loopback_only(f"test {item.nodeid}"))
    with _failing_on_refusal(item):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    with _failing_on_refusal(item), _failing_on_exhaustion(item):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Iterator[None]:
    """Stop the guard after the test's fixtures are torn down."""
    try:
        with _failing_on_refusal(item):
            return (yield)
    finally:
        if guard := item.stash.get(_GUARD, None):
            del item.stash[_GUARD]
            guard.close()


@contextlib.contextmanager
def _failing_on_refusal(item: pytest.Item) -> Iterator[None]:
    """Fail this phase of a test when the guard refused it an address, even if the
    refusal was caught."""
    refused = item.stash.get(_REFUSED, [])
    before = len(refused)
    try:
        yield
    finally:
        if len(refused) > before:
            pytest.fail(
                f"{item.nodeid} tried to reach {', '.join(dict.fromkeys(refused[before:]))}: a "
                "test may reach loopback only, so that none calls a hosted model or a public "
                "API by accident. Answer it with scripted_model or openai_server, or opt out: "
                "@pytest.mark.allow_network on the test, --agent-host-allow-network or "
                "agent_host_allow_network = true for the run.",
                pytrace=False,
            )


@contextlib.contextmanager
def _failing_on_exhaustion(item: pytest.Item) -> Iterator[None]:
    """Fail a test that called ``scripted_model`` more often than scripted, even if the
    host turned the error into a failed step or run."""
    try:
        yield
    finally:
        model = getattr(item, "funcargs", {}).get("scripted_model")
        if model is not None and model.exhausted:
            pytest.fail(
                f"{item.nodeid}: ScriptExhaustedError: {model.exhausted[0]}. Script a step for "
                "each call: scripted_model.add(Reply(...)) or "
                "@pytest.mark.agent_host(models=[Reply(...)])",
                pytrace=False,
            )


def _network_allowed(item: pytest.Item) -> bool:
    return (
        item.get_closest_marker("allow_network") is not None
        or bool(item.config.getoption("agent_host_allow_network"))
        or bool(item.config.getini("agent_host_allow_network"))
    )


@dataclass(frozen=True)
class HostOptions:
    """The arguments of ``@pytest.mark.agent_host``; markers on the function, class and
    module combine, the closest one winning for each argument.

    Paths are relative to the rootdir. ``config``: a ``host.yaml`` path, a mapping of
    its content or a ``HostConfig`` (default: ``$AGENT_HOST_CONFIG``, else
    ``config/host.yaml`` in the rootdir, else the shipped default). ``models``: ``None``
    (``scripted_model`` answers every configured model), a list of steps to script
    ``scripted_model`` with, a mapping of model names to services (the rest as by
    default), or ``"config"`` (no doubles). ``plugins_dir`` and ``prompts_dir``: extra
    folders, one or a list. ``strict``: a source that fails to load fails the test.
    """

    config: str | Path | Mapping[str, Any] | HostConfig | None = None
    models: Sequence[Any] | Mapping[str, Any] | str | None = None
    plugins_dir: str | Path | Sequence[str | Path] = ()
    prompts_dir: str | Path | Sequence[str | Path] = ()
    strict: bool = True

    def __post_init__(self) -> None:
        models = self.models
        if models is None or models == "config" or isinstance(models, Mapping):
            return
        problem = f"models={models!r}"
        if isinstance(models, Sequence) and not isinstance(models, str):
            from host.testing.scripted import Delay, Raise, Reply, ToolCall, ToolCalls

            steps = (Reply, ToolCall, ToolCalls, Delay, Raise)
            wrong = [step for step in models if not (isinstance(step, steps) or callable(step))]
            if not wrong:
                return
            problem = f"models holds {wrong[0]!r}, not a step (Reply, ToolCall, Delay, ...)"
        pytest.fail(
            f"@pytest.mark.agent_host: {problem}; expected None, 'config', a list of steps "
            "or a mapping of model names to services",
            pytrace=False,
        )

    @classmethod
    def of(cls, item: pytest.Item) -> HostOptions:
        """The options the markers on ``item`` give."""
        given: dict[str, Any] = {}
        known = {option.name for option in fields(cls)}
        for marker in item.iter_markers("agent_host"):
            unknown = sorted(set(marker.kwargs) - known)
            if marker.args or unknown:
                bad = ", ".join([*(repr(arg) for arg in marker.args), *unknown])
                pytest.fail(
                    f"@pytest.mark.agent_host: unexpected argument(s) {bad} "
                    f"(expected keywords: {', '.join(sorted(known))})",
                    pytrace=False,
                )
            for name, value in marker.kwargs.items():
                given.setdefault(name, value)
        return cls(**given)

    def load(self, root: Path) -> LoadedConfig:
        """The config, loaded; ``root`` is the rootdir."""
        from host.api import DEFAULT_CONFIG
        from host.config import HostConfig, LoadedConfig, load_config, parse_config

        source = self.config
        if isinstance(source, HostConfig):
            return LoadedConfig(source, None, os.environ)
        if isinstance(source, Mapping):
            raw = dict(source)
            parsed = parse_config(raw, os.environ, source="@pytest.mark.agent_host(config=...)")
            return LoadedConfig(parsed, None, os.environ)
        if source is not None:
            return load_config(root / source)
        if named := os.environ.get("AGENT_HOST_CONFIG"):
            return load_config(named)
        local = root / "config" / "host.yaml"
        return load_config(local if local.is_file() else DEFAULT_CONFIG)

    def services(self, loaded: LoadedConfig, scripted: ScriptedChatCompletion) -> dict[str, Any]:
        """The service standing in for each configured model (none for ``"config"``)."""
        from semantic_kernel.connectors.ai.chat_completion_client_base import (
            ChatCompletionClientBase,
        )

        if self.models == "config":
            return {}
        configured = loaded.config.models
        given = dict(self.models) if isinstance(self.models, Mapping) else {}
        problems = [
            f"{name!r} is not a configured model" for name in given if name not in configured
        ]
        problems += [
            f"models[{name!r}] is a {type(service).__name__}, not a chat service"
            for name, service in given.items()
            if not isinstance(service, ChatCompletionClientBase)
        ]
        if problems:
            known = ", ".join(configured)
            pytest.fail(
                f"@pytest.mark.agent_host: {'; '.join(problems)} (configured models: {known})",
                pytrace=False,
            )
        return {
            name: given[name] if name in given else scripted.serving(name, ai_model_id=row.model)
            for name, row in configured.items()
        }

    def steps(self) -> list[Any]:
        """The steps ``models`` scripts ``scripted_model`` with."""
        if isinstance(self.models, str | Mapping) or self.models is None:
            return []
        return list(self.models)


def _folders(given: str | Path | Sequence[str | Path], root: Path) -> list[Path]:
    folders = [given] if isinstance(given, str | Path) else list(given)
    return [root / folder for folder in folders]


def _for_test(
    loaded: LoadedConfig, *, doubled: Sequence[str], modules: Sequence[str], runs: Path
) -> LoadedConfig:
    """``loaded`` with its runs database at ``runs``, the ``doubled`` models needing no key
    (their rows read as ``provider: scripted``), and ``modules`` among its plugins."""
    config = loaded.config
    keyless = {"provider": "scripted", "api_key_env": None, "base_url": None, "api_version": None}
    models = {
        name: row.model_copy(update=keyless) if name in doubled else row
        for name, row in config.models.items()
    }
    plugins = config.plugins.model_copy(update={"modules": [*config.plugins.modules, *modules]})
    database = config.runs.model_copy(update={"database": str(runs)})
    changed = copy.copy(loaded)
    changed.config = config.model_copy(
        update={"models": models, "plugins": plugins, "runs": database}
    )
    return changed


@pytest.fixture
def virtual_clock() -> VirtualClock:
    """Virtual time; ``agent_host`` and ``scripted_model`` wait on it when a test asks
    for it, so backoffs, timeouts and ``Delay`` steps take no real time."""
    from host.testing.clock import VirtualClock

    return VirtualClock()


@pytest.fixture
def scripted_model(request: pytest.FixtureRequest) -> ScriptedChatCompletion:
    """The scripted double answering every configured model of ``agent_host``: script it
    with ``scripted_model.add(Reply(...), ToolCall(...))``, read ``.requests`` (each
    names the model it asked). Its script starts with the marker's ``models`` steps."""
    from host.testing.scripted import ScriptedChatCompletion

    clock = _requested(request, "virtual_clock")
    model = ScriptedChatCompletion("scripted", clock=clock)
    return model.add(*HostOptions.of(request.node).steps())


class FaultyToolScript:
    """What the ``faulty_tool`` fixture gives: ``faulty_tool(*behaviours)`` scripts the
    test's one ``faulty`` plugin (function ``faulty.count``) afresh and returns its
    :class:`~host.testing.faults.FaultyTool`. ``agent_host`` loads that plugin from
    :attr:`module`, importable while the test runs."""

    _numbers = itertools.count()

    def __init__(self) -> None:
        from host.testing.faults import Fail, FaultyTool

        unscripted = AssertionError("faulty.count was called before faulty_tool(...) scripted it")
        self.tool = FaultyTool(Fail(unscripted))
        self.module = f"agent_host_faulty_tool_{next(self._numbers)}"

    def __call__(self, *behaviours: Behaviour) -> FaultyTool:
        return self.tool.script(*behaviours)

    def plugin_module(self) -> types.ModuleType:
        """A module whose plugin class builds (without arguments) into :attr:`tool`."""
        module = types.ModuleType(self.module)
        module.__file__ = sys.modules[type(self.tool).__module__].__file__  # where its code is
        tool = self.tool
        namespace = {"__module__": self.module, "__new__": lambda cls: tool}
        module.FaultyPlugin = type("FaultyPlugin", (type(tool),), namespace)  # type: ignore[attr-defined]
        return module


@pytest.fixture
def faulty_tool() -> Iterator[FaultyToolScript]:
    """The test's ``faulty`` plugin, loaded by ``agent_host``: ``faulty_tool(Fail(...),
    Return(3))`` scripts it and returns the tool (``.calls`` counts its calls)."""
    script = FaultyToolScript()
    sys.modules[script.module] = script.plugin_module()
    yield script
    del sys.modules[script.module]


@pytest.fixture
def traced() -> Iterator[CapturedSpans]:
    """Spans in memory: ``agent_host`` traces to them when a test asks for this."""
    from host.testing.assertions import CapturedSpans

    spans = CapturedSpans()
    yield spans
    spans.shutdown()


@_async_fixture
async def openai_server() -> AsyncIterator[OpenAICompatibleServer]:
    """A loopback OpenAI-compatible server, stopped after the test; script its answers
    and faults with ``openai_server.enqueue(...)`` (``ChatReply("ok")`` by default)."""
    from host.testing.openai_server import OpenAICompatibleServer

    async with OpenAICompatibleServer() as server:
        yield server


@_async_fixture
async def agent_host(
    request: pytest.FixtureRequest, scripted_model: ScriptedChatCompletion, tmp_path: Path
) -> AsyncIterator[AgentHost]:
    """A started host, closed after the test: the config and folders the
    ``agent_host`` marker names (:class:`HostOptions`), each model answered by
    ``scripted_model`` unless the marker says otherwise, the runs database in
    ``tmp_path``, and ``virtual_clock``, ``faulty_tool`` and ``traced`` when the test
    asks for them."""
    from host.api import AgentHost
    from host.errors import AgentHostError

    options = HostOptions.of(cast(pytest.Item, request.node))
    root = request.config.rootpath
    host: AgentHost | None = None
    failure: str | None = None
    try:
        loaded = options.load(root)
        models = options.services(loaded, scripted_model)
        faulty: FaultyToolScript | None = _requested(request, "faulty_tool")
        spans: CapturedSpans | None = _requested(request, "traced")
        loaded = _for_test(
            loaded,
            doubled=list(models),
            modules=[faulty.module] if faulty is not None else [],
            runs=tmp_path / "runs.sqlite3",
        )
        host = AgentHost(
            loaded,
            plugin_dirs=_folders(options.plugins_dir, root),
            prompt_dirs=_folders(options.prompts_dir, root),
            strict=options.strict,
            models=models,
            clock=_requested(request, "virtual_clock"),
            tracer_provider=spans.provider if spans is not None else None,
        )
        host.start()
    except AgentHostError as error:  # a bad config, plugin or prompt file, named in error
        failure = str(error)
    if failure is not None or host is None:  # failed outside the except: no chained error
        if host is not None:
            await host.close()
        pytest.fail(f"agent_host could not start the host: {failure}", pytrace=False)
    try:
        yield host
    finally:
        await host.close()


def _requested(request: pytest.FixtureRequest, name: str) -> Any:
    """Fixture ``name`` when the test asks for it (directly or through a fixture)."""
    return request.getfixturevalue(name) if name in request.fixturenames else None
