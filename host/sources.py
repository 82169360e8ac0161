"""What loading plugins and prompt files produced: where each function came from, what failed."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from host.errors import LoadError


@dataclass(frozen=True)
class LoadProblem:
    """A plugin or prompt source that could not be loaded, and why."""

    source: str
    reason: str

    def __str__(self) -> str:
        return f"{self.source}: {self.reason}"


@dataclass
class SourceReport:
    """Function name (``plugin.function``) to its source file, plus every problem met."""

    files: dict[str, Path] = field(default_factory=dict)
    problems: list[LoadProblem] = field(default_factory=list)

    def fail(self, source: Path | str, reason: str) -> None:
        """Record a source that was skipped."""
        self.problems.append(LoadProblem(str(source), reason))

    def raise_if_strict(self, strict: bool) -> None:
        """In strict mode the first problem is fatal, reported with every other one."""
        if strict and self.problems:
            first, *rest = self.problems
            more = f" (and {len(rest)} more: {'; '.join(map(str, rest))})" if rest else ""
            raise LoadError(first.source, first.reason + more)
