"""The ``agent-host`` command line. Semantic Kernel is imported only by commands that need it,
``rich`` only by ``runs``, ``trace`` and ``chat``, and prompt_toolkit only by ``chat``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import sys
import traceback
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TextIO, get_args

from host.state import RunStatus

if TYPE_CHECKING:
    from host.api import AgentHost
    from host.planning import PlanOutcome
    from host.run_store import RunStore
    from host.state import RunResult


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status.

    Nothing it prints (results, errors, logs) shows a configured secret.
    """
    from host.redaction import redacted_output

    with redacted_output():
        status = _main(argv)
        try:
            _end_tracing()
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130
        return status


def _main(argv: Sequence[str] | None) -> int:
    args = _parser().parse_args(argv)
    _configure_logging(args.debug)
    try:
        with _results_apart(getattr(args, "json", False)):
            status: int = args.command(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # the host's own (bad input) or not (a bug): one line, 2
        from host.errors import AgentHostError, describe_error

        if args.debug:  # printed here, where stderr still masks secrets
            traceback.print_exc()
        message = str(error) if isinstance(error, AgentHostError) else describe_error(error)
        print(f"error: {message}", file=sys.stderr)
        return 2
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

    team = commands.add_parser(
        "team", parents=[common, answers], help="run a team of agents on a task"
    )
    team.add_argument("file", help="team YAML, e.g. teams/copy_review.yaml")
    team.add_argument("task", help="what the team should do")
    team.add_argument("--json", action="store_true", help="print the whole run result as JSON")
    team.set_defaults(command=_team)

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

    chat = commands.add_parser(
        "chat", parents=[common], help="talk to the host: a request per line, /help for commands"
    )
    session = chat.add_mutually_exclusive_group()
    session.add_argument(
        "-c",
        "--continue",
        dest="continue_last",
        action="store_true",
        help="continue the last session",
    )
    session.add_argument("--session", metavar="ID", help="continue session ID")
    chat.add_argument("--model", metavar="NAME", help="pin every step to this configured model")
    chat.add_argument(
        "--max-tool-calls",
        type=_positive,
        default=8,
        metavar="N",
        help="in /chat, at most N tool calls per turn (default: 8)",
    )
    chat.set_defaults(command=_chat)
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
    return _reported(args, lambda host: host.run(args.request))


def _reported(args: argparse.Namespace, start: Callable[[AgentHost], Awaitable[RunResult]]) -> int:
    """The run ``start`` begins on the host ``args`` configure, resumed with each
    ``--answer`` (or asked on a terminal) while it waits for a person, then reported."""

    async def go() -> int:
        async with _host(args) as host:
            result = await _answered(host, await start(host), args.answers)
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
    arguments = _arguments(args.arguments, "invoke")

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
    inputs = _arguments(args.inputs, "workflow")
    return _reported(args, lambda host: host.run_workflow(args.file, inputs))


def _team(args: argparse.Namespace) -> int:
    return _reported(args, lambda host: host.run_team(args.file, args.task))


def _resume(args: argparse.Namespace) -> int:
    return _reported(args, lambda host: host.resume(args.run_id, args.answer))


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


def _runs(args: argparse.Namespace) -> int:
    store = _run_store(args)
    try:
        runs = store.runs(args.status, args.limit) if store is not None else []
    finally:
        if store is not None:
            store.close()
    if args.json:
        _print_json([run.summary() for run in runs])
        return 0
    if not runs:
        print("no run recorded" + (f" with status {args.status}" if args.status else ""))
        return 0
    from rich.console import Console

    from host.run_view import runs_table

    Console(highlight=False).print(runs_table(runs))
    return 0


def _trace(args: argparse.Namespace) -> int:
    store = _run_store(args)
    run = None
    if store is not None:
        try:
            run = store.last() if args.last else store.get(args.run_id)
        finally:
            store.close()
    if run is None:
        if args.last or store is None:
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

    from host.run_view import headline, run_tree

    console = Console(highlight=False)
    why = headline(run)
    if why is not None:
        console.print(why, soft_wrap=True)  # one line, however narrow the terminal
    console.print(run_tree(run))
    return 0


def _chat(args: argparse.Namespace) -> int:
    from host.chat.program import ChatOptions, chat

    return chat(
        ChatOptions(
            config=args.config,
            plugin_dirs=args.plugins_dir,
            prompt_dirs=args.prompts_dir,
            strict=args.strict,
            continue_last=args.continue_last,
            session=args.session,
            model=args.model,
            max_tool_calls=args.max_tool_calls,
        )
    )


def _run_store(args: argparse.Namespace) -> RunStore | None:
    """The run store of the config ``args`` name; ``None`` when its file does not exist yet
    (nothing is created to read it); a config error when it is in memory."""
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
    from pathlib import Path

    if not Path(location).exists():
        return None
    return RunStore(location, keep=loaded.config.runs.keep)


def _positive(text: str) -> int:
    """``--limit``: a whole number of 1 or more."""
    try:
        number = int(text)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of 1 or more, got {text!r}")
    return number


def _arguments(texts: list[str], command: str) -> dict[str, Any]:
    """Each ``KEY=VALUE`` or ``KEY:=JSON`` of ``texts`` (see :func:`_argument`); a key given
    twice names ``command`` (which value was meant cannot be told)."""
    from host.errors import InvalidArgumentsError, quoted

    given: dict[str, Any] = {}
    for text in texts:
        key, value = _argument(text, command)
        if key in given:
            raise InvalidArgumentsError(command, [f"{quoted(key)} given more than once"])
        given[key] = value
    return given


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
    except RecursionError:
        problem = f"{key[:-1]}: invalid JSON (nested too deeply to read)"
        raise InvalidArgumentsError(command, [problem]) from None


_results: list[TextIO] = []
"""Where ``--json`` output goes while :func:`_results_apart` holds: the real stdout."""


@contextlib.contextmanager
def _results_apart(json_output: bool) -> Iterator[None]:
    """Under ``--json``, anything else printed to stdout while the command runs (a plugin's
    ``print``) goes to stderr, so that what stdout gets is the JSON alone."""
    if not json_output:
        yield
        return
    _results.append(sys.stdout)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        _results.pop()


def _print_json(data: Any) -> None:
    out = _results[-1] if _results else sys.stdout
    print(json.dumps(data, indent=2, ensure_ascii=False, default=str), file=out)


def _end_tracing() -> None:
    """Export the spans still held, if tracing was set up: here, output is still masked and
    Ctrl-C is answered, unlike in the exit hook that would do it otherwise."""
    setup = sys.modules.get("host.telemetry.setup")
    if setup is not None:
        setup.shutdown()


class _OneLine(logging.Formatter):
    """A record on one line: the traceback it carries is left out (``--debug`` shows it)
    and its error named after the message."""

    def format(self, record: logging.LogRecord) -> str:
        if record.exc_info is None and record.exc_text is None:
            return super().format(record)
        from host.errors import describe_error

        error = record.exc_info[1] if record.exc_info else None
        brief = logging.makeLogRecord(
            {**record.__dict__, "exc_info": None, "exc_text": None, "stack_info": None}
        )
        line = super().format(brief)
        return f"{line} ({describe_error(error)})" if error is not None else line


def _configure_logging(debug: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    shape = "%(levelname)s: %(message)s"
    handler.setFormatter(logging.Formatter(shape) if debug else _OneLine(shape))
    logging.basicConfig(handlers=[handler])
    logging.getLogger("agent_host").setLevel(logging.DEBUG if debug else logging.WARNING)
    logging.getLogger("semantic_kernel").setLevel(logging.DEBUG if debug else logging.CRITICAL)
