"""The ``agent-host`` command line. Semantic Kernel is imported only by commands that need it,
and ``rich`` only by ``runs`` and ``trace``."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, get_args

from host.state import RunStatus

if TYPE_CHECKING:
    from rich.text import Text
    from rich.tree import Tree

    from host.api import AgentHost
    from host.planning import PlanOutcome
    from host.run_store import RecordedRun, RunStore
    from host.state import CallEvent, RunResult, StepRecord


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status.

    Nothing it prints (results, errors, logs) shows a configured secret.
    """
    from host.redaction import redacted_output

    with redacted_output():
        return _main(argv)


def _main(argv: Sequence[str] | None) -> int:
    args = _parser().parse_args(argv)
    _configure_logging(args.debug)
    try:
        status: int = args.command(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as error:
        from host.errors import AgentHostError

        if args.debug:
            raise
        message = str(error) if isinstance(error, AgentHostError) else repr(error)
        print(f"error: {message}", file=sys.stderr)
        return 2 if isinstance(error, AgentHostError) else 1
    return status


def _parser() -> argparse.ArgumentParser:
    from host import __version__

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", metavar="FILE", help="config file (default: config/host.yaml)")
    common.add_argument(
        "--plugins-dir", metavar="DIR", action="append", default=[], help="extra plugin directory"
    )
    common.add_argument(
        "--prompts-dir", metavar="DIR", action="append", default=[], help="extra prompt directory"
    )
    common.add_argument("--strict", action="store_true", help="a broken plugin or prompt is fatal")
    common.add_argument("--debug", action="store_true", help="show tracebacks and SK logs")

    parser = argparse.ArgumentParser(
        prog="agent-host",
        description="A Semantic Kernel plugin-based agent host.",
        epilog="Every command takes --config, --plugins-dir, --prompts-dir, --strict, --debug.",
    )
    parser.add_argument("--version", action="version", version=f"agent-host {__version__}")
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")

    answers = argparse.ArgumentParser(add_help=False)
    answers.add_argument(
        "--answer",
        dest="answers",
        action="append",
        default=[],
        metavar="TEXT",
        help="the answer to the next hand-off, in order; repeatable (else asked on a terminal)",
    )

    run = commands.add_parser("run", parents=[common, answers], help="answer a request")
    run.add_argument("request", help='e.g. "check yesterday\'s Shanghai temperature ..."')
    run.add_argument("--json", action="store_true", help="print the whole run result as JSON")
    run.set_defaults(command=_run)

    plan = commands.add_parser("plan", parents=[common], help="show the plan for a request")
    plan.add_argument("request", help="what to plan, as for run")
    plan.add_argument("--json", action="store_true", help="print the plan as JSON")
    plan.set_defaults(command=_plan)

    invoke = commands.add_parser("invoke", parents=[common], help="run one function")
    invoke.add_argument("function", help="plugin.function")
    invoke.add_argument(
        "arguments", nargs="*", metavar="KEY=VALUE", help="text argument (KEY:=JSON for JSON)"
    )
    invoke.add_argument("--model", help="configured model a prompt function should use")
    invoke.add_argument("--json", action="store_true", help="print the step record as JSON")
    invoke.set_defaults(command=_invoke)

    workflow = commands.add_parser(
        "workflow", parents=[common, answers], help="run a workflow file"
    )
    workflow.add_argument("file", help="workflow YAML, e.g. workflows/email_triage.yaml")
    workflow.add_argument(
        "--input",
        dest="inputs",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a workflow input (KEY:=JSON for JSON); repeatable",
    )
    workflow.add_argument("--json", action="store_true", help="print the whole run result as JSON")
    workflow.set_defaults(command=_workflow)

    resume = commands.add_parser(
        "resume", parents=[common, answers], help="answer a run that waits for a person"
    )
    resume.add_argument("run_id", help="the id printed when the run paused")
    resume.add_argument("answer", help="the answer; it becomes the waiting step's output")
    resume.add_argument("--json", action="store_true", help="print the whole run result as JSON")
    resume.set_defaults(command=_resume)

    plugins = commands.add_parser("plugins", parents=[common], help="list loaded functions")
    plugins.add_argument("--json", action="store_true", help="print the catalogue as JSON")
    plugins.set_defaults(command=_plugins)

    runs = commands.add_parser("runs", parents=[common], help="list recorded runs, newest first")
    runs.add_argument("--status", choices=get_args(RunStatus), help="only runs of this status")
    runs.add_argument(
        "--limit", type=_positive, default=20, metavar="N", help="at most N runs (default: 20)"
    )
    runs.add_argument("--json", action="store_true", help="print the runs as JSON")
    runs.set_defaults(command=_runs)

    trace = commands.add_parser(
        "trace", parents=[common], help="show a recorded run as a tree of its steps"
    )
    which = trace.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "run_id", nargs="?", metavar="RUN_ID", help="a run id, or its first 6 or more characters"
    )
    which.add_argument("--last", action="store_true", help="the newest recorded run")
    trace.add_argument("--json", action="store_true", help="print the run and its records as JSON")
    trace.set_defaults(command=_trace)
    return parser


def _host(args: argparse.Namespace) -> AgentHost:
    from host.api import AgentHost

    return AgentHost(
        args.config,
        plugin_dirs=args.plugins_dir,
        prompt_dirs=args.prompts_dir,
        strict=args.strict,
    )


def _run(args: argparse.Namespace) -> int:
    async def go() -> int:
        async with _host(args) as host:
            result = await _answered(host, await host.run(args.request), args.answers)
        return _report(result, as_json=args.json)

    return asyncio.run(go())


async def _answered(host: AgentHost, result: RunResult, answers: Sequence[str] = ()) -> RunResult:
    """Resume a run while it waits for a person: with each of ``answers`` in turn (echoed
    to stderr), then by asking on the terminal; without either it stays waiting."""
    given = iter(answers)
    while result.status == "needs_human":
        answer = next(given, None)
        if answer is not None:
            print(f"{result.question}\n> {answer}", file=sys.stderr)
        elif sys.stdin.isatty():
            answer = await asyncio.to_thread(input, f"{result.question}\n> ")
        else:
            break
        result = await host.resume(result.run_id, answer)
    return result


def _report(result: RunResult, *, as_json: bool) -> int:
    """Print a run's outcome; 0 when ok, 3 when it waits for a person, else 1."""
    if as_json:
        _print_json(result.to_dict())
    elif result.status == "ok":
        print(result.output)
    degraded = [s.step_id for s in result.steps if s.degraded]
    if degraded and result.status == "ok":
        print(f"note: degraded output from step(s) {', '.join(degraded)}", file=sys.stderr)
    if result.status == "needs_human":
        print(
            f"needs a person: {result.question}\n(answer with --answer, on a terminal, or "
            f"later: agent-host resume {result.run_id} ANSWER)",
            file=sys.stderr,
        )
        return 3
    if result.status != "ok":
        print(f"error: {result.error}", file=sys.stderr)
        return 1
    return 0


def _plan(args: argparse.Namespace) -> int:
    async def go() -> PlanOutcome:
        async with _host(args) as host:
            return await host.plan_for(args.request)

    outcome = asyncio.run(go())
    plan = outcome.plan
    written = plan.model_dump(mode="json", by_alias=True, exclude_none=True)
    if args.json:
        _print_json(
            {
                "source": outcome.source,
                "rounds": outcome.rounds,
                "problems": list(outcome.problems),
                "plan": written,
            }
        )
        return 0
    rounds = f", {outcome.rounds} model round(s)" if outcome.rounds else ""
    print(f"planned by {outcome.source}{rounds}")
    for problem in outcome.problems:
        print(f"  {problem}")
    for step in written["steps"]:
        arguments = ", ".join(
            f"{name}={json.dumps(value, ensure_ascii=False)}"
            for name, value in step["arguments"].items()
        )
        after = sorted(plan.dependencies(step["id"]))
        waits = f"  (after {', '.join(after)})" if after else ""
        print(f"{step['id']}: {step['function']}({arguments})  [{step['capability']}]{waits}")
    return 0


def _invoke(args: argparse.Namespace) -> int:
    arguments = dict(_argument(text, "invoke") for text in args.arguments)

    async def go() -> int:
        async with _host(args) as host:
            record = await host.invoke(args.function, arguments, model=args.model)
        if args.json:
            _print_json(record.to_dict())
        else:
            print(record.output)
        return 0

    return asyncio.run(go())


def _workflow(args: argparse.Namespace) -> int:
    inputs = dict(_argument(text, "workflow") for text in args.inputs)

    async def go() -> int:
        async with _host(args) as host:
            result = await host.run_workflow(args.file, inputs)
            result = await _answered(host, result, args.answers)
        return _report(result, as_json=args.json)

    return asyncio.run(go())


def _resume(args: argparse.Namespace) -> int:
    async def go() -> int:
        async with _host(args) as host:
            result = await host.resume(args.run_id, args.answer)
            result = await _answered(host, result, args.answers)
        return _report(result, as_json=args.json)

    return asyncio.run(go())


def _plugins(args: argparse.Namespace) -> int:
    host = _host(args)
    catalogue = host.catalogue
    if args.json:
        _print_json([info.to_dict() for info in catalogue])
        return 0
    for info in catalogue:
        print(f"{info.name}  [{info.kind}]  {info.description}")
        for p in info.parameters:
            needed = p.required and p.default is None  # a default fills a required variable
            print(f"    {p.name}: {p.type}{' (required)' if needed else f' = {p.default!r}'}")
    return 0


_SHORT_ID = 10
"""How much of a run id ``runs`` shows: enough for ``trace`` to find the run by."""


def _runs(args: argparse.Namespace) -> int:
    store = _run_store(args)
    try:
        runs = store.runs(args.status, args.limit)
    finally:
        store.close()
    if args.json:
        _print_json([run.summary() for run in runs])
        return 0
    if not runs:
        print("no run recorded" + (f" with status {args.status}" if args.status else ""))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(box=None, header_style="bold", expand=True)  # the request takes what is left
    table.add_column("RUN", no_wrap=True)
    table.add_column("STARTED (UTC)", no_wrap=True)
    table.add_column("REQUEST", no_wrap=True, overflow="ellipsis", min_width=10, ratio=1)
    table.add_column("STATUS", no_wrap=True)
    table.add_column("DURATION", justify="right", no_wrap=True)
    table.add_column("COST", justify="right", no_wrap=True)
    for run in runs:
        table.add_row(
            run.run_id[:_SHORT_ID],
            f"{run.started_at:%Y-%m-%d %H:%M}",
            run.request,
            _styled(run.status),
            _duration(run.duration_ms),
            "-" if run.cost is None else f"{run.cost:.4f}",
        )
    Console(highlight=False).print(table)
    return 0


def _trace(args: argparse.Namespace) -> int:
    store = _run_store(args)
    try:
        run = store.last() if args.last else store.get(args.run_id)
    finally:
        store.close()
    if run is None:
        if args.last:
            print("error: no run is recorded yet", file=sys.stderr)
        else:
            print(
                f"error: no recorded run {args.run_id!r} (give a run id or its first 6 or more "
                "characters, unique among the runs; agent-host runs lists them)",
                file=sys.stderr,
            )
        return 1
    if args.json:
        _print_json(run.to_dict())
        return 0
    from rich.console import Console

    console = Console(highlight=False)
    headline = _headline(run)
    if headline is not None:
        console.print(headline, soft_wrap=True)  # one line, however narrow the terminal
    console.print(_run_tree(run))
    return 0


def _run_store(args: argparse.Namespace) -> RunStore:
    """The run store of the config ``args`` name; a config error when it is in memory."""
    from host.api import default_config_path, runs_database
    from host.config import load_config
    from host.errors import ConfigError
    from host.redaction import config_secrets, register
    from host.run_store import RunStore

    loaded = load_config(args.config or default_config_path())
    register(config_secrets(loaded))
    location = runs_database(loaded)
    if location == ":memory:":
        where = loaded.locate("runs.database") if loaded.path else "runs.database"
        raise ConfigError(
            [
                f"{where}: ':memory:' keeps runs only in the process that ran them; "
                "name a file to list them here"
            ]
        )
    return RunStore(location, keep=loaded.config.runs.keep)


def _headline(run: RecordedRun) -> Text | None:
    """For a run that did not end ``ok``: one line saying why (or what it waits for)."""
    from rich.text import Text

    if run.status == "needs_human":
        return Text(f"waiting for a person at step {run.waiting_step!r}: {run.question}", "yellow")
    if run.status == "ok":
        return None
    failed = next((step for step in run.steps if step.status == "failed"), None)
    if failed is None:
        reason = (run.error or run.status).splitlines()[0]
        return Text(f"why: {reason}", "bold red")
    hops = [event for event in failed.events if event.kind == "fallback"]
    tried = f"after {failed.attempts} attempt(s)"
    if hops:
        tried += " and fallback " + ", ".join(f"{hop.target} ({hop.outcome})" for hop in hops)
    error = f"{failed.error_type}: {failed.error}" if failed.error_type else failed.error
    return Text(
        f"why: step {failed.step_id!r} ({failed.function}) failed {tried}: {error}", "bold red"
    )


def _run_tree(run: RecordedRun) -> Tree:
    """The run, its planning, steps and compensations, each with what happened inside it."""
    from rich.text import Text
    from rich.tree import Tree

    label = Text.assemble(
        ("run ", "bold"),
        (run.run_id, "bold"),
        f"  {run.kind}" + (f" {run.name}" if run.kind == "workflow" else "") + "  ",
        _styled(run.status),
        f"  {_duration(run.duration_ms)}  {run.started_at:%Y-%m-%d %H:%M:%S} UTC",
        _usage(run.cost, run.tokens_in, run.tokens_out),
        ("  degraded", "yellow") if run.degraded else "",
        f"  trace {run.trace_id}" if run.trace_id else "",
    )
    tree = Tree(label)
    tree.add(Text(f"request: {run.request}"))
    if run.plan:
        tree.add(Text(f"plan: {run.plan}", "dim"))
    if run.error:
        tree.add(Text(f"error: {run.error}", "red"))
    if run.planning:
        _add_steps(tree.add(Text("planning", "bold")), run.planning)
    _add_steps(tree, run.steps)
    if run.compensations:
        _add_steps(tree.add(Text("compensations", "bold")), run.compensations)
    return tree


def _add_steps(parent: Tree, records: tuple[StepRecord, ...]) -> None:
    from rich.text import Text

    for record in records:
        failed = record.status == "failed"
        served = f"  {record.model} ({record.provider}/{record.model_id})" if record.model else ""
        node = parent.add(
            Text.assemble(
                ("✗ " if failed else "✓ ", "red" if failed else "green"),
                (record.step_id, "bold red" if failed else "bold"),
                f"  {record.function}  ",
                _styled(record.status),
                f"  {_duration(record.latency_ms)}{served}",
                _usage(record.cost, record.tokens_in, record.tokens_out),
                f"  confidence {record.confidence:.2f}" if record.confidence is not None else "",
                ("  cache hit", "cyan") if record.cache_hit else "",
                ("  degraded", "yellow") if record.degraded else "",
            )
        )
        if record.route_reason:
            node.add(Text(f"route: {record.model} — {record.route_reason}", "dim"))
        _add_events(node, record)
        if failed:
            node.add(Text(f"error: {record.error_type}: {record.error}", "red"))
        elif record.output is not None:
            node.add(Text(f"output: {_preview(record.output)}", "dim"))


def _add_events(node: Tree, record: StepRecord) -> None:
    """Each event under ``node``; a fallback hop's own attempts under the hop."""
    hop_attempts: list[CallEvent] = []
    primary = next((e.target for e in record.events if e.kind == "attempt"), None)
    for event in record.events:
        if event.kind == "attempt" and event.target != primary:
            hop_attempts.append(event)
            continue
        branch = node.add(_event_text(event))
        if event.kind == "fallback":
            for attempt in [a for a in hop_attempts if a.target == event.target]:
                branch.add(_event_text(attempt))
            hop_attempts = [a for a in hop_attempts if a.target != event.target]
    for attempt in hop_attempts:
        node.add(_event_text(attempt))


_EVENT_LABELS = {
    "attempt": "attempt {attempt} {target}",
    "fallback": "fallback hop → {target}",
    "cache_hit": "cache hit {target}",
    "stale_served": "stale cache served {target}",
    "breaker": "breaker {target} →",
    "rejected": "tool call rejected {target}",
    "validation": "validation {target}",
    "on_fail": "on_fail {target}",
    "replayed": "replayed {target} (done before, not run again)",
    "answered": "answered by a person",
}
"""How each kind of :class:`~host.state.CallEvent` reads, before its outcome."""


def _event_text(event: CallEvent) -> Text:
    """One event: what it was, its outcome, latency and error (red when it failed)."""
    from rich.text import Text

    label = _EVENT_LABELS.get(event.kind, event.kind + " {target}").format(
        attempt=event.attempt or "", target=event.target
    )
    if event.model and event.model != event.target:
        label += f" ({event.model})"
    text = Text.assemble(f"{label}  ", _styled(event.outcome))
    if event.latency_ms is not None:
        text.append(f"  {_duration(event.latency_ms)}")
    if event.error:
        text.append(f"  {event.error}", _OUTCOME_STYLES.get(event.outcome, "") or "dim")
    return text


_OUTCOME_STYLES = {
    "ok": "green",
    "closed": "green",
    "error": "red",
    "timeout": "red",
    "failed": "red",
    "open": "red",
    "invalid_arguments": "red",
    "round_limit": "red",
    "degraded": "yellow",
    "half_open": "yellow",
    "waiting": "yellow",
    "needs_human": "yellow",
}


def _styled(outcome: str) -> Text:
    """A status or outcome in its colour: failures red, stand-ins and waits yellow."""
    from rich.text import Text

    return Text(outcome, _OUTCOME_STYLES.get(outcome, ""))


def _usage(cost: float | None, tokens_in: int | None, tokens_out: int | None) -> str:
    """``  tokens 812→96  cost 0.0021`` for what is known."""
    shown = ""
    if tokens_in is not None or tokens_out is not None:
        shown += f"  tokens {tokens_in or 0}→{tokens_out or 0}"
    if cost is not None:
        shown += f"  cost {cost:.4f}"
    return shown


def _duration(milliseconds: float) -> str:
    if milliseconds < 1000:
        return f"{milliseconds:.0f} ms"
    seconds = milliseconds / 1000
    if seconds < 60:
        return f"{seconds:.2f} s"
    minutes, seconds = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {seconds:02d}s"
    return f"{minutes // 60}h {minutes % 60:02d}m"


def _preview(output: Any, length: int = 80) -> str:
    text = (
        output if isinstance(output, str) else json.dumps(output, ensure_ascii=False, default=str)
    )
    text = " ".join(text.split())
    return text if len(text) <= length else text[: length - 1] + "…"


def _positive(text: str) -> int:
    """``--limit``: a whole number of 1 or more."""
    try:
        number = int(text)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of 1 or more, got {text!r}")
    return number


def _argument(text: str, command: str) -> tuple[str, Any]:
    """``KEY=VALUE`` as text or ``KEY:=JSON`` as JSON; a bad one names ``command``."""
    from host.errors import InvalidArgumentsError, quoted

    key, sep, value = text.partition("=")
    if not sep or not key.rstrip(":"):
        raise InvalidArgumentsError(
            command, [f"expected KEY=VALUE or KEY:=JSON, got {quoted(text)}"]
        )
    if not key.endswith(":"):
        return key, value
    try:
        return key[:-1], json.loads(value)
    except json.JSONDecodeError as error:
        raise InvalidArgumentsError(command, [f"{key[:-1]}: invalid JSON ({error.msg})"]) from None


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def _configure_logging(debug: bool) -> None:
    logging.basicConfig(format="%(levelname)s: %(message)s", stream=sys.stderr)
    logging.getLogger("agent_host").setLevel(logging.DEBUG if debug else logging.WARNING)
    logging.getLogger("semantic_kernel").setLevel(logging.DEBUG if debug else logging.CRITICAL)
