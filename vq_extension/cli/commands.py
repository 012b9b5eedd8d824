"""Queue commands: list, status, log, cancel, retry, pause, resume, priority,
top, clear. Each is ``run_<cmd>(args, io, session, now) -> int``: ``session`` is the
HTTP client, ``now`` the clock, so tests run them against a fake server and a fixed time.

Human output goes to stdout; ``--json`` prints exactly the API body instead. Errors are
raised (``CliError``) and reported by ``app.main`` in one place.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from .errors import ApiError, CliError, ExitCode, UsageError, exit_code_for
from .http import VqClient
from .output import (
    IO,
    PROMPT_ORDER,
    STATUS_STYLE,
    TERMINAL_JOB,
    counts_text,
    duration,
    fields,
    plural,
    table,
    when,
)

Clock = Callable[[], float]


# --- list -----------------------------------------------------------------------------


def run_list(args: argparse.Namespace, io: IO, session: VqClient, now: Clock) -> int:
    body = session.get("/jobs", {"status": args.status, "search": args.search, "limit": args.limit,
                                 "sort": args.sort})
    if args.json:
        io.json(body)
        return ExitCode.OK
    jobs = body.get("jobs") or []
    if not jobs:
        io.err("no jobs match" if (args.status or args.search) else "no jobs yet (vq submit WORKFLOW FOLDER)")
        return ExitCode.OK
    for line in job_table(io, jobs, now()):
        io.out(line)
    if body.get("total", len(jobs)) > len(jobs):
        io.err(f"showing {len(jobs)} of {body['total']} jobs (see --limit)")
    return ExitCode.OK


def job_table(io: IO, jobs: list[dict[str, Any]], now: float) -> list[str]:
    rows = [
        [
            str(j["id"]),
            (j["status"], _style(j["status"])),
            j.get("name") or "",
            j.get("workflow") or "-",
            f"{j.get('done', 0)}/{j.get('total', 0)}",
            str(j.get("priority", 0)),
            when(io, j.get("created_at"), now),
            duration(j.get("eta_seconds")) if j.get("eta_seconds") is not None else "-",
        ]
        for j in jobs
    ]
    return table(io, ["ID", "STATUS", "NAME", "WORKFLOW", "DONE", "PRIO", "CREATED", "ETA"], rows,
                 right=(0, 4, 5), shrink=2)


def _style(status: str) -> str | None:
    return STATUS_STYLE.get(status)


# --- status -----------------------------------------------------------------------------


def run_status(args: argparse.Namespace, io: IO, session: VqClient, now: Clock) -> int:
    job = session.get(f"/jobs/{args.job}")
    if args.json:
        io.json(job)
        return ExitCode.OK
    for line in job_detail_lines(io, job, now(), verbose=args.verbose):
        io.out(line)
    return ExitCode.OK


def job_detail_lines(io: IO, job: dict[str, Any], now: float, *, verbose: int = 0) -> list[str]:
    lines = [f"{io.paint('Job ' + str(job['id']), 'bold')}  {job.get('name') or ''}  {io.status(job['status'])}"]
    workflow = job.get("workflow") or "-"
    if job.get("mode"):
        workflow += f" ({job['mode']})"
    pairs = [
        ("workflow", workflow),
        ("priority", str(job.get("priority", 0))),
        ("created", when(io, job.get("created_at"), now)),
        ("started", when(io, job.get("started_at"), now)),
        ("finished", when(io, job.get("finished_at"), now)),
        ("progress", f"{job.get('done', 0)}/{job.get('total', 0)} done: "
                     f"{counts_text(io, job.get('counts') or {}, PROMPT_ORDER)}"),
    ]
    if job.get("eta_seconds") is not None:
        pairs.append(("eta", duration(job["eta_seconds"])))
    source = job.get("source") or {}
    if source.get("folder"):
        pairs.append(("input", str(source["folder"])))
    lines += ["  " + line for line in fields(io, pairs)]
    prompts = job.get("prompts") or []
    if prompts:
        lines.append("")
        lines += prompt_table(io, prompts, verbose=verbose)
    errors = [p for p in prompts if p.get("error")]
    if errors:
        lines += ["", io.paint("Errors", "bold")]
        for p in errors:
            lines += ["  " + line for line in error_lines(io, p, verbose=verbose)]
    outputs = [(p, o) for p in prompts for o in p.get("outputs") or []]
    if outputs:
        lines += ["", io.paint("Outputs", "bold")]
        for p, o in outputs:
            lines.append(f"  #{p['index'] + 1}  {output_path(o)}")
    return lines


def prompt_table(io: IO, prompts: list[dict[str, Any]], *, verbose: int = 0) -> list[str]:
    rows = []
    for p in prompts:
        progress = p.get("progress") or {}
        status = p["status"]
        if status == "running" and progress.get("max"):
            status_text = f"{status} {int(progress.get('value', 0))}/{int(progress['max'])}"
        else:
            status_text = status
        comfy = p.get("comfy_prompt_id") or "-"
        rows.append([
            str(p["index"] + 1),
            str(p["id"]),
            (status_text, _style(status)),
            str(p.get("try_index", 0) + 1),
            "-" if p.get("seed") is None else str(p["seed"]),
            f"{p.get('attempt', 0)}/{p.get('max_attempts', '?')}",
            comfy if verbose or comfy == "-" else comfy[:8],
            _input_name(p.get("input_file")) if not verbose else (p.get("input_file") or "-"),
            str(len(p.get("outputs") or [])),
        ])
    # "#" and TRY count from 1 as in the sidebar; ID is what `vq cancel/retry --prompt ID` takes.
    return table(io, ["#", "ID", "STATUS", "TRY", "SEED", "ATTEMPT", "COMFY ID", "INPUT", "OUT"], rows,
                 right=(0, 1, 3, 4, 8), shrink=7)


def _input_name(path: str | None) -> str:
    if not path:
        return "-"
    return path.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]


def error_lines(io: IO, prompt: dict[str, Any], *, verbose: int = 0) -> list[str]:
    e = prompt["error"]
    where = ""
    if e.get("node_id"):
        where = f" in node {e['node_id']}" + (f" ({e['node_type']})" if e.get("node_type") else "")
    lines = [f"#{prompt['index'] + 1}  {io.paint(e.get('type') or 'error', 'red')}{where}: {e.get('message', '')}"]
    if verbose and e.get("traceback"):
        lines += ["    " + line.rstrip() for chunk in e["traceback"] for line in str(chunk).splitlines()]
    return lines


def output_path(o: dict[str, Any]) -> str:
    parts = [o.get("type") or "output", o.get("subfolder") or "", o.get("filename") or "?"]
    return "/".join(p for p in parts if p)


# --- log ------------------------------------------------------------------------------


def run_log(args: argparse.Namespace, io: IO, session: VqClient, now: Clock) -> int:
    after = 0
    while True:
        page = session.get(f"/jobs/{args.job}/log", {"after": after})
        entries = page.get("entries") or []
        if args.json and not args.follow:
            io.json(page)
            return ExitCode.OK
        for entry in entries:
            if args.json:
                io.json_line(entry)
            else:
                io.out(log_line(io, entry))
        after = page.get("next_after", after)
        if not args.follow:
            return ExitCode.OK
        if entries:
            continue  # a full page: read on before sleeping
        # Stop once the job is finished and its log drained (no more entries will come).
        if session.get(f"/jobs/{args.job}").get("status") in TERMINAL_JOB:
            if not session.get(f"/jobs/{args.job}/log", {"after": after}).get("entries"):
                return ExitCode.OK
            continue
        io.sleep(args.interval)


LEVEL_STYLE = {"error": "red", "warning": "yellow", "info": None, "debug": "dim"}


def log_line(io: IO, entry: dict[str, Any]) -> str:
    at = (entry.get("at") or "").replace("T", " ").rstrip("Z")[:19]
    level = entry.get("level", "info")
    return f"{io.paint(at, 'dim')}  {io.paint(level.ljust(7), LEVEL_STYLE.get(level))}  " \
           f"{entry.get('event', '')}: {entry.get('message', '')}"


# --- cancel / retry -----------------------------------------------------------------------


def run_cancel(args: argparse.Namespace, io: IO, session: VqClient, now: Clock) -> int:
    if _wants_prompt(args):
        return _on_prompt(args, io, session, "cancel", "")

    def say(job_id: int, body: dict[str, Any]) -> str:
        what = [plural(body.get("canceled", 0), "prompt") + " canceled"]
        if body.get("canceling"):
            what.append(f"{body['canceling']} being interrupted")
        return f"Job {job_id}: {', '.join(what)} (job is {io.status(body['job']['status'])})."

    return _each_job(args, io, lambda job_id: session.post(f"/jobs/{job_id}/cancel"), say)


def run_retry(args: argparse.Namespace, io: IO, session: VqClient, now: Clock) -> int:
    if _wants_prompt(args):
        return _on_prompt(args, io, session, "retry", " again")

    def say(job_id: int, body: dict[str, Any]) -> str:
        return f"Job {job_id}: {plural(body.get('retried', 0), 'prompt')} back in the queue " \
               f"(job is {io.status(body['job']['status'])})."

    return _each_job(args, io, lambda job_id: session.post(f"/jobs/{job_id}/retry"), say)


def run_rm(args: argparse.Namespace, io: IO, session: VqClient, now: Clock) -> int:
    return _each_job(args, io, lambda job_id: session.delete(f"/jobs/{job_id}"),
                     lambda job_id, _body: f"Job {job_id} deleted.")


def _wants_prompt(args: argparse.Namespace) -> bool:
    """True for ``--prompt ID``; refuses a mix of job ids and --prompt, or neither."""
    if args.prompt is not None and args.jobs:
        raise UsageError("give job ids or --prompt ID, not both")
    if args.prompt is None and not args.jobs:
        raise UsageError("which job? give one or more job ids, or --prompt ID")
    return args.prompt is not None


def _on_prompt(args: argparse.Namespace, io: IO, session: VqClient, action: str, suffix: str) -> int:
    detail = session.post(f"/prompts/{args.prompt}/{action}")
    if args.json:
        io.json(detail)
    else:
        io.out(f"Prompt {args.prompt} (job {detail['job_id']} #{detail['index'] + 1}) is "
               f"{io.status(detail['status'])}{suffix}.")
    return ExitCode.OK


def _each_job(args: argparse.Namespace, io: IO, call: Callable[[int], dict[str, Any]],
              say: Callable[[int, dict[str, Any]], str]) -> int:
    """Act on every job given, even after one fails; the worst outcome is the exit code.
    ``--json`` prints the body for one job; for several, a list with each job's body or
    error envelope in order (the errors are also reported on stderr)."""
    if len(args.jobs) == 1:  # one job: its body, or its error through main() like any command
        body = call(args.jobs[0])
        if args.json:
            io.json(body)
        else:
            io.out(say(args.jobs[0], body))
        return ExitCode.OK
    worst = ExitCode.OK
    bodies: list[Any] = []
    for job_id in args.jobs:
        try:
            body = call(job_id)
        except ApiError as exc:
            io.err(f"vq: job {job_id}: {exc.message}")
            bodies.append(exc.body)
            worst = max(worst, exit_code_for(exc))
            continue
        bodies.append(body)
        if not args.json:
            io.out(say(job_id, body))
    if args.json:
        io.json(bodies)
    return worst


# --- queue -----------------------------------------------------------------------------


def queue_line(io: IO, state: dict[str, Any]) -> str:
    paused = io.paint("paused", "yellow") if state.get("paused") else io.paint("running", "green")
    return f"Queue {paused}; worker {io.status(state.get('worker'))}, " \
           f"{state.get('in_flight', 0)}/{state.get('max_in_flight', '?')} in flight; " \
           f"prompts: {counts_text(io, state.get('counts') or {}, PROMPT_ORDER)}"


def run_pause(args: argparse.Namespace, io: IO, session: VqClient, now: Clock) -> int:
    return _queue_action(args, io, session.post("/queue/pause"))


def run_resume(args: argparse.Namespace, io: IO, session: VqClient, now: Clock) -> int:
    return _queue_action(args, io, session.post("/queue/resume"))


def _queue_action(args: argparse.Namespace, io: IO, state: dict[str, Any]) -> int:
    if args.json:
        io.json(state)
    else:
        io.out(queue_line(io, state))
    return ExitCode.OK


def run_priority(args: argparse.Namespace, io: IO, session: VqClient, now: Clock) -> int:
    job = session.patch(f"/jobs/{args.job}", {"priority": args.priority})
    if args.json:
        io.json(job)
    else:
        io.out(f"Job {job['id']} priority is now {job['priority']}.")
    return ExitCode.OK


def run_top(args: argparse.Namespace, io: IO, session: VqClient, now: Clock) -> int:
    job = session.post(f"/jobs/{args.job}/top")
    if args.json:
        io.json(job)
    else:
        io.out(f"Job {job['id']} is at the top of the queue (priority {job['priority']}).")
    return ExitCode.OK


def run_clear(args: argparse.Namespace, io: IO, session: VqClient, now: Clock) -> int:
    state = session.get("/queue")
    counts = state.get("counts") or {}
    statuses = ["pending", "queued"] + (["running"] if args.running else [])
    count = sum(counts.get(s, 0) for s in statuses)
    if count == 0:
        if args.json:
            io.json({"cleared": 0})
        else:
            io.out("Nothing to clear: no waiting prompts.")
        return ExitCode.OK
    what = plural(count, "prompt") + (" (pending, queued and running)" if args.running else " (pending and queued)")
    if not args.yes:
        if not io.stdin_tty:
            raise UsageError(f"vq clear would cancel {what}; pass --yes to confirm without a terminal")
        if not io.confirm(f"Cancel {what}?"):
            io.err("Nothing canceled.")
            return ExitCode.OK
    try:
        body = session.post("/queue/clear", {"expected_count": count, "include_running": bool(args.running)})
    except ApiError as exc:
        if exc.code == "count_changed":
            raise CliError(exc.message, hint="run vq clear again to see the new count") from exc
        raise
    if args.json:
        io.json(body)
    else:
        io.out(f"Canceled {plural(body.get('cleared', 0), 'prompt')}.")
    return ExitCode.OK

