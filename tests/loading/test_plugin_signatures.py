"""Native functions as SK calls them: by name, each argument converted by the host's rules."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from host import AgentHost
from host.errors import LoadError

TYPED = """\
import dataclasses
import datetime

from semantic_kernel.functions import kernel_function


@dataclasses.dataclass
class Point:
    x: int
    y: int


class Typed:
    plugin_name = "typed"

    @kernel_function(description="Echo a day.")
    def day(self, when: datetime.date, at: datetime.datetime | None = None) -> str:
        return repr((when, at))

    @kernel_function(description="Echo a point.")
    def point(self, p: Point, more: list[Point] | None = None) -> str:
        return repr((p, more))
"""

CASES = [
    pytest.param(
        "typed.day", {"when": "2026-02-03"}, "(datetime.date(2026, 2, 3), None)", id="date"
    ),
    pytest.param(
        "typed.day",
        {"when": "2026-02-03", "at": "2026-02-03T10:00:00"},
        "(datetime.date(2026, 2, 3), datetime.datetime(2026, 2, 3, 10, 0))",
        id="datetime",
    ),
    pytest.param(
        "typed.point", {"p": {"x": "1", "y": 2}}, "(Point(x=1, y=2), None)", id="dataclass"
    ),
    pytest.param(
        "typed.point",
        {"p": {"x": 1, "y": 2}, "more": [{"x": 3, "y": 4}]},
        "(Point(x=1, y=2), [Point(x=3, y=4)])",
        id="list of dataclasses",
    ),
]


@pytest.mark.parametrize(("function", "arguments", "received"), CASES)
async def test_a_date_or_dataclass_parameter_receives_the_converted_value(
    tmp_path: Path,
    scripted_config: Path,
    function: str,
    arguments: dict[str, object],
    received: str,
) -> None:
    """Kills: the host converting ``"2026-02-03"`` to a date (or a dict to a dataclass), then
    SK's own ``date(value)`` failing on it: ``Parameter when is expected to be parsed to
    <class 'datetime.date'> but is not``, on every call."""
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "typed.py").write_text(TYPED, encoding="utf-8")
    async with AgentHost(scripted_config, plugin_dirs=[tmp_path / "plugins"], strict=True) as host:
        record = await host.invoke(function, arguments)
    assert record.output == received


UNCALLABLE = {
    "positional-only": ("a: int, /", "parameter 'a' is positional-only"),
    "*args": ("*names: str", "*names: str cannot be given"),
    "**kwargs": ("a: int, **extra: str", "**extra: str cannot be given"),
}


@pytest.mark.parametrize("case", list(UNCALLABLE))
def test_a_function_sk_cannot_call_by_name_is_reported_at_its_line_and_skipped(
    tmp_path: Path, scripted_config: Path, case: str
) -> None:
    """Kills: such a function listed (``*args`` as a required argument called ``args``) and
    then failing every call with a ``TypeError``. The plugin's other functions load."""
    signature, reason = UNCALLABLE[case]
    text = (
        "from semantic_kernel.functions import kernel_function\n"
        "\n"
        "class Odd:\n"
        "    plugin_name = 'odd'\n"
        "\n"
        "    @kernel_function(description='Fine.')\n"
        "    def fine(self, a: int) -> str:\n"
        "        return str(a)\n"
        "\n"
        "    @kernel_function(description='Odd.')\n"
        f"    def odd(self, {signature}) -> str:\n"
        "        return 'called'\n"
    )
    (tmp_path / "plugins").mkdir()
    path = tmp_path / "plugins" / "odd.py"
    path.write_text(text, encoding="utf-8")
    host = AgentHost(scripted_config, plugin_dirs=[path.parent])
    assert [info.name for info in host.catalogue] == ["odd.fine"]
    [problem] = host.problems
    assert problem.source == f"{path}:10"
    assert problem.reason.startswith(f"odd.odd: {reason}")
    with pytest.raises(LoadError, match=re.escape("odd.odd: ")):
        AgentHost(scripted_config, plugin_dirs=[path.parent], strict=True).start()
