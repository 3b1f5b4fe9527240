"""The ``orch-bot`` command.

``orch-bot serve --host H --port P`` serves HTTP; ``orch-bot socket`` runs Socket Mode; bare ``orch-bot``
picks Socket Mode when ``SLACK_APP_TOKEN`` is set, else HTTP. With a Redis store, ``--ingress-only``
makes either one ack and queue tasks only, and ``orch-bot worker`` processes run them. Bad settings end
in one readable message and exit code 2, never a traceback.

``orch-bot continue REQUEST_ID RESULT`` (test hook, only with ``ORCH_TEST_TOOLS=true``) continues a task
suspended before a tool call, with ``RESULT`` as that call's result, in this process, to its answer in
Slack: what the approval buttons will do.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agents.catalog import default_registry
from agents.errors import ConfigError
from agents.evals import CASES_DIR, eval_command, export_command
from agents.observability import configure_logging
from agents.runbooks import check_directory
from agents.settings import detect_mode, load_settings
from bot.console import run_console
from bot.doctor import run_doctor
from bot.server import continue_task, run_http, run_socket, run_worker

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine, Sequence

    from agents.settings import Mode, Settings

__all__ = ["main"]

EXIT_CONFIG = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="orch-bot", description="Chat-ops for AWS, in Slack.")
    commands = parser.add_subparsers(dest="command")
    serve = commands.add_parser("serve", help="serve Slack over HTTP (POST /slack/events, GET /healthz)")
    serve.add_argument("--host", default="0.0.0.0", help="interface to listen on (default 0.0.0.0)")  # noqa: S104
    serve.add_argument("--port", type=int, default=3000, help="port to listen on (default 3000)")
    socket = commands.add_parser("socket", help="connect to Slack over Socket Mode (needs SLACK_APP_TOKEN)")
    for command in (serve, socket):
        command.add_argument(
            "--ingress-only",
            action="store_true",
            help="ack and queue tasks only; `orch-bot worker` processes run them (needs a redis:// ORCH_STORE_URL)",
        )
    commands.add_parser("worker", help="run queued tasks for --ingress-only servers (needs a redis:// ORCH_STORE_URL)")
    commands.add_parser("doctor", help="check settings, Slack, AWS, Bedrock and data sources; say what to fix")
    console = commands.add_parser("console", help="chat with the agents in this terminal (same pipeline, no Slack)")
    console.add_argument("--fake-llm", action="store_true", help="use the offline scripted model instead of Bedrock")
    console.add_argument(
        "--demo", action="store_true", help="offline demo: scripted agent, tools from recorded incidents (no AWS)"
    )
    console.add_argument("question", nargs="*", help="ask this one question and exit")
    _eval_parser(commands)
    runbooks = commands.add_parser("runbooks", help="work with runbooks: `runbooks check [DIR]` validates YAML files")
    runbooks.add_argument("action", choices=["check"], help="check: print `path:line: problem` for each problem")
    runbooks.add_argument("directory", nargs="?", help="the directory to check (default: ORCH_RUNBOOKS_DIR)")
    resume = commands.add_parser("continue", help=argparse.SUPPRESS)  # test hook: see the module docstring
    resume.add_argument("request_id")
    resume.add_argument("result")
    return parser


def _eval_parser(commands: Any) -> None:
    evals = commands.add_parser(
        "eval", help="run the eval cases (tools from cassettes) and print a table; `eval export`"
    )
    evals.add_argument("--cases", default=str(CASES_DIR), help="directory of *.yaml cases (default: the shipped ones)")
    evals.add_argument("--model", help="the agents' model (default BEDROCK_MODEL_ID)")
    evals.add_argument("--judge-model", help="grade each answer with this model too (a 1-5 score and a reason)")
    evals.add_argument("--repeat", type=int, default=1, help="run each case N times and report its pass rate")
    evals.add_argument("--min-pass", type=float, default=1.0, help="exit 1 when fewer runs pass (default 1.0)")
    actions = evals.add_subparsers(dest="eval_action")
    export = actions.add_parser("export", help="turn a journalled task into a case file; prints its path")
    export.add_argument("request_id", help="the task's request ID (req-…)")
    export.add_argument("--out", default="evals/cases", help="directory to write the case into (default evals/cases)")
    export.add_argument("--expect", help="what the answer got wrong / should say (the case's note and rubric)")


def _config_problem(error: ConfigError) -> str:
    count = len(error.problems)
    noun = "1 setting needs" if count == 1 else f"{count} settings need"
    lines = [f"orch-bot cannot start: {noun} attention."]
    lines += [f"  {name}: {fix}" for name, fix in error.problems]
    lines.append("Set them in the environment or in a .env file; see the configuration table in README.md.")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    args = _parser().parse_args(argv)
    tools: dict[str, Callable[[argparse.Namespace], int]] = {
        "console": _console,
        "doctor": _doctor,
        "continue": _continue,
        "runbooks": lambda parsed: _check_runbooks(parsed.directory),
        "eval": _eval,
    }
    if args.command in tools:
        return tools[args.command](args)
    modes = {"serve": "http", "socket": "socket", "worker": "worker"}
    mode: Mode = modes.get(args.command) or detect_mode()  # type: ignore[assignment]
    work = not getattr(args, "ingress_only", False)
    try:
        settings = load_settings(mode)
        _check_split(settings, mode=mode, work=work)
    except ConfigError as error:
        print(_config_problem(error), file=sys.stderr)  # noqa: T201 - the CLI's own output
        return EXIT_CONFIG
    configure_logging(fmt=settings.orch_log_format, level=settings.orch_log_level, secrets=settings.secrets())
    return _serve(args, settings, mode=mode, work=work)


def _serve(args: argparse.Namespace, settings: Settings, *, mode: Mode, work: bool) -> int:
    try:
        if mode == "http":
            host = getattr(args, "host", "0.0.0.0")  # noqa: S104 - a server's default is to listen
            port = getattr(args, "port", 3000)
            _run(run_http(settings, host=host, port=port, work=work), settings.orch_event_loop)
        elif mode == "socket":
            _run(run_socket(settings, work=work), settings.orch_event_loop)
        else:
            _run(run_worker(settings), settings.orch_event_loop)
    except ConfigError as error:  # found while assembling: a policy file that does not load
        print(_config_problem(error), file=sys.stderr)  # noqa: T201 - the CLI's own output
        return EXIT_CONFIG
    return 0


def _doctor(_args: argparse.Namespace) -> int:
    configure_logging(fmt="console", level="error")
    return asyncio.run(run_doctor(sys.stdout))


def _check_split(settings: Settings, *, mode: Mode, work: bool) -> None:
    """An ingress and separate workers meet in the shared store: refuse to start either without it."""
    if (mode == "worker" or not work) and not settings.shared_store:
        what = "orch-bot worker" if mode == "worker" else "--ingress-only"
        raise ConfigError([("ORCH_STORE_URL", f"{what} needs the shared store: set redis://host:6379/0")])


def event_loop_factory(choice: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The event loop: uvloop when asked for, or (``auto``) when installed; ``None`` is asyncio's own."""
    if choice == "asyncio":
        return None
    try:
        import uvloop  # noqa: PLC0415 - optional: not on every platform
    except ImportError:
        if choice == "uvloop":
            raise
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def _run(main: Coroutine[Any, Any, None], loop: str) -> None:
    with asyncio.Runner(loop_factory=event_loop_factory(loop)) as runner:
        runner.run(main)


def _check_runbooks(directory: str | None) -> int:
    """``orch-bot runbooks check [DIR]``: every problem as ``path:line: problem``; 1 if there is any."""
    if directory is None:
        try:
            directory = load_settings().orch_runbooks_dir
        except ConfigError as error:
            print(_config_problem(error), file=sys.stderr)  # noqa: T201 - the CLI's own output
            return EXIT_CONFIG
    if not directory:
        print("Say which directory to check: orch-bot runbooks check DIR (or set ORCH_RUNBOOKS_DIR).", file=sys.stderr)  # noqa: T201
        return EXIT_CONFIG
    configure_logging(fmt="console", level="error")
    loaded, problems = check_directory(Path(directory), agents=default_registry().names())
    for problem in problems:
        print(problem)  # noqa: T201 - the CLI's own output
    print(f"{len(loaded)} runbook(s) loaded, {len(problems)} problem(s).", file=sys.stderr)  # noqa: T201
    return 1 if problems else 0


def _continue(args: argparse.Namespace) -> int:
    try:
        settings = load_settings("http")
    except ConfigError as error:
        print(_config_problem(error), file=sys.stderr)  # noqa: T201 - the CLI's own output
        return EXIT_CONFIG
    if not settings.orch_test_tools:
        hook = ConfigError([("ORCH_TEST_TOOLS", "`orch-bot continue` is a test hook: set ORCH_TEST_TOOLS=true")])
        print(_config_problem(hook), file=sys.stderr)  # noqa: T201 - the CLI's own output
        return EXIT_CONFIG
    configure_logging(fmt=settings.orch_log_format, level=settings.orch_log_level, secrets=settings.secrets())
    return asyncio.run(continue_task(settings, args.request_id, args.result))


def _eval(args: argparse.Namespace) -> int:
    """``orch-bot eval`` / ``eval export``: the logic is in :mod:`agents.evals`."""
    try:
        settings = load_settings()
    except ConfigError as error:
        print(_config_problem(error), file=sys.stderr)  # noqa: T201 - the CLI's own output
        return EXIT_CONFIG
    configure_logging(fmt="console", level="error", secrets=settings.secrets())
    if args.eval_action == "export":
        return asyncio.run(
            export_command(
                settings,
                args.request_id,
                out_dir=Path(args.out),
                expectation=args.expect,
                out=sys.stdout,
                err=sys.stderr,
            )
        )
    # Eval runs are one person's, one at a time: the per-person limits are for Slack, not for the suite.
    overrides: dict[str, object] = {"orch_rate_limit": "100000/minute", "orch_max_tasks_per_user": 100}
    if args.model:
        overrides["bedrock_model_id"] = args.model
    settings = settings.model_copy(update=overrides)
    if args.repeat < 1 or not 0 <= args.min_pass <= 1:
        print("--repeat must be at least 1 and --min-pass between 0 and 1.", file=sys.stderr)  # noqa: T201
        return EXIT_CONFIG
    return asyncio.run(
        eval_command(
            settings,
            cases_dir=Path(args.cases),
            repeat=args.repeat,
            judge_model=args.judge_model,
            min_pass=args.min_pass,
            out=sys.stdout,
            err=sys.stderr,
        )
    )


def _console(args: argparse.Namespace) -> int:
    try:
        settings = load_settings()
    except ConfigError as error:
        print(_config_problem(error), file=sys.stderr)  # noqa: T201 - the CLI's own output
        return EXIT_CONFIG
    # The terminal is for the conversation: logs go to stderr, warnings and above only.
    configure_logging(fmt="console", level="warning", secrets=settings.secrets())
    once = " ".join(args.question) if args.question else None
    try:
        return asyncio.run(run_console(settings, fake_llm=args.fake_llm, once=once, demo=args.demo))
    except ConfigError as error:
        print(_config_problem(error), file=sys.stderr)  # noqa: T201 - the CLI's own output
        return EXIT_CONFIG


def entry() -> None:
    """Console-script entry point."""
    sys.exit(main())
