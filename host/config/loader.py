"""Read ``host.yaml``: parse, interpolate, validate, and report every problem in one error."""

from __future__ import annotations

import codecs
import os
import stat
from collections.abc import Collection, Hashable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from host.config.environment import interpolate, read_environment
from host.config.schema import HostConfig, ModelConfig
from host.errors import ConfigError, MissingSecretError, quoted

MAX_FILE_BYTES = 1024 * 1024
"""The largest config, workflow or ``.env`` file read (1 MiB); a larger one is refused unread."""

MAX_YAML_NODES = 1_000_000
"""How many nodes a YAML file may expand to, an alias counting as a copy of what it names.

No file within :data:`MAX_FILE_BYTES` holds this many without aliases: only an
alias bomb reaches it.
"""


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
        return key if self.path is None else f"{self.position(key)}: {key}"

    def position(self, key: str) -> str:
        """``file:line`` of ``key`` (a dotted path); ``config`` for a config not read from
        a file."""
        if self.path is None:
            return "config"
        lines = key_lines(self.text) if self.text is not None else {}
        return where(str(self.path), lines, key)

    def check_tool_fallbacks(self, functions: Collection[str]) -> None:
        """Raise :class:`ConfigError` for each ``tools`` fallback naming no function in
        ``functions`` (the loaded ones: known only once plugins are loaded)."""
        problems = []
        for name, tool in self.config.tools.items():
            for target in tool.fallback:
                if isinstance(target, str) and target not in functions:
                    where = self.locate(f"tools.{name}.fallback")
                    problems.append(f"{where}: {target!r} is not a loaded function")
        if problems:
            raise ConfigError(problems)

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
    dotenv_file = Path(dotenv) if dotenv is not None else Path(".env")
    environment = read_environment(
        read_text(dotenv_file, kind=".env") if dotenv_file.exists() else None,
        source=str(dotenv_file),
    )
    config = parse_config(raw, environment, source=str(file), text=text)
    return LoadedConfig(config, file, environment, text)


def parse_config(
    raw: dict[str, Any], environment: Mapping[str, str], *, source: str, text: str | None = None
) -> HostConfig:
    """Validate an already-parsed mapping (``source`` names it in messages).

    Top-level keys starting with ``x-`` are extension fields (docker-compose's
    convention), a place for anchors other keys merge: they are left unread.
    """
    from host.redaction import environment_secrets, register

    raw = {k: v for k, v in raw.items() if not (isinstance(k, str) and k.startswith("x-"))}
    models = raw.get("models")
    rows = models.values() if isinstance(models, dict) else ()
    named = [row.get("api_key_env") for row in rows if isinstance(row, dict)]
    register(environment_secrets([n for n in named if isinstance(n, str)], dict(environment)))
    problems: list[str] = []
    data = interpolate(raw, environment, "", problems)
    if problems:
        lines = key_lines(text) if text is not None else {}
        raise ConfigError([_placed(problem, source, lines) for problem in problems])
    try:
        return HostConfig.model_validate(data)
    except ValidationError as error:
        raise ConfigError(validation_problems(error, source, text, HostConfig)) from None


def read_yaml_mapping(
    file: Path, *, kind: str = "config", error: type[ConfigError] = ConfigError
) -> tuple[dict[str, Any], str]:
    """The top-level mapping of a YAML ``kind`` file (empty when blank) and its text.

    Raises ``error`` naming the file, and the line of a syntax error.
    """
    text = read_text(file, kind=kind, error=error)
    try:
        raw = yaml.load(text, Loader=_UniqueKeyLoader)  # safe: a SafeLoader subclass
    except _LocatedError as problem:
        raise error([f"{file}:{problem.line}: {problem}"]) from None
    except RecursionError:
        raise error([f"{file}: YAML nested too deeply"]) from None
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


_Model = TypeVar("_Model", bound=BaseModel)


def read_model_file(
    file: Path, model: type[_Model], *, kind: str, error: type[ConfigError]
) -> tuple[_Model, str]:
    """The YAML ``kind`` file at ``file`` as a ``model``, and its text.

    Raises ``error`` with one ``file:line: key.path: problem`` line per problem;
    unknown keys are problems.
    """
    raw, text = read_yaml_mapping(file, kind=kind, error=error)
    try:
        return model.model_validate(raw), text
    except ValidationError as problem:
        raise error(validation_problems(problem, str(file), text)) from None


def read_text(file: Path, *, kind: str, error: type[ConfigError] = ConfigError) -> str:
    """The text of ``file``, a regular UTF-8 file of at most :data:`MAX_FILE_BYTES`.

    Raises ``error`` naming the file (and the line and byte offset of a byte that
    is not UTF-8), never quoting it: a FIFO, device or directory is refused
    without blocking, a larger file without reading past the bound.
    """
    try:
        # Non-blocking, so that opening a FIFO returns at once and fstat can refuse it.
        descriptor = os.open(file, os.O_RDONLY | os.O_NONBLOCK)
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            os.close(descriptor)
            raise error([f"{file}: {kind} file is not a regular file"])
        with os.fdopen(descriptor, "rb") as stream:
            data = stream.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise error([f"{file}: {kind} file not found"]) from None
    except OSError as problem:
        raise error([f"{file}: cannot read {kind} file ({problem.strerror})"]) from None
    if len(data) > MAX_FILE_BYTES:
        raise error([f"{file}: {kind} file is larger than {MAX_FILE_BYTES >> 20} MiB"])
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise error([f"{file}: {kind} file is UTF-16; save it as UTF-8"])
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as problem:
        offset = problem.start
    else:
        offset = data.find(b"\0")  # valid UTF-8, but no text file holds NUL (UTF-16 without BOM)
        if offset < 0:
            return text
    line = data.count(b"\n", 0, offset) + 1
    raise error(
        [f"{file}:{line}: {kind} file is not UTF-8 (byte offset {offset}); save it as UTF-8"]
    )


class _LocatedError(yaml.YAMLError):
    """A problem PyYAML lets through, at a 1-based ``line``."""

    def __init__(self, message: str, line: int) -> None:
        self.line = line
        super().__init__(message)


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, except that a key repeated in one mapping is an error
    and aliases may not expand past :data:`MAX_YAML_NODES` nodes nor contain themselves.

    Merge keys (``<<: *defaults``) work: keys they bring in may be overridden.
    """

    def get_single_node(self) -> yaml.Node | None:
        node = super().get_single_node()
        if node is not None:
            _count_expanded(node, {}, set())
        return node

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[object, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == _MERGE:
                continue
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, Hashable):
                continue  # the base constructor reports unhashable keys
            line = key_node.start_mark.line + 1
            if key in seen:
                raise _LocatedError(f"duplicate key {key!r} (first at line {seen[key]})", line)
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


_MERGE = "tag:yaml.org,2002:merge"


def _count_expanded(node: yaml.Node, sizes: dict[int, int], open_nodes: set[int]) -> int:
    """How many nodes ``node`` stands for with every alias expanded, counted once per
    distinct node (``sizes``); raises :class:`_LocatedError` for a bomb or a cycle."""
    if (known := sizes.get(id(node))) is not None:
        return known
    line = node.start_mark.line + 1
    if id(node) in open_nodes:
        raise _LocatedError("YAML alias refers to a collection that contains it", line)
    open_nodes.add(id(node))
    children: list[yaml.Node] = []
    if isinstance(node, yaml.MappingNode):
        children = [part for pair in node.value for part in pair]
    elif isinstance(node, yaml.SequenceNode):
        children = node.value
    size = 1 + sum(_count_expanded(child, sizes, open_nodes) for child in children)
    open_nodes.discard(id(node))
    if size > MAX_YAML_NODES:
        raise _LocatedError(
            f"YAML aliases expand to more than {MAX_YAML_NODES:,} nodes (an alias bomb?)", line
        )
    sizes[id(node)] = size
    return size


def validation_problems(
    error: ValidationError, source: str, text: str | None, model: type[BaseModel] | None = None
) -> list[str]:
    """One ``source:line: key.path: problem (got value)`` line per item of ``error`` (per
    line of a whole-config check's message, which names every problem it found). An
    unknown key of ``model`` (the validated class) names the key it may have meant."""
    lines = key_lines(text) if text is not None else {}
    return [line for item in error.errors() for line in _describe(item, source, lines, model)]


def _meant(model: type[BaseModel] | None, loc: Sequence[Any]) -> str:
    """`` (did you mean 'x'?)`` for an unknown key at ``loc`` close to a key of the class
    it belongs to (found along ``loc`` from ``model``), else nothing."""
    import difflib
    import types
    from typing import Union, get_args, get_origin

    kind: Any = model
    for part in loc[:-1]:
        while get_origin(kind) in (Union, types.UnionType):  # X | None: the model
            kind = next(arg for arg in get_args(kind) if arg is not type(None))
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            field = kind.model_fields.get(str(part))
            kind = field.annotation if field is not None else None
        elif get_origin(kind) in (dict, list):  # a name or an index: its values' type
            kind = get_args(kind)[-1]
        else:
            return ""
    if not (isinstance(kind, type) and issubclass(kind, BaseModel)):
        return ""
    close = difflib.get_close_matches(str(loc[-1]), list(kind.model_fields), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _describe(
    item: Any, source: str, lines: dict[str, int], model: type[BaseModel] | None = None
) -> list[str]:
    path = ".".join(str(part) for part in item["loc"])
    message = str(item["msg"]).removeprefix("Value error, ")
    if not path:
        return [_placed(problem, source, lines) for problem in message.splitlines()]
    if item["type"] == "extra_forbidden":
        return [f"{where(source, lines, path)}: {path}: unknown key{_meant(model, item['loc'])}"]
    if item["type"] == "missing":
        return [f"{where(source, lines, path.rsplit('.', 1)[0])}: {path}: required key is missing"]
    return [f"{where(source, lines, path)}: {path}: {message} (got {quoted(item['input'])})"]


@dataclass(frozen=True)
class KeyProblem:
    """One thing wrong with what a file (or an object) says, at a key path (``edges.2.to``)."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def located(
    problems: Sequence[KeyProblem], label: str, source: str | None, text: str | None
) -> list[str]:
    """Each problem at ``source:line`` (its key's line in ``text``); ``label: problem``
    when it comes from no file (``source`` is ``None``)."""
    if source is None:
        return [f"{label}: {problem}" for problem in problems]
    lines = key_lines(text) if text is not None else {}
    return [f"{where(source, lines, problem.path)}: {problem}" for problem in problems]


def _placed(problem: str, source: str, lines: dict[str, int]) -> str:
    """``source:line: problem``, at the line of the key path ``problem`` starts with."""
    return f"{where(source, lines, problem.split(':', 1)[0])}: {problem}"


def where(source: str, lines: dict[str, int], path: str) -> str:
    """``source:line`` for a key path found in ``lines``, else just ``source``."""
    line = lines.get(path)
    return f"{source}:{line}" if line is not None else source


def key_lines(text: str) -> dict[str, int]:
    """Map each key path (``models.writer.timeout``) to its 1-based line in the YAML text."""
    lines: dict[str, int] = {}

    def walk(node: yaml.Node, path: str, merged: bool = False) -> None:
        children: list[tuple[str, yaml.Node, yaml.Node]] = []
        sources: list[yaml.Node] = []  # of merge keys: placed where written, if not overridden
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if key.tag == _MERGE:
                    sources += value.value if isinstance(value, yaml.SequenceNode) else [value]
                else:
                    children.append((f"{path}.{key.value}" if path else str(key.value), key, value))
        elif isinstance(node, yaml.SequenceNode):
            children = [(f"{path}.{index}", item, item) for index, item in enumerate(node.value)]
        for child, start, value in children:
            if not merged or child not in lines:
                lines[child] = start.start_mark.line + 1
            walk(value, child, merged)
        for source in sources:
            walk(source, path, merged=True)

    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if root is not None:
        walk(root, "")
    return lines


def _kind(value: object) -> str:
    return {list: "a list", str: "a string", int: "a number", float: "a number"}.get(
        type(value), type(value).__name__
    )
