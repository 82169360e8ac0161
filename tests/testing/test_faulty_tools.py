"""FaultyTool: a native plugin that fails, hangs or returns the wrong type on cue."""

import asyncio
from pathlib import Path

import pytest
from semantic_kernel import Kernel
from semantic_kernel.functions import KernelArguments

from host.api import AgentHost
from host.errors import FunctionFailedError
from host.testing import (
    Fail,
    FaultyTool,
    Return,
    Stall,
    VirtualClock,
    fails_then_succeeds,
    hangs,
    raises,
    returns_wrong_type,
    run_until,
)
from host.testing.plugin import FaultyToolScript


def _with(tool: FaultyTool) -> Kernel:
    kernel = Kernel()
    kernel.add_plugin(tool, plugin_name=tool.plugin_name)
    return kernel


async def _outcome(kernel: Kernel) -> object:
    """The call's value, or the type of the error the tool raised (whatever SK wrapped it in)."""
    try:
        result = await kernel.invoke(
            plugin_name="faulty", function_name="count", arguments=KernelArguments(query="apples")
        )
    except Exception as error:
        cause: BaseException = error
        while cause.__cause__ is not None:
            cause = cause.__cause__
        return type(cause)
    assert result is not None
    return result.value


@pytest.mark.parametrize(
    ("tool", "outcomes"),
    [
        (raises(ConnectionError("down")), [ConnectionError] * 3),
        (fails_then_succeeds(2, TimeoutError(), 7), [TimeoutError, TimeoutError, 7, 7]),
        (returns_wrong_type(), ["many", "many"]),
        (returns_wrong_type(2.5), [2.5]),
        (FaultyTool(Return(1), Fail(ValueError("bad")), Return(2)), [1, ValueError, 2, 2]),
    ],
    ids=["raises", "fails-then-succeeds", "wrong-type", "wrong-type-float", "script"],
)
async def test_each_call_plays_the_next_behaviour_and_the_last_repeats(
    tool: FaultyTool, outcomes: list[object]
) -> None:
    kernel = _with(tool)

    played = [await _outcome(kernel) for _ in outcomes]

    assert played == outcomes
    assert tool.calls == len(outcomes)


async def test_the_raised_error_is_the_scripted_instance() -> None:
    error = ConnectionError("down")
    kernel = _with(raises(error))

    with pytest.raises(Exception) as raised:
        await kernel.invoke(plugin_name="faulty", function_name="count", query="apples")

    causes = []
    cause: BaseException | None = raised.value
    while cause is not None:
        causes.append(cause)
        cause = cause.__cause__
    assert causes[-1] is error


def test_the_function_declares_typed_parameters_and_an_int_result() -> None:
    kernel = _with(returns_wrong_type())

    metadata = kernel.get_function("faulty", "count").metadata

    assert metadata.description == "Count the items that match a query."
    [query] = metadata.parameters
    assert (query.name, query.type_, query.description, query.is_required) == (
        "query",
        "str",
        "What to count.",
        True,
    )
    assert metadata.return_parameter is not None
    assert (metadata.return_parameter.type_, metadata.return_parameter.description) == (
        "int",
        "How many items match.",
    )


async def test_a_hanging_call_stays_pending_until_cancelled_and_leaves_no_task() -> None:
    tool = hangs()
    kernel = _with(tool)

    call = asyncio.create_task(_outcome(kernel))
    await run_until(lambda: tool.calls == 1)
    done, _ = await asyncio.wait({call}, timeout=0)
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call

    assert done == set()
    assert asyncio.all_tasks() == {asyncio.current_task()}


async def test_a_virtual_timeout_ends_the_wait_for_a_hang_but_not_the_hang() -> None:
    clock = VirtualClock()
    kernel = _with(FaultyTool(Stall()))

    call = asyncio.create_task(_outcome(kernel))
    timeout = asyncio.create_task(clock.sleep(30))
    done, _ = await asyncio.wait({call, timeout}, return_when=asyncio.FIRST_COMPLETED)
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call

    assert done == {timeout}
    assert clock.now() == 30


def test_a_tool_needs_a_script() -> None:
    with pytest.raises(ValueError, match="at least one behaviour"):
        FaultyTool()


async def test_a_subclass_loads_from_a_plugin_directory(
    tmp_path: Path, scripted_config: Path
) -> None:
    directory = tmp_path / "plugins"
    directory.mkdir()
    (directory / "flaky.py").write_text(
        "from host.testing import Fail, FaultyTool, Return\n\n\n"
        "class FlakyCount(FaultyTool):\n"
        '    plugin_name = "flaky"\n\n'
        "    def __init__(self) -> None:\n"
        '        super().__init__(Fail(ConnectionError("down")), Return(3))\n',
        encoding="utf-8",
    )

    async with AgentHost(scripted_config, plugin_dirs=[directory]) as host:
        names = [info.name for info in host.catalogue]
        problems = host.problems

    assert "flaky.count" in names
    assert problems == []


async def test_the_fixture_s_tool_is_loaded_by_agent_host_and_scripted_by_the_test(
    agent_host: AgentHost, faulty_tool: FaultyToolScript
) -> None:
    """Kills: the ``faulty`` plugin not loaded, a call before the script answering
    something plausible, a new script not starting afresh."""
    with pytest.raises(FunctionFailedError, match=r"called before faulty_tool\(\.\.\.\) scripted"):
        await agent_host.invoke("faulty.count", query="apples")

    tool = faulty_tool(Return(5))
    record = await agent_host.invoke("faulty.count", query="apples")

    assert (record.output, tool.calls) == (5, 1)
