"""VirtualClock: sleeps take no real time but keep the order real time would give."""

import asyncio
import hashlib
from collections.abc import Awaitable

import aiohttp
import pytest
from openai import AsyncOpenAI
from openai.types.chat import ChatCompletionMessageParam

from host.testing import OpenAICompatibleServer, VirtualClock

HELLO: list[ChatCompletionMessageParam] = [{"role": "user", "content": "hi"}]


async def _wake_after(
    clock: VirtualClock, seconds: float, woken: list[tuple[float, float]]
) -> None:
    await clock.sleep(seconds)
    woken.append((seconds, clock.now()))


async def test_sleeps_wake_in_virtual_order_and_time_ends_at_the_longest() -> None:
    clock = VirtualClock()
    woken: list[tuple[float, float]] = []

    await asyncio.gather(*(_wake_after(clock, s, woken) for s in (3, 1, 2)))

    assert woken == [(1, 1.0), (2, 2.0), (3, 3.0)]
    assert clock.now() == 3.0


async def test_sleeps_count_from_the_virtual_time_they_start_at() -> None:
    clock = VirtualClock(start=100.0)

    await clock.sleep(5)
    await clock.sleep(2.5)

    assert clock.now() == 107.5


async def test_wait_sees_the_shorter_sleep_finish_first() -> None:
    clock = VirtualClock()
    short = asyncio.create_task(clock.sleep(5))
    long = asyncio.create_task(clock.sleep(10))

    done, pending = await asyncio.wait({short, long}, return_when=asyncio.FIRST_COMPLETED)

    assert (done, pending) == ({short}, {long})
    assert clock.now() == 5.0
    await long
    assert clock.now() == 10.0


async def test_a_sleep_cancelled_before_it_is_due_wakes_nobody_early() -> None:
    clock = VirtualClock()
    woken: list[tuple[float, float]] = []
    cancelled = asyncio.create_task(_wake_after(clock, 5, woken))
    later = asyncio.create_task(_wake_after(clock, 10, woken))
    await asyncio.sleep(0)

    cancelled.cancel()
    await later

    assert woken == [(10, 10.0)]
    assert cancelled.cancelled()


async def test_a_sleep_cancelled_while_time_runs_leaves_the_clock_working() -> None:
    clock = VirtualClock()
    woken: list[tuple[float, float]] = []
    victim = asyncio.create_task(_wake_after(clock, 5, woken))

    async def cancel_victim_at_2() -> None:
        await clock.sleep(2)
        victim.cancel()

    await asyncio.gather(cancel_victim_at_2(), _wake_after(clock, 8, woken))
    await _wake_after(clock, 1, woken)

    assert victim.cancelled()
    assert woken == [(8, 8.0), (1, 9.0)]


async def test_when_every_sleep_is_cancelled_the_clock_stands_still() -> None:
    clock = VirtualClock()
    sleeps = [asyncio.create_task(clock.sleep(s)) for s in (1, 2)]
    await asyncio.sleep(0)

    for sleep in sleeps:
        sleep.cancel()
    await asyncio.gather(*sleeps, return_exceptions=True)
    await clock.sleep(0.5)

    assert clock.now() == 0.5


async def test_advance_wakes_the_timers_that_fall_due_and_no_others() -> None:
    clock = VirtualClock()
    soon = asyncio.create_task(clock.sleep(1))
    late = asyncio.create_task(clock.sleep(5))
    await asyncio.sleep(0)

    clock.advance(3)
    await asyncio.sleep(0)

    assert clock.now() == 3.0
    assert soon.done()
    assert not late.done()
    await late
    assert clock.now() == 5.0


def test_advance_moves_time_without_an_event_loop() -> None:
    clock = VirtualClock(start=10.0)

    clock.advance(2.5)

    assert clock.now() == 12.5


async def test_slept_records_every_requested_wait_in_order() -> None:
    clock = VirtualClock()

    for seconds in (0.5, 2, 0, -1):
        await clock.sleep(seconds)

    assert clock.slept == [0.5, 2, 0, -1]
    assert clock.now() == 2.5


async def test_virtual_time_does_not_pass_while_another_task_can_run() -> None:
    clock = VirtualClock()
    seen: list[float] = []

    async def busy() -> None:
        for _ in range(200):
            await asyncio.sleep(0)
        seen.append(clock.now())

    await asyncio.gather(busy(), clock.sleep(1))

    assert seen == [0.0]


async def test_a_timeout_cancels_its_block_when_virtual_time_runs_out() -> None:
    clock = VirtualClock()
    scope = clock.timeout(5)

    with pytest.raises(TimeoutError), scope:
        await clock.sleep(10)

    assert scope.expired()
    assert clock.now() == 5.0


async def test_a_timeout_whose_block_finishes_in_time_never_fires() -> None:
    clock = VirtualClock()

    with clock.timeout(5) as scope:
        await clock.sleep(1)
    await clock.sleep(10)

    assert not scope.expired()
    assert clock.now() == 11.0


async def test_a_timeout_error_raised_inside_the_block_is_not_the_scopes() -> None:
    clock = VirtualClock()
    scope = clock.timeout(5)

    with pytest.raises(TimeoutError, match="the block's own"), scope:
        raise TimeoutError("the block's own")

    assert not scope.expired()


async def _post_with_aiohttp(base_url: str) -> str:
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{base_url}/chat/completions", json={"model": "m"}) as response,
    ):
        body = await response.json()
    return str(body["choices"][0]["message"]["content"])


async def _race(clock: VirtualClock, work: Awaitable[object]) -> bool:
    """Whether ``work`` finishes (without error) before a concurrent ``clock.sleep(5)``."""
    working = asyncio.ensure_future(work)
    timer = asyncio.create_task(clock.sleep(5))
    done, _ = await asyncio.wait({working, timer}, return_when=asyncio.FIRST_COMPLETED)
    await timer
    await working
    return working in done


async def test_loopback_http_is_not_overtaken_by_a_racing_virtual_sleep() -> None:
    clock = VirtualClock()
    async with OpenAICompatibleServer() as server:
        won = [await _race(clock, _post_with_aiohttp(server.base_url)) for _ in range(20)]

    assert all(won), f"the virtual sleep won races {[i for i, w in enumerate(won) if not w]}"


async def test_an_openai_client_request_is_not_overtaken_by_a_racing_virtual_sleep() -> None:
    clock = VirtualClock()
    async with (
        OpenAICompatibleServer() as server,
        AsyncOpenAI(base_url=server.base_url, api_key="t", max_retries=0) as client,
    ):

        async def ask() -> str:
            completion = await client.chat.completions.create(model="m", messages=HELLO)
            return str(completion.choices[0].message.content)

        won = [await _race(clock, ask()) for _ in range(20)]

    assert all(won), f"the virtual sleep won races {[i for i, w in enumerate(won) if not w]}"


async def test_work_in_a_thread_is_not_overtaken_by_a_racing_virtual_sleep() -> None:
    clock = VirtualClock()
    data = bytes(16 * 2**20)  # hashing it takes milliseconds; 20 quiet rounds take microseconds

    assert await _race(clock, asyncio.to_thread(lambda: hashlib.sha256(data).digest()))


async def test_two_clocks_on_one_loop_both_keep_time() -> None:
    first, second = VirtualClock(), VirtualClock()

    async with asyncio.timeout(0.25):  # real time, spent only if the clocks livelock
        await first.sleep(1)
        await second.sleep(2)

    assert (first.now(), second.now()) == (1.0, 2.0)
