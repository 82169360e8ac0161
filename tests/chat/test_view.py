"""The live lines of a turn, drawn by rich as the terminal would show them."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from rich.console import Console

from host.chat.view import TurnView, step_line
from host.progress import CallStarted, StepEvent, StepFinished, StepText
from host.state import CallEvent, StepRecord

REASON = "write → strongest capable: local (cost 0/1k, latency 2s); skipped writer: no key"


def drawn(view: TurnView, width: int = 80) -> list[str]:
    console = Console(width=width, record=True, force_terminal=False)
    console.print(view)
    return console.export_text().splitlines()


async def test_a_running_step_shows_its_attempt_and_the_end_of_what_its_model_writes() -> None:
    view = TurnView(Console())
    view(CallStarted("copy", "marketing.promo_copy", "local", REASON))
    view(StepEvent("copy", CallEvent("attempt", "local", "timeout", attempt=1, model="local")))
    copy = "Shanghai is 18°C today, so come and enjoy an iced tea at our shop. " * 3
    for word in copy.strip().split(" "):
        view(StepText("copy", word + " "))
    status, written = drawn(view)
    assert re.match(r". copy  marketing\.promo_copy  attempt 2  \d+ ms  attempt 1 timeout", status)
    assert status.endswith("…") and len(status) == 80  # one line, the route cut at the edge
    assert written.endswith("enjoy an iced tea at our shop.")  # the newest text stays in view
    assert len(written) <= 80


async def test_finished_steps_leave_the_live_area_for_a_line_each() -> None:
    view = TurnView(Console())
    view(CallStarted("day", "clock.resolve_date", None, None))
    record = StepRecord("day", "clock.resolve_date", {}, "ok", datetime.now(UTC), 3.0, "2026-11-29")
    view(StepFinished(record))
    assert "clock.resolve_date" not in "".join(drawn(view))
    assert [line.plain for line in view.lines] == ["✓ day  clock.resolve_date  3 ms"]


def test_a_step_that_asks_a_person_is_marked_so() -> None:
    asked = StepRecord(
        "copy",
        "talk.Echo",
        {},
        "ok",
        datetime.now(UTC),
        12.0,
        "hi",
        events=(
            CallEvent("validation", "talk.Echo", "failed"),
            CallEvent("on_fail", "human", "waiting"),
        ),
    )
    assert step_line(asked).plain == "? copy  talk.Echo  12 ms  asks a person"
