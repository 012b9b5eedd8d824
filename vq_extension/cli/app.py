"""The ``vq`` command line: argument parsing, and ``main()``, the one place where
exceptions become messages and exit codes (httpie's ``raw_main`` pattern)."""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from .. import __version__
from . import autoprompt
from .errors import (
    EXIT_CODES_HELP,
    ApiError,
    CliError,
    ExitCode,
    UsageError,
    exit_code_for,
)
from .http import DEFAULT_TIMEOUT, DEFAULT_URL, VqClient
from .output import IO

Command = Callable[[argparse.Namespace, IO, VqClient, Callable[[], float]], int]
JOB_STATUSES = ("pending", "running", "succeeded", "failed", "canceled")
OFFLINE_MODES = ("always", "auto", "never")

DESCRIPTION = """\
vq: the command line of Video Queue, the durable batch queue inside ComfyUI.
It talks to vq's REST API on the ComfyUI port (see --url)."""

EPILOG = f"""\
environment:
  VQ_URL       ComfyUI address (default {DEFAULT_URL})
  VQ_DATA_DIR  the queue's data folder, for submit --offline
  NO_COLOR     set to anything to turn colour off (it is also off when piped)

output:
  Human-readable tables by default; --json prints exactly the API's JSON body on
  stdout (streams such as log --follow and watch print one JSON document per line).
  Errors and warnings always go to stderr.

{EXIT_CODES_HELP}

Run 'vq COMMAND --help' for a command's options; docs/cli.md has examples."""


class Parser(argparse.ArgumentParser):
    """Raises UsageError instead of exiting, so main() reports every error one way."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message, hint=self.format_usage().strip())


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, not {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number of at least 1, not {value}")
    return value


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, not {text!r}") from None


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, not {text!r}") from None
    if not 0 < value <= 3600:
        raise argparse.ArgumentTypeError(f"expected seconds between 0 and 3600, not {text}")
    return value


def _statuses(text: str) -> str:
    parts = [p.strip() for p in text.split(",") if p.strip()]
    bad = [p for p in parts if p not in JOB_STATUSES]
    if bad or not parts:
        raise argparse.ArgumentTypeError(f"unknown job status {', '.join(bad) or repr(text)}; "
                                         f"use one or more of {', '.join(JOB_STATUSES)}, comma-separated")
    return ",".join(parts)


def _common(suppress: bool) -> argparse.ArgumentParser:
    """Options accepted before or after the command (``vq --json list`` = ``vq list --json``).
    On subcommands their defaults are SUPPRESSed, so an option given before the command
    is not reset by the subcommand's default."""
    d: Callable[[Any], Any] = (lambda _v: argparse.SUPPRESS) if suppress else (lambda v: v)
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("global options")
    g.add_argument("--url", default=d(None), metavar="URL",
                   help=f"ComfyUI address (default: $VQ_URL or {DEFAULT_URL})")
    g.add_argument("--json", action="store_true", default=d(False), help="print the API's JSON body")
    g.add_argument("-v", "--verbose", action="count", default=d(0),
                   help="more detail (full ids, tracebacks, rendered graphs)")
    g.add_argument("--no-color", action="store_true", default=d(False), help="no colour even on a terminal")
    g.add_argument("--timeout", type=_seconds, default=d(DEFAULT_TIMEOUT), metavar="SECONDS",
                   help=f"HTTP timeout (default {DEFAULT_TIMEOUT:g})")
    g.add_argument("--debug", action="store_true", default=d(False), help="show tracebacks of errors")
    return p


def build_parser() -> Parser:
    parser = Parser(prog="vq", description=DESCRIPTION, epilog=EPILOG, parents=[_common(False)],
                    formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"vq {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    sub.required = True
    common = [_common(True)]

    def command(name: str, help_: str, epilog: str = "") -> Parser:
        return sub.add_parser(name, help=help_, description=help_, parents=common,  # type: ignore[return-value]
                              epilog=(epilog + "\n\n" if epilog else "") + EXIT_CODES_HELP,
                              formatter_class=argparse.RawDescriptionHelpFormatter)

    command("health", "ComfyUI and vq status: versions, worker state, prompt counts, strategies",
            "example:\n  vq health")

    p = command("workflows", "list workflow definitions, or show one with its parameters",
                "examples:\n  vq workflows\n  vq workflows wan-i2v")
    p.add_argument("name", nargs="?", metavar="NAME", help="show this workflow's parameters")
    p.add_argument("--reload", action="store_true", help="reread the definition files on the server first")

    p = command("submit", "queue a job: a workflow over a folder, some files, one image or nothing",
                "examples:\n  vq submit wan-i2v ~/stills --param steps=20 --tries 2 --wait\n"
                "  vq submit t2i --param prompt='a red fox' --random-seed\n"
                "  vq submit wan-i2v ~/stills --per-file cat.png:positive_prompt='the cat yawns' --dry-run\n"
                "  vq submit wan-i2v ~/stills --offline --data-dir ~/ComfyUI/user/__video_queue")
    p.add_argument("workflow", metavar="WORKFLOW", help="workflow name (see vq workflows)")
    p.add_argument("inputs", nargs="*", metavar="INPUT", help="a folder, one or more files, or nothing (T2I)")
    p.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE",
                   help="set a parameter; typed by the workflow (repeatable)")
    p.add_argument("--per-file", action="append", default=[], metavar="FILE:NAME=VALUE",
                   help="set a prompt parameter for one input file (repeatable)")
    p.add_argument("--prompt-mode", choices=("manual", "per-image manual", "per-image auto"), default=None,
                   help="how prompts are chosen (default: per-image manual with --per-file, else manual)")
    p.add_argument("--tries", type=_positive_int, default=1, metavar="N", help="prompts per input (default 1)")
    seed = p.add_mutually_exclusive_group()
    seed.add_argument("--seed", type=_int, metavar="N", help="seed of the first try (tries add 1 each)")
    seed.add_argument("--random-seed", action="store_true", help="a fresh random seed for every prompt")
    p.add_argument("--priority", type=_int, default=0, metavar="N", help="higher runs first (default 0)")
    p.add_argument("--name", metavar="NAME", help="job name shown in the queue")
    p.add_argument("--idempotency-key", metavar="KEY",
                   help="reuse the key a timed-out submit printed: the server answers with the job that submit "
                        "created instead of queueing a second one (default: a fresh key per run)")
    p.add_argument("--no-stage", action="store_true", help="use inputs in place instead of staging copies")
    p.add_argument("--move-processed", action="store_true",
                   help="move inputs to <folder>/_processed when the job succeeds")
    p.add_argument("--dry-run", action="store_true", help="show the prompts that would be queued; queue nothing")
    p.add_argument("--wait", action="store_true", help="follow progress; exit 1 if the job fails")
    p.add_argument("--interval", type=_seconds, default=1.0, metavar="SECONDS", help="--wait poll interval")
    p.add_argument("--offline", nargs="?", const="always", default="never", choices=OFFLINE_MODES,
                   metavar="auto",
                   help="write the job into the queue database directly (ComfyUI runs it on its next "
                        "start); --offline=auto only when ComfyUI is not reachable")
    p.add_argument("--data-dir", metavar="DIR", default=None,
                   help="queue data folder for --offline (default: $VQ_DATA_DIR)")

    p = command("list", "list jobs, most actionable first",
                "examples:\n  vq list\n  vq list --status failed,running --search night --limit 20")
    p.add_argument("--status", type=_statuses, metavar="S[,S...]", help=f"only these ({', '.join(JOB_STATUSES)})")
    p.add_argument("--search", metavar="Q", help="name, workflow or folder contains Q (or job id)")
    p.add_argument("--limit", type=_positive_int, default=50, metavar="N", help="at most N jobs (default 50)")
    p.add_argument("--sort", choices=("actionable", "created", "-created", "priority"), default=None,
                   help="order (default actionable: running, failed, pending, canceled, succeeded)")

    p = command("status", "one job: prompts, seeds, ComfyUI ids, errors, outputs", "example:\n  vq status 12")
    p.add_argument("job", type=_int, metavar="JOB")

    p = command("log", "a job's log", "examples:\n  vq log 12\n  vq log 12 --follow")
    p.add_argument("job", type=_int, metavar="JOB")
    p.add_argument("-f", "--follow", action="store_true", help="keep printing new entries until the job ends")
    p.add_argument("--interval", type=_seconds, default=1.0, metavar="SECONDS", help="poll interval")

    for name, verb in (("cancel", "cancel"), ("retry", "retry")):
        what = "pending, queued and running" if name == "cancel" else "failed, canceled and interrupted"
        p = command(name, f"{verb} jobs' {what} prompts, or one prompt",
                    f"examples:\n  vq {name} 12\n  vq {name} 12 13 14\n  vq {name} --prompt 40")
        p.add_argument("jobs", nargs="*", type=_int, metavar="JOB")
        p.add_argument("--prompt", type=_int, metavar="ID", help=f"{verb} this one prompt instead")

    p = command("rm", "delete finished jobs with their prompts and logs (outputs stay on disk)",
                "examples:\n  vq rm 12\n  vq rm 12 13 14")
    p.add_argument("jobs", nargs="+", type=_int, metavar="JOB")

    command("pause", "stop dispatching; unstarted prompts come back out of ComfyUI", "example:\n  vq pause")
    command("resume", "resume dispatching", "example:\n  vq resume")

    p = command("priority", "set a job's priority (higher runs first)", "example:\n  vq priority 12 10")
    p.add_argument("job", type=_int, metavar="JOB")
    p.add_argument("priority", type=_int, metavar="N")

    p = command("top", "move a job above every other waiting job", "example:\n  vq top 12")
    p.add_argument("job", type=_int, metavar="JOB")

    p = command("clear", "cancel every waiting prompt (asks first)", "examples:\n  vq clear\n  vq clear --yes")
    p.add_argument("-y", "--yes", action="store_true", help="do not ask")
    p.add_argument("--running", action="store_true", help="also interrupt running prompts")

    p = command("watch", "live progress of running jobs, or of one job until it ends",
                "examples:\n  vq watch\n  vq watch 12")
    p.add_argument("job", nargs="?", type=_int, metavar="JOB")
    p.add_argument("--interval", type=_seconds, default=1.0, metavar="SECONDS", help="poll interval")

    p = command("cleanup", "staged input retention: show what would be removed, or remove it",
                "examples:\n  vq cleanup\n  vq cleanup --apply")
    p.add_argument("--apply", action="store_true", help="remove the files (default: dry run)")

    p = command("autoprompt", autoprompt.HELP, autoprompt.EPILOG)
    autoprompt.configure(p)
    p.add_argument("--interval", type=_seconds, default=1.0, metavar="SECONDS", help="progress poll interval")
    return parser


def parse_args(argv: Sequence[str], environ: dict[str, str] | None = None) -> argparse.Namespace:
    env = os.environ if environ is None else environ
    args = build_parser().parse_args(_offline_flag(list(argv)))
    args.url = args.url or env.get("VQ_URL") or DEFAULT_URL
    if getattr(args, "data_dir", None) is None and args.command == "submit":
        args.data_dir = env.get("VQ_DATA_DIR") or None
    return args


def _offline_flag(argv: list[str]) -> list[str]:
    """``--offline`` takes an optional value, so argparse would swallow the next word
    (``vq submit --offline wan-i2v DIR``). Bare ``--offline`` means ``--offline=always``."""
    out = []
    for i, arg in enumerate(argv):
        if arg == "--offline" and (i + 1 == len(argv) or argv[i + 1] not in OFFLINE_MODES):
            arg = "--offline=always"
        out.append(arg)
    return out


def commands() -> dict[str, Command]:
    from . import cleanup, health, submit, workflows
    from . import commands as c
    from . import watch as w

    return {
        "health": health.run_health, "list": c.run_list, "status": c.run_status, "log": c.run_log,
        "cancel": c.run_cancel, "retry": c.run_retry, "rm": c.run_rm, "pause": c.run_pause, "resume": c.run_resume,
        "priority": c.run_priority, "top": c.run_top, "clear": c.run_clear, "watch": w.run_watch,
        "submit": submit.run_submit, "workflows": workflows.run_workflows, "cleanup": cleanup.run_cleanup,
        "autoprompt": autoprompt.run_autoprompt,
    }


def main(argv: Sequence[str] | None = None, *, io: IO | None = None,
         connect: Callable[[str, float], VqClient] | None = None, now: Callable[[], float] = time.time,
         environ: dict[str, str] | None = None) -> int:
    """Run one vq command; returns the exit code (the console script exits with it).
    Tests pass ``io``, ``connect`` (url, timeout -> client), ``now`` and ``environ``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv  # known before parsing, so even a parse error can show its traceback
    io = io or IO.from_system(no_color="--no-color" in argv, environ=environ)
    try:
        try:
            args = parse_args(argv, environ)
        except SystemExit as exc:  # --help and --version print and "exit"
            return int(exc.code or 0)
        session = (connect or _connect)(args.url, args.timeout)
        return int(commands()[args.command](args, io, session, now))
    except KeyboardInterrupt:
        io.err("\nvq: interrupted")
        return ExitCode.INTERRUPTED
    except BrokenPipeError:  # `vq list | head`: the reader left; not an error worth a message
        _silence_stdout()
        return ExitCode.OK
    except CliError as exc:
        report(io, exc, debug)
        return exit_code_for(exc)
    except Exception as exc:  # a bug in vq itself: one line, the traceback with --debug
        if debug:
            traceback.print_exception(type(exc), exc, exc.__traceback__, file=io.stderr)
        hint = "" if debug else " (run with --debug for details)"
        io.err(f"vq: internal error: {type(exc).__name__}: {exc}{hint}")
        return ExitCode.FAILURE


def _connect(url: str, timeout: float) -> VqClient:
    return VqClient(url, timeout=timeout)


def report(io: IO, exc: CliError, debug: bool) -> None:
    if debug:
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=io.stderr)
    if isinstance(exc, UsageError) and exc.hint and exc.hint.startswith("usage:"):
        io.err(exc.hint)  # argparse style: the usage line, then the error
        io.err(f"vq: error: {exc.message}")
        return
    io.err(f"vq: error: {exc.message}")
    if isinstance(exc, ApiError):
        for problem in exc.details.get("errors") or []:
            loc = ".".join(str(part) for part in problem.get("loc") or []) or "body"
            io.err(f"  {loc}: {problem.get('msg', '')}")
    if exc.hint:
        io.err(f"  hint: {exc.hint}")


def _silence_stdout() -> None:
    # Python flushes stdout at exit; after EPIPE that flush would raise again.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
