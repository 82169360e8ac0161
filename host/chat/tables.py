"""What the chat's slash commands show (rich): the plan, functions, sessions, models, help."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from host.chat.commands import COMMANDS
from host.run_view import preview

if TYPE_CHECKING:
    from host.catalogue import FunctionInfo
    from host.chat.sessions import SessionInfo
    from host.models.services import ModelServices
    from host.plans import Plan

KEYS = (
    "Enter sends · Alt-Enter (or Esc, Enter) starts a new line · Ctrl-R searches history · "
    "Tab completes commands, models and function names · Ctrl-C cancels the running turn "
    "(at the prompt: clears the line) · Ctrl-D leaves"
)


def help_table() -> Table:
    """``/help``: every command with what it does, then the keys."""
    table = Table(box=None, show_header=False, caption=KEYS, caption_justify="left")
    table.add_column(no_wrap=True, style="bold")
    table.add_column()
    for spec in COMMANDS.values():
        table.add_row(spec.usage, spec.summary)
    return table


def plan_tree(plan: Plan, source: str) -> Tree:
    """``/plan``: each step with its function, arguments and the steps it waits for."""
    tree = Tree(Text(f"planned by {source}", "bold"))
    written = plan.model_dump(mode="json", by_alias=True, exclude_none=True)
    for step in written["steps"]:
        given = ", ".join(
            f"{name}={preview(value, 60)}" for name, value in step["arguments"].items()
        )
        after = sorted(plan.dependencies(step["id"]))
        tree.add(
            Text.assemble(
                (step["id"], "bold"),
                f"  {step['function']}({given})  [{step['capability']}]",
                (f"  after {', '.join(after)}" if after else "", "dim"),
            )
        )
    return tree


def functions_table(catalogue: list[FunctionInfo]) -> Table:
    """``/functions``: name, kind, parameters and description of each loaded function."""
    table = Table(box=None, header_style="bold", expand=True)
    table.add_column("FUNCTION", no_wrap=True)
    table.add_column("KIND", no_wrap=True)
    table.add_column("PARAMETERS", no_wrap=True, overflow="ellipsis", max_width=40)
    table.add_column("DESCRIPTION", no_wrap=True, overflow="ellipsis", ratio=1)
    for info in catalogue:
        parameters = ", ".join(p.name for p in info.parameters)
        table.add_row(info.name, info.kind, parameters, info.description)
    return table


def sessions_table(sessions: list[SessionInfo], current: str) -> Table:
    """``/sessions``: id, last use, turns and first request; the current one marked."""
    table = Table(box=None, header_style="bold", expand=True)
    table.add_column("SESSION", no_wrap=True)
    table.add_column("USED (UTC)", no_wrap=True)
    table.add_column("TURNS", justify="right", no_wrap=True)
    table.add_column("FIRST REQUEST", no_wrap=True, overflow="ellipsis", ratio=1)
    for session in sessions:
        mark = " *" if session.session_id == current else ""
        table.add_row(
            session.session_id + mark,
            f"{session.used_at:%Y-%m-%d %H:%M}",
            str(session.turns),
            session.first_request or "",
        )
    return table


def models_table(services: ModelServices, pinned: str | None) -> Table:
    """``/model``: each configured model, what it is good at and costs; the pinned one marked."""
    table = Table(box=None, header_style="bold")
    table.add_column("MODEL", no_wrap=True)
    table.add_column("PROVIDER", no_wrap=True)
    table.add_column("CAPABILITIES", overflow="fold")
    table.add_column("COST IN/OUT PER 1K", justify="right", no_wrap=True)
    for name in services.names():
        row = services.config(name)
        marks = [
            mark
            for mark, on in (("pinned", name == pinned), ("default", name == services.default))
            if on
        ]
        table.add_row(
            name + (f" ({', '.join(marks)})" if marks else ""),
            f"{row.provider}/{row.model}",
            ", ".join(row.capabilities) or "-",
            f"{row.cost.input:g} / {row.cost.output:g}",
        )
    return table


def routing(pinned: str | None) -> str:
    """How steps are routed now."""
    if pinned is None:
        return "steps are routed by the capability they need (/model NAME pins one model)"
    return f"every step runs on {pinned} (/model auto to route by capability again)"
