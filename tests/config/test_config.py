"""Config: the seed's sample loads as written; each kind of bad config says what and where."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from host.config import load_config, parse_duration
from host.errors import ConfigError, MissingSecretError

ROOT = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "host.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_seed_sample_config_loads_verbatim() -> None:
    config = load_config(ROOT / "config" / "examples" / "seed.yaml").config
    assert config.models["classifier"].timeout == 5.0
    assert config.models["classifier"].retries == 2
    assert config.models["writer"].provider == "anthropic"
    assert config.models["writer"].fallback == ["openai/gpt-4"]
    weather = config.tools["weather_api"]
    assert (weather.endpoint, weather.timeout, weather.retries, weather.cache_ttl) == (
        "https://api.weather.com/v1",
        10.0,
        3,
        300.0,
    )


@pytest.mark.parametrize("path", ["config/host.yaml", "config/examples/openai.yaml"])
def test_shipped_configs_load(path: str) -> None:
    assert load_config(ROOT / path).config.models


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("5s", 5.0),
        ("15s", 15.0),
        ("300ms", 0.3),
        ("2m", 120.0),
        ("1h", 3600.0),
        (7, 7.0),
        ("2.5", 2.5),
        ("5 s", 5.0),
        (" 300 ms ", 0.3),
    ],
)
def test_durations(text: str | int, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


MODEL = "models:\n  writer:\n    provider: openai\n    model: gpt-4o\n"

BAD_CONFIGS = {
    "zero resume lease": (
        MODEL + "runs:\n  lease: 0s\n",
        ["runs.lease", "greater than 0"],
    ),
    "duplicate key": (
        MODEL + "    model: gpt-4o-mini\n",
        ["host.yaml:5: duplicate key 'model' (first at line 4)"],
    ),
    "validation without a check": (
        MODEL + "validation:\n  marketing.promo_copy:\n    on_fail: [retry]\n",
        ["host.yaml:6", "validation.marketing.promo_copy", "expected at least one check"],
    ),
    "unknown on_fail path": (
        MODEL + "validation:\n  a.b:\n    regex: x\n    on_fail: [pray]\n",
        ["host.yaml:8", "validation.a.b.on_fail.0", "'pray'"],
    ),
    "unknown planner": (
        MODEL + "planning:\n  planner: oracle\n",
        ["host.yaml:6", "planning.planner", "'oracle'"],
    ),
    "unknown key": (
        MODEL + "    temperature: 3\n",
        ["host.yaml:5", "models.writer.temperature: unknown key"],
    ),
    "wrong type": (
        MODEL + "    retries: many\n",
        ["host.yaml:5", "models.writer.retries", "'many'", "integer"],
    ),
    "bad duration": (
        MODEL + "    timeout: soon\n",
        ["host.yaml:5", "models.writer.timeout", "'soon'", "5s, 300ms, 2m"],
    ),
    "negative duration": (MODEL + "    timeout: -1s\n", ["models.writer.timeout", "'-1s'"]),
    "a hosted model's options": (
        MODEL + "    options: {temperature: 0.2}\n",
        ["host.yaml:5: models.writer.options: openai takes no options", "['temperature']"],
    ),
    "a misspelt local option": (
        "models:\n  small:\n    provider: local\n    model: m\n    options: {n_ctxx: 4096}\n",
        ["host.yaml:5: models.small.options.n_ctxx: unknown key"],
    ),
    "a bad local option": (
        "models:\n  small:\n    provider: local\n    model: m\n    options: {n_ctx: -1}\n",
        ["host.yaml:5: models.small.options.n_ctx: Input should be greater than 0"],
    ),
    "zero timeout": (
        MODEL + "    timeout: 0s\n",
        ["host.yaml:5: models.writer.timeout", "greater than 0 (got '0s')"],
    ),
    "zero deadline": (
        MODEL + "resilience:\n  deadline: 0\n",
        ["host.yaml:6: resilience.deadline", "greater than 0 (got 0)"],
    ),
    **{
        f"{value} duration": (
            MODEL + f"    timeout: {value}\n",
            ["host.yaml:5", "models.writer.timeout", "expected a finite duration"],
        )
        for value in (".inf", ".nan", "-.inf")
    },
    "infinite default duration": (
        MODEL + "resilience:\n  deadline: .inf\n",
        ["host.yaml:6", "resilience.deadline", "expected a finite duration"],
    ),
    "infinite cost": (
        MODEL + "    cost: {input: .inf}\n",
        ["host.yaml:5", "models.writer.cost.input", "finite number"],
    ),
    "infinite backoff multiplier": (
        MODEL + "resilience:\n  backoff_multiplier: .inf\n",
        ["host.yaml:6", "resilience.backoff_multiplier", "finite number"],
    ),
    "retry_on unknown error class": (
        MODEL + "    retry_on: [ProviderError, TimeoutErorr]\n",
        ["host.yaml:5", "models.writer.retry_on", "unknown error class 'TimeoutErorr'"],
    ),
    "model falls back to itself": (
        MODEL + "    fallback: writer\n",
        ["host.yaml:5", "models.writer.fallback: fallback cycle writer -> writer"],
    ),
    "model fallback cycle": (
        MODEL + "    fallback: [openai/gpt-4, backup]\n"
        "  backup:\n    provider: openai\n    model: gpt-4o-mini\n    fallback: writer\n",
        ["host.yaml:5", "models.writer.fallback: fallback cycle writer -> backup -> writer"],
    ),
    "tool fallback cycle through a plugin's policy": (
        MODEL + "tools:\n  weather.daily_temperatures:\n    fallback: clock.today\n"
        "  clock:\n    fallback: [{value: 0}, weather.daily_temperatures]\n",
        [
            "host.yaml:7",
            "tools.weather.daily_temperatures.fallback: fallback cycle "
            "weather.daily_temperatures -> clock -> weather.daily_temperatures",
        ],
    ),
    "tool falls back to itself through its plugin": (
        MODEL + "tools:\n  clock:\n    fallback: clock.today\n",
        ["host.yaml:7", "tools.clock.fallback: fallback cycle clock -> clock"],
    ),
    "tool fallback not plugin.function": (
        MODEL + "tools:\n  clock:\n    fallback: today\n",
        ["host.yaml:7", "tools.clock.fallback", "'today' is not plugin.function"],
    ),
    "unknown provider": (
        "models:\n  writer:\n    provider: openia\n    model: x\n",
        ["host.yaml:3", "models.writer.provider", "'openia'", "'openai'"],
    ),
    "missing model id": (
        "models:\n  writer:\n    provider: openai\n",
        ["models.writer.model: required key is missing"],
    ),
    "fallback not in table": (
        MODEL + "    fallback: backup\n",
        ["models.writer.fallback", "'backup'", "provider/model"],
    ),
    "fallback unknown provider": (
        MODEL + "    fallback: acme/big\n",
        ["models.writer.fallback", "'acme'"],
    ),
    "no models": ("tools: {}\n", ["models: expected at least one model"]),
    "default model not in table": (
        "default_model: nope\n" + MODEL,
        ["host.yaml:1", "default_model", "'nope'", "['writer']"],
    ),
    "unknown tool key": (
        MODEL + "tools:\n  weather:\n    cache: 300\n",
        ["host.yaml:7", "tools.weather.cache: unknown key"],
    ),
    "YAML syntax error": (MODEL + "  bad: [unclosed\n", ["host.yaml:6", "YAML syntax error"]),
    "not a mapping": ("- just\n- a list\n", ["expected a mapping at the top level, got a list"]),
    "unset variable": (
        "models:\n  w:\n    provider: openai\n    model: ${NO_SUCH_VARIABLE_XYZ}\n",
        ["host.yaml:4: models.w.model", "${NO_SUCH_VARIABLE_XYZ} is not set"],
    ),
    "unset variable in a list": (
        MODEL + "    options:\n      replies: [ok, '${NO_SUCH_VARIABLE_XYZ}']\n",
        ["host.yaml:6: models.writer.options.replies.1", "${NO_SUCH_VARIABLE_XYZ} is not set"],
    ),
    **{
        f"base_url {url}": (
            MODEL + f"    base_url: '{url}'\n",
            ["host.yaml:5", "models.writer.base_url", f"(got '{url}')"],
        )
        for url in ("localhost:11434/v1", "ftp://127.0.0.1/v1", "http://", "")
    },
    "azure_openai without base_url": (
        "models:\n  writer:\n    provider: azure_openai\n    model: deployment\n",
        ["host.yaml:3", "models.writer.provider: azure_openai needs base_url"],
    ),
    "azure_openai provider/model fallback": (
        MODEL + "    fallback: azure_openai/deployment\n",
        ["host.yaml:5", "models.writer.fallback", "no resource endpoint"],
    ),
    "fallback provider without a model": (
        MODEL + "    fallback: [openai/gpt-4, 'openai/ ']\n",
        ["host.yaml:5", "models.writer.fallback: no model after the / in 'openai/ '"],
    ),
    "telemetry unknown exporter": (
        MODEL + "telemetry:\n  exporter: zipkin\n",
        ["host.yaml:6", "telemetry.exporter", "'jsonl'", "(got 'zipkin')"],
    ),
    "telemetry jsonl without a file": (
        MODEL + "telemetry:\n  exporter: jsonl\n",
        ["telemetry.file: required with exporter: jsonl"],
    ),
    "telemetry file without jsonl": (
        MODEL + "telemetry:\n  exporter: console\n  file: spans.jsonl\n",
        ["host.yaml:7", "telemetry.file: only used by exporter: jsonl"],
    ),
    "telemetry endpoint without otlp": (
        MODEL + "telemetry:\n  exporter: console\n  endpoint: http://127.0.0.1:4318\n",
        ["host.yaml:7", "telemetry.endpoint: only used by exporter: otlp"],
    ),
    "telemetry endpoint not a URL": (
        MODEL + "telemetry:\n  endpoint: collector:4317\n",
        ["host.yaml:6", "telemetry.endpoint", "http:// or https://", "'collector:4317'"],
    ),
    "telemetry unknown protocol": (
        MODEL + "telemetry:\n  protocol: http/json\n",
        ["host.yaml:6", "telemetry.protocol", "'grpc'", "(got 'http/json')"],
    ),
    "telemetry headers in config": (
        MODEL + "telemetry:\n  headers: {authorization: Bearer x}\n",
        ["host.yaml:6", "telemetry.headers: unknown key"],
    ),
    "telemetry empty service name": (
        MODEL + "telemetry:\n  service_name: ''\n",
        ["host.yaml:6", "telemetry.service_name"],
    ),
}


@pytest.mark.parametrize(
    ("telemetry", "enabled"),
    [
        ("", True),
        ("telemetry:\n  enabled: false\n", False),
        ("telemetry: {enabled: false, exporter: none}\n", False),
    ],
)
def test_telemetry_absent_or_disabled_is_valid(
    tmp_path: Path, telemetry: str, enabled: bool
) -> None:
    assert load_config(write(tmp_path, MODEL + telemetry)).config.telemetry.enabled is enabled


@pytest.mark.parametrize(
    "telemetry",
    [
        "exporter: jsonl\n  file: traces/spans.jsonl\n  capture_content: true\n",
        "exporter: otlp\n  protocol: grpc\n  endpoint: http://127.0.0.1:4317\n",
        "endpoint: https://collector.example:4318\n  service_name: shop\n",
    ],
)
def test_telemetry_settings_load(tmp_path: Path, telemetry: str) -> None:
    assert load_config(write(tmp_path, MODEL + "telemetry:\n  " + telemetry)).config.telemetry


@pytest.mark.reliability
@pytest.mark.parametrize("case", list(BAD_CONFIGS), ids=list(BAD_CONFIGS))
def test_bad_config_names_file_key_value_and_expectation(tmp_path: Path, case: str) -> None:
    text, fragments = BAD_CONFIGS[case]
    with pytest.raises(ConfigError) as raised:
        load_config(write(tmp_path, text))
    message = str(raised.value)
    assert str(tmp_path / "host.yaml") in message
    for fragment in fragments:
        assert fragment in message
    assert "pydantic" not in message and "Traceback" not in message


def test_every_problem_is_reported_once(tmp_path: Path) -> None:
    text = MODEL + "    retries: many\n    timeout: soon\n    colour: red\n"
    with pytest.raises(ConfigError) as raised:
        load_config(write(tmp_path, text))
    assert len(raised.value.problems) == 3


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "absent.yaml")


def test_interpolation_reads_env_then_dotenv_then_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("WRITER_MODEL=from-dotenv\nWRITER_RETRIES=4\n")
    monkeypatch.setenv("WRITER_URL", "http://127.0.0.1:9/v1")
    path = write(
        tmp_path,
        "models:\n  w:\n    provider: openai\n    model: ${WRITER_MODEL}\n"
        "    base_url: ${WRITER_URL}\n    retries: ${WRITER_RETRIES}\n"
        "    timeout: ${WRITER_TIMEOUT:-15s}\n",
    )
    model = load_config(path, dotenv=dotenv).config.models["w"]
    assert (model.model, model.base_url, model.retries, model.timeout) == (
        "from-dotenv",
        "http://127.0.0.1:9/v1",
        4,
        15.0,
    )


def test_a_variable_with_leading_zeros_stays_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # YAML 1.1 reads 0123 as the octal number 83.
    monkeypatch.setenv("AGENT_HOST_TEST_PIN", "0123")
    monkeypatch.setenv("AGENT_HOST_TEST_RETRIES", "02")
    path = write(
        tmp_path,
        "models:\n  writer:\n    provider: scripted\n    model: s\n"
        "    retries: ${AGENT_HOST_TEST_RETRIES}\n"
        "    options: {replies: ['${AGENT_HOST_TEST_PIN}']}\n",
    )
    model = load_config(path, dotenv=tmp_path / "none.env").config.models["writer"]
    assert (model.options, model.retries) == ({"replies": ["0123"]}, 2)


def test_missing_secret_is_an_error_only_when_the_model_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    loaded = load_config(write(tmp_path, MODEL), dotenv=tmp_path / "none.env")
    with pytest.raises(MissingSecretError) as raised:
        loaded.secret("writer")
    assert raised.value.variable == "OPENAI_API_KEY"
    assert "'writer'" in str(raised.value) and "OPENAI_API_KEY" in str(raised.value)


def test_secret_comes_from_dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    (tmp_path / ".env").write_text("OPENAI_API_KEY=sk-test\n")
    loaded = load_config(write(tmp_path, MODEL), dotenv=tmp_path / ".env")
    assert loaded.secret("writer") == "sk-test"


def test_env_example_lists_every_variable_the_shipped_configs_use() -> None:
    listed = {
        line.split("=", 1)[0]
        for line in (ROOT / ".env.example").read_text().splitlines()
        if "=" in line and not line.startswith("#")
    }
    used: set[str] = set()
    for path in [*ROOT.glob("config/*.yaml"), *ROOT.glob("config/examples/*.yaml")]:
        text = "\n".join(line.split("#", 1)[0] for line in path.read_text().splitlines())
        used |= set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)", text))
        used |= set(re.findall(r"api_key_env: *([A-Z_][A-Z0-9_]*)", text))
    assert used <= listed, f"missing from .env.example: {sorted(used - listed)}"


def test_every_reference_that_does_not_resolve_is_a_line_at_its_key(tmp_path: Path) -> None:
    """Kills: the whole-config checks stopping at the first problem they meet."""
    path = write(
        tmp_path,
        "default_model: nobody\n"
        + MODEL
        + "    fallback: [ghost, openai/]\n"
        + "    options: {temperature: 0.2}\n"
        + "agents:\n  critic:\n    instructions: Review.\n    model: phantom\n",
    )
    with pytest.raises(ConfigError) as raised:
        load_config(path, dotenv=tmp_path / "none.env")
    assert raised.value.problems == [
        f"{path}:11: agents.critic.model: 'phantom' is not in models (expected one of ['writer'])",
        f"{path}:1: default_model: 'nobody' is not in models (expected one of ['writer'])",
        f"{path}:7: models.writer.options: openai takes no options (sampling settings go in a "
        "prompt function's execution_settings; got ['temperature'])",
        f"{path}:6: models.writer.fallback: 'ghost' is neither a model in the table nor "
        "provider/model (e.g. openai/gpt-4)",
        f"{path}:6: models.writer.fallback: no model after the / in 'openai/'",
    ]


def test_a_misspelt_key_names_the_key_it_may_have_meant(tmp_path: Path) -> None:
    """Kills: ``unknown key`` alone, leaving the reader to find the right spelling."""
    path = write(
        tmp_path,
        MODEL
        + "    timout: 5s\n    flavour: mint\ntools:\n  weather: {cache: 300}\n"
        + "agents:\n  critic:\n    instructons: Review.\n",
    )
    with pytest.raises(ConfigError) as raised:
        load_config(path, dotenv=tmp_path / "none.env")
    assert sorted(raised.value.problems) == sorted(
        [
            f"{path}:5: models.writer.timout: unknown key (did you mean 'timeout'?)",
            f"{path}:6: models.writer.flavour: unknown key",  # nothing close
            f"{path}:8: tools.weather.cache: unknown key (did you mean 'cache_ttl'?)",
            f"{path}:11: agents.critic.instructons: unknown key (did you mean 'instructions'?)",
        ]
    )
