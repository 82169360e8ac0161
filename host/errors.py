"""The agent-host exception tree.

Every error the host raises on purpose derives from :class:`AgentHostError` and
knows whether retrying the same call could succeed (``retryable``)::

    AgentHostError
    ├── ConfigError            bad configuration; ``problems`` lists each one
    │   └── MissingSecretError a model's secret variable is not set
    ├── LoadError              a plugin or prompt file could not be loaded
    ├── FunctionNotFoundError  no loaded function has that name
    ├── InvalidArgumentsError  arguments do not fit the function's parameters
    ├── ProviderError          a model provider failed (translated at the edge)
    └── FunctionFailedError    a function raised while running

The CLI prints ``str(error)`` as one line and exits non-zero; callers of the
Python API may rely on the class and its attributes, not on the message text.
"""

from __future__ import annotations


class AgentHostError(Exception):
    """Base of every error agent-host raises on purpose."""

    retryable: bool = False


class ConfigError(AgentHostError):
    """Configuration is invalid; ``problems`` holds one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class MissingSecretError(ConfigError):
    """A model needs a secret (an environment variable) that is not set."""

    def __init__(self, variable: str, model: str) -> None:
        self.variable = variable
        self.model = model
        super().__init__(
            [
                f"model {model!r} needs the environment variable {variable}, which is not set "
                "(set it in the environment or in .env; see .env.example)"
            ]
        )


class LoadError(AgentHostError):
    """A plugin or prompt source could not be loaded."""

    def __init__(self, source: str, reason: str) -> None:
        self.source = source
        self.reason = reason
        super().__init__(f"{source}: {reason}")


class FunctionNotFoundError(AgentHostError):
    """No loaded function has the requested ``plugin.function`` name."""

    def __init__(self, name: str, known: list[str]) -> None:
        self.name = name
        hint = ", ".join(sorted(known)) or "none are loaded"
        super().__init__(f"no function named {name!r} (loaded: {hint})")


class InvalidArgumentsError(AgentHostError):
    """Arguments are missing, unknown or of the wrong type for a function."""

    def __init__(self, function: str, problems: list[str]) -> None:
        self.function = function
        self.problems = problems
        super().__init__(f"{function}: " + "; ".join(problems))


class ProviderError(AgentHostError):
    """A model provider failed; ``retryable`` says whether a retry may help."""

    def __init__(self, model: str, reason: str, *, retryable: bool = False) -> None:
        self.model = model
        self.reason = reason
        self.retryable = retryable
        super().__init__(f"model {model!r}: {reason}")


class FunctionFailedError(AgentHostError):
    """A plugin or prompt function raised while running."""

    def __init__(self, function: str, reason: str, *, retryable: bool = False) -> None:
        self.function = function
        self.reason = reason
        self.retryable = retryable
        super().__init__(f"{function} failed: {reason}")


def describe_error(error: BaseException) -> str:
    """One line for any error: its class and the first line of its message."""
    text = str(error).strip()
    return f"{type(error).__name__}: {text.splitlines()[0]}" if text else type(error).__name__
