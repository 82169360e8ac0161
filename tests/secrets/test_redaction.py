"""Once registered, a secret is masked at every edge: errors, records, log records."""

from __future__ import annotations

import ast
import dataclasses
import json
import logging
from collections.abc import Callable
from pathlib import Path

import pytest
from secrets_kit import new_secret

from host.config import load_config
from host.errors import (
    AgentHostError,
    CannotPlanError,
    ConfigError,
    FunctionFailedError,
    InvalidArgumentsError,
    describe_error,
    quoted,
)
from host.redaction import redact, register
from host.state import CallEvent, StepRecord

pytestmark = pytest.mark.reliability


@pytest.fixture
def secret() -> str:
    value = new_secret()
    register([value])
    return value


@pytest.mark.parametrize(
    ("value", "masked"),
    [("s3cr3t-8", True), ("short-7", False), ("", False)],
    ids=["8 characters", "7 characters", "empty"],
)
def test_only_values_of_eight_characters_or_more_are_secrets(value: str, masked: bool) -> None:
    register([value])
    assert (redact(f"a {value} b") == "a *** b") is masked


@pytest.mark.parametrize(
    ("form", "read"),
    [
        (lambda data: json.dumps(data), json.loads),
        (lambda data: json.dumps(data, ensure_ascii=False), json.loads),
        (repr, ast.literal_eval),
    ],
    ids=["json", "json unicode", "repr"],
)
def test_a_secret_is_masked_where_quoting_escapes_it(
    form: Callable[[object], str], read: Callable[[str], object]
) -> None:
    secret = f'{new_secret()}-it\'s "quoted" \\ü'
    register([secret])
    assert read(redact(form({"key": secret}))) == {"key": "***"}


@pytest.mark.parametrize(
    "make",
    [
        lambda s: AgentHostError(f"the key is {s}"),
        lambda s: CannotPlanError(f"no plan for {s}"),
        lambda s: ConfigError(["fine", f"bad value {s!r}"]),
        lambda s: FunctionFailedError("p.f", f"ValueError: {s}"),
        lambda s: InvalidArgumentsError("p.f", [f"argument 'x': expected int, got {s!r}"]),
    ],
    ids=["base", "cannot plan", "config", "function failed", "invalid arguments"],
)
def test_an_error_made_after_registering_never_shows_the_secret(
    secret: str, make: Callable[[str], AgentHostError]
) -> None:
    error = make(secret)
    assert secret not in str(error) and "***" in str(error)


def test_describe_error_masks_any_exception(secret: str) -> None:
    assert describe_error(ValueError(f"token {secret} refused")) == "ValueError: token *** refused"


def test_records_mask_their_error_text_however_they_are_built(secret: str) -> None:
    event = CallEvent("validation", "p.f", "failed", error=f"{secret!r} is not of type 'integer'")
    record = StepRecord.without_call("s1", "p.f", {}, status="failed", error=f"echo {secret}")
    replaced = dataclasses.replace(record, error=f"again {secret}", events=(event,))
    assert (event.error, record.error) == ("'***' is not of type 'integer'", "echo ***")
    assert secret not in json.dumps(replaced.to_dict(), default=str)


def test_log_records_of_any_logger_are_masked_with_their_tracebacks(
    secret: str, caplog: pytest.LogCaptureFixture
) -> None:
    logger = logging.getLogger("some_library.deep.module")
    try:
        raise RuntimeError(f"server said {secret}")
    except RuntimeError:
        logger.exception("call failed with %s", secret)
    (record,) = caplog.records
    assert record.getMessage() == "call failed with ***"
    assert secret not in caplog.text and "RuntimeError: server said ***" in caplog.text


def test_quoted_masks_a_secret_before_cutting_the_quote(secret: str) -> None:
    text = quoted("x" * 180 + secret)
    assert secret[:12] not in text and "***" in text


def test_a_bad_config_value_read_from_a_key_variable_is_not_shown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = new_secret()
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    config = tmp_path / "host.yaml"
    config.write_text(
        "models:\n  m:\n    provider: scripted\n    model: s\n    timeout: ${OPENAI_API_KEY}\n"
    )

    with pytest.raises(ConfigError) as raised:
        load_config(config)

    assert "models.m.timeout" in str(raised.value)
    assert secret not in str(raised.value)
