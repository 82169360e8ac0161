"""Read ``host.yaml``: parse, interpolate, validate, and report every problem in one error."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from host.config.environment import interpolate, read_environment
from host.config.schema import HostConfig, ModelConfig
from host.errors import ConfigError, MissingSecretError


class LoadedConfig:
    """A validated config with where it came from and the environment it was read with."""

    def __init__(
        self,
        config: HostConfig,
        path: Path | None,
        environment: Mapping[str, str],
        text: str | None = None,
    ):
        self.config = config
        self.path = path
        self.environment = dict(environment)
        self.text = text
        """The file's text, for placing problems found after validation."""

    def locate(self, key: str) -> str:
        """``file:line: key`` for a problem at ``key`` (a dotted path), as validation names them."""
        if self.path is None:
            return key
        lines = key_lines(self.text) if self.text is not None else {}
        return f"{where(str(self.path), lines, key)}: {key}"

    @property
    def base_dir(self) -> Path:
        """Relative plugin and prompt directories resolve against the config file's folder."""
        return self.path.parent if self.path is not None else Path.cwd()

    def resolve(self, directory: str) -> Path:
        """An absolute path for a directory named in config."""
        candidate = Path(directory).expanduser()
        return candidate if candidate.is_absolute() else (self.base_dir / candidate).resolve()

    def unavailable_models(self) -> dict[str, str]:
        """Models routing leaves out, with why: their key variable is not set, or they
        are ``local`` and a probe found that this llama.cpp build crashes running them."""
        from host.models.llama_models import recorded_failure

        missing = {}
        for name, row in self.config.models.items():
            variable = row.secret_variable
            if variable is not None and not self.environment.get(variable):
                missing[name] = f"{variable} not set"
            elif row.provider == "local" and (
                failure := recorded_failure(row.options.get("model_path"))
            ):
                missing[name] = failure
        return missing

    def secret(self, model_name: str, row: ModelConfig | None = None) -> str | None:
        """The key of a model, or ``None`` when its provider needs none.

        ``row`` describes a model outside the table (a ``provider/model``
        fallback). Raises :class:`MissingSecretError` only now, when it is used.
        """
        variable = (row or self.config.models[model_name]).secret_variable
        if variable is None:
            return None
        value = self.environment.get(variable, "")
        if not value:
            raise MissingSecretError(variable, model_name)
        return value


def load_config(path: str | Path, *, dotenv: str | Path | None = None) -> LoadedConfig:
    """Load and validate a config file.

    ``.env`` is read from ``dotenv`` if given, else from the current directory.
    Raises :class:`ConfigError` with one line per problem, each naming the file,
    the key path, the value found and what was expected.
    """
    file = Path(path)
    raw, text = read_yaml_mapping(file)
    environment = read_environment(Path(dotenv) if dotenv is not None else Path(".env"))
    config = parse_config(raw, environment, source=str(file), text=text)
    return LoadedConfig(config, file, environment, text)


def parse_config(
    raw: dict[str, Any], environment: Mapping[str, str], *, source: str, text: str | None = None
) -> HostConfig:
    """Validate an already-parsed mapping (``source`` names it in messages)."""
    problems: list[str] = []
    data = interpolate(raw, environment, "", problems)
    if problems:
        raise ConfigError([f"{source}: {problem}" for problem in problems])
    try:
        return HostConfig.model_validate(data)
    except ValidationError as error:
        raise ConfigError(validation_problems(error, source, text)) from None


def read_yaml_mapping(
    file: Path, *, kind: str = "config", error: type[ConfigError] = ConfigError
) -> tuple[dict[str, Any], str]:
    """The top-level mapping of a YAML ``kind`` file (empty when blank) and its text.

    Raises ``error`` naming the file, and the line of a syntax error.
    """
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error([f"{file}: {kind} file not found"]) from None
    except OSError as problem:
        raise error([f"{file}: cannot read {kind} file ({problem.strerror})"]) from None
    try:
        raw = yaml.load(text, Loader=_UniqueKeyLoader)  # safe: a SafeLoader subclass
    except _DuplicateKeyError as problem:
        raise error([f"{file}:{problem.line}: {problem}"]) from None
    except yaml.YAMLError as problem:
        mark = getattr(problem, "problem_mark", None)
        where = f"{file}:{mark.line + 1}" if mark is not None else str(file)
        reason = getattr(problem, "problem", None) or str(problem)
        raise error([f"{where}: YAML syntax error: {reason}"]) from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise error([f"{file}: expected a mapping at the top level, got {_kind(raw)}"])
    return raw, text


class _DuplicateKeyError(yaml.YAMLError):
    """A mapping names the same key twice; YAML would silently keep only the last."""

    def __init__(self, key: object, line: int, first: int) -> None:
        self.line = line
        super().__init__(f"duplicate key {key!r} (first at line {first})")


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, except that a key repeated in one mapping is an error."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[object, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, Hashable):
                continue  # the base constructor reports unhashable keys
            line = key_node.start_mark.line + 1
            if key in seen:
                raise _DuplicateKeyError(key, line, seen[key])
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


def validation_problems(error: ValidationError, source: str, text: str | None) -> list[str]:
    """One ``source:line: key.path: problem (got value)`` line per item of ``error``."""
    lines = key_lines(text) if text is not None else {}
    return [_describe(item, source, lines) for item in error.errors()]


def _describe(item: Any, source: str, lines: dict[str, int]) -> str:
    path = ".".join(str(part) for part in item["loc"])
    message = str(item["msg"]).removeprefix("Value error, ")
    if not path:
        key = message.split(":", 1)[0]
        return f"{where(source, lines, key)}: {message}"
    if item["type"] == "extra_forbidden":
        return f"{where(source, lines, path)}: {path}: unknown key"
    if item["type"] == "missing":
        return f"{where(source, lines, path.rsplit('.', 1)[0])}: {path}: required key is missing"
    return f"{where(source, lines, path)}: {path}: {message} (got {item['input']!r})"


def where(source: str, lines: dict[str, int], path: str) -> str:
    """``source:line`` for a key path found in ``lines``, else just ``source``."""
    line = lines.get(path)
    return f"{source}:{line}" if line is not None else source


def key_lines(text: str) -> dict[str, int]:
    """Map each key path (``models.writer.timeout``) to its 1-based line in the YAML text."""
    lines: dict[str, int] = {}

    def walk(node: yaml.Node, path: str) -> None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                child = f"{path}.{key.value}" if path else str(key.value)
                lines[child] = key.start_mark.line + 1
                walk(value, child)
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                child = f"{path}.{index}"
                lines[child] = item.start_mark.line + 1
                walk(item, child)

    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if root is not None:
        walk(root, "")
    return lines


def _kind(value: object) -> str:
    return {list: "a list", str: "a string", int: "a number", float: "a number"}.get(
        type(value), type(value).__name__
    )
