"""Routing by capability and cost: which model a step gets, its fallbacks, and why."""

from __future__ import annotations

from typing import Any

import pytest

from host.config.schema import ModelConfig
from host.errors import ConfigError
from host.resilience.breaker_board import BreakerBoard
from host.resilience.policies import BreakerPolicy
from host.routing import Route, Router

EVERYTHING = ["plan", "fetch", "extract", "classify", "write", "review"]

LOCAL: dict[str, Any] = {
    "provider": "local",
    "model": "qwen2.5-0.5b-instruct",
    "capabilities": EVERYTHING,
    "latency": "2s",
}
WRITER: dict[str, Any] = {
    "provider": "openai",
    "model": "gpt-4o-mini",
    "capabilities": ["plan", "extract", "classify", "write", "review"],
    "cost": {"input": 0.15, "output": 0.6},
    "latency": "1s",
}


def table(**rows: dict[str, Any]) -> dict[str, ModelConfig]:
    return {name: ModelConfig.model_validate(row) for name, row in rows.items()}


def open_breaker(board: BreakerBoard, target: str) -> None:
    board.failed(target, BreakerPolicy(failures=1), now=0.0)


@pytest.mark.parametrize("capability", EVERYTHING)
def test_embedded_model_alone_serves_every_capability(capability: str) -> None:
    route = Router(table(local=LOCAL)).choose(capability)

    assert route == Route(model="local", fallbacks=(), reason=route.reason)
    assert route.reason.startswith(f"{capability} → ")


@pytest.mark.parametrize(
    ("capability", "model", "fallbacks"),
    [
        ("write", "writer", ("local",)),
        ("review", "writer", ("local",)),
        ("fetch", "local", ()),
        ("extract", "local", ("writer",)),
        ("classify", "local", ("writer",)),
        ("plan", "local", ("writer",)),
    ],
)
def test_adding_a_hosted_model_moves_write_and_review_to_it(
    capability: str, model: str, fallbacks: tuple[str, ...]
) -> None:
    route = Router(table(local=LOCAL, writer=WRITER)).choose(capability)

    assert (route.model, route.fallbacks) == (model, fallbacks)


@pytest.mark.parametrize(
    ("capability", "rule", "chosen"),
    [
        ("write", "strongest capable", "writer (cost 0.75/1k, latency 1s)"),
        ("fetch", "cheapest capable", "local (cost 0/1k, latency 2s)"),
    ],
)
def test_reason_names_capability_rule_and_choice(capability: str, rule: str, chosen: str) -> None:
    route = Router(table(local=LOCAL, writer=WRITER)).choose(capability)

    assert route.reason.startswith(f"{capability} → {rule}: {chosen}")


def test_reason_names_models_skipped_for_lacking_the_capability() -> None:
    route = Router(table(local=LOCAL, writer=WRITER)).choose("fetch")

    assert "skipped writer: not capable of fetch" in route.reason


def test_open_breaker_moves_write_to_the_next_model_and_keeps_it_as_last_fallback() -> None:
    board = BreakerBoard()
    open_breaker(board, "writer")

    route = Router(table(local=LOCAL, writer=WRITER), board).choose("write")

    assert (route.model, route.fallbacks) == ("local", ("writer",))
    assert "skipped writer: breaker open" in route.reason


def test_half_open_breaker_does_not_skip_the_model() -> None:
    board = BreakerBoard()
    open_breaker(board, "writer")
    board.admit("writer", BreakerPolicy(failures=1, cooldown=0.0), now=1.0)
    assert board.state("writer") == "half_open"

    route = Router(table(local=LOCAL, writer=WRITER), board).choose("write")

    assert route.model == "writer"


def test_when_every_capable_breaker_is_open_the_preferred_model_is_still_chosen() -> None:
    board = BreakerBoard()
    open_breaker(board, "local")
    open_breaker(board, "writer")

    route = Router(table(local=LOCAL, writer=WRITER), board).choose("write")

    assert (route.model, route.fallbacks) == ("writer", ("local",))
    assert "every capable model has its breaker open" in route.reason


@pytest.mark.parametrize(
    ("rows", "capability", "model"),
    [
        pytest.param(
            {"a": {"cost": {"input": 1.0}}, "b": {"cost": {"input": 2.0}}},
            "fetch",
            "a",
            id="cheap: lower total cost wins",
        ),
        pytest.param(
            {"a": {"latency": "3s"}, "b": {"latency": "300ms"}},
            "fetch",
            "b",
            id="cheap: equal cost, lower latency wins",
        ),
        pytest.param(
            {"a": {}, "b": {"latency": "5s"}},
            "fetch",
            "b",
            id="cheap: unknown latency sorts last",
        ),
        pytest.param(
            {"b": {}, "a": {}},
            "fetch",
            "a",
            id="cheap: full tie goes to the name",
        ),
        pytest.param(
            {"a": {"cost": {"output": 0.5}, "latency": "1s"}, "b": {"cost": {"input": 0.5}}},
            "write",
            "a",
            id="strong: equal cost, lower latency wins",
        ),
        pytest.param(
            {"a": {"cost": {"input": 1.0}}, "b": {"cost": {"input": 2.0}}},
            "summarise",
            "a",
            id="unlisted capability uses the cheap rule",
        ),
    ],
)
def test_preference_order(rows: dict[str, dict[str, Any]], capability: str, model: str) -> None:
    models = table(
        **{name: {"provider": "scripted", "model": "m", **row} for name, row in rows.items()}
    )

    assert Router(models).choose(capability).model == model


def test_empty_capabilities_mean_capable_of_everything() -> None:
    models = table(any={"provider": "scripted", "model": "m"})

    assert Router(models).choose("translate").model == "any"


def test_capability_sets_are_constructor_parameters() -> None:
    router = Router(table(local=LOCAL, writer=WRITER), cheap={"write"}, strong={"classify"})

    assert (router.choose("write").model, router.choose("classify").model) == ("local", "writer")


def test_a_capability_in_both_sets_is_rejected() -> None:
    with pytest.raises(ConfigError, match=r"'write'.*both cheap and strong"):
        Router(table(local=LOCAL), cheap={"write"}, strong={"write"})


def test_no_capable_model_names_the_capability_and_lists_the_table() -> None:
    with pytest.raises(ConfigError) as caught:
        Router(table(local=LOCAL, writer=WRITER)).choose("translate")

    (problem,) = caught.value.problems
    assert "'translate'" in problem
    assert "local: plan, fetch, extract, classify, write, review" in problem
    assert "writer: plan, extract, classify, write, review" in problem


def test_no_models_at_all_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="no models are configured"):
        Router({}).choose("fetch")


def test_a_model_without_its_key_is_left_out_and_named() -> None:
    router = Router(table(local=LOCAL, writer=WRITER), unavailable={"writer": "KEY not set"})
    route = router.choose("write")
    assert (route.model, route.fallbacks) == ("local", ())
    assert "skipped writer: KEY not set" in route.reason


def test_when_only_keyless_models_can_do_it_the_error_names_the_key() -> None:
    router = Router(table(writer=WRITER), unavailable={"writer": "OPENAI_API_KEY not set"})
    with pytest.raises(
        ConfigError,
        match="no available model is capable of 'write' "
        r"\(writer: OPENAI_API_KEY not set\)",
    ):
        router.choose("write")
