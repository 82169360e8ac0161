"""A bookings plugin that writes every action to a real journal file, for saga and replay tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

PLUGIN = '''\
from pathlib import Path

from semantic_kernel.functions import kernel_function

from host.effects import side_effects


class Trips:
    """Books and cancels items; each action is a line in the journal file."""

    def __init__(self, journal: str, sold_out: str = "") -> None:
        self._journal = Path(journal)
        self._sold_out = sold_out

    def _log(self, line: str) -> None:
        with self._journal.open("a") as handle:
            handle.write(line + "\\n")

    @side_effects
    @kernel_function(description="Book an item; returns the booking id.")
    async def book(self, item: str) -> str:
        if item == self._sold_out:
            raise RuntimeError(f"{item} is sold out")
        self._log(f"book {item}")
        return f"booking-{item}"

    @side_effects
    @kernel_function(description="Cancel a booking by id.")
    async def cancel(self, booking: str) -> str:
        self._log(f"cancel {booking}")
        return f"cancelled {booking}"

    @kernel_function(description="Quote a price for an item.")
    async def quote(self, item: str) -> str:
        return f"{item}: 100 EUR"
'''


def write_trips(tmp_path: Path, *, sold_out: str = "", extra: str = "") -> tuple[Path, Path]:
    """A config loading the Trips plugin (and ``extra`` YAML); returns (config, journal)."""
    plugins = tmp_path / "plugins"
    plugins.mkdir(exist_ok=True)
    (plugins / "trips.py").write_text(PLUGIN)
    journal = tmp_path / "journal.txt"
    config = tmp_path / "host.yaml"
    config.write_text(
        "models:\n  local:\n    provider: scripted\n    model: s\n"
        "tools:\n  trips:\n    settings:\n"
        f"      journal: {journal}\n      sold_out: '{sold_out}'\n"
        f"plugins:\n  directories: [{plugins}]\n" + extra
    )
    return config, journal


def journal_lines(journal: Path) -> list[str]:
    """The actions in the journal, in order (none when it was never written)."""
    return journal.read_text().splitlines() if journal.exists() else []


def chain(items: list[str]) -> dict[str, Any]:
    """Book each item after the previous one; each booking is undone by cancelling it."""
    steps = []
    for index, item in enumerate(items):
        steps.append(
            {
                "id": item,
                "function": "trips.book",
                "arguments": {"item": item},
                "depends_on": [items[index - 1]] if index else [],
                "capability": "fetch",
                "compensate": {
                    "function": "trips.cancel",
                    "arguments": {"booking": {"$ref": f"steps.{item}.output"}},
                },
            }
        )
    return {"steps": steps}
