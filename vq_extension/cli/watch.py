"""Live progress: ``vq watch [JOB]`` and ``vq submit --wait``.

Polls the REST API (every ``--interval`` seconds; the websocket would save a request a
second but needs a second client library). On a TTY the live lines are redrawn in place
and finished jobs scroll above them; piped, one plain line is printed per change, so a
log file reads like a history.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import Any

from .errors import ExitCode, JobEnded, Unreachable
from .http import VqClient
from .output import (
    IO,
    PROMPT_ORDER,
    TERMINAL_JOB,
    bar,
    counts_text,
    duration,
    plural,
    truncate,
)

Clock = Callable[[], float]
ACTIVE = "pending,running"
RECONNECT_SECONDS = 2.0  # poll interval while ComfyUI does not answer
# Cursor to the start of the line N lines up, then clear to the end of the screen.
UP_AND_CLEAR = "\x1b[{n}F\x1b[J"


class LiveArea:
    """The block of lines at the bottom of the terminal that is redrawn each tick."""

    def __init__(self, io: IO) -> None:
        self.io = io
        self.drawn = 0

    def draw(self, lines: list[str], above: Sequence[str] = ()) -> None:
        """Replace the live lines with ``lines``; ``above`` is printed once, for good."""
        out = self.io.stdout
        if self.drawn:
            out.write(UP_AND_CLEAR.format(n=self.drawn))
        for line in [*above, *lines]:
            out.write(line + "\n")
        out.flush()
        self.drawn = len(lines)


def bar_width(io: IO) -> int:
    # A job line is about 66 columns plus its bar: keep it on one terminal row, or the
    # cursor-up redraw would miscount lines.
    return max(10, min(40, io.width - 66))


def job_line(io: IO, job: dict[str, Any]) -> str:
    total, done = job.get("total", 0), job.get("done", 0)
    eta = f"  ETA {duration(job['eta_seconds'])}" if job.get("eta_seconds") is not None else ""
    name = truncate(job.get("name") or "", 24).ljust(24)
    progress = io.paint(bar(done / total if total else 0, bar_width(io)), "blue")
    return f"{str(job['id']).rjust(4)}  {name}  {progress}  {done}/{total}  {io.status(job['status'])}{eta}"


def step_line(io: IO, prompt_label: str, progress: dict[str, Any] | None) -> str:
    progress = progress or {}
    value, most = progress.get("value") or 0, progress.get("max") or 0
    node = f"  node {progress['node']}" if progress.get("node") else ""
    steps = f"{int(value)}/{int(most)} steps" if most else "starting"
    return f"      {prompt_label.ljust(24)}  {io.paint(bar(value / most if most else 0, bar_width(io)), 'cyan')}  " \
           f"{steps}{node}"


def final_line(io: IO, job: dict[str, Any]) -> str:
    mark = {"succeeded": "✓", "failed": "✗", "canceled": "-"}.get(job["status"], "·")
    return f"{io.paint(mark, 'green' if job['status'] == 'succeeded' else 'red')} job {job['id']} " \
           f"{job.get('name') or ''}: {io.status(job['status'])}, {job.get('done', 0)}/{job.get('total', 0)} done " \
           f"({counts_text(io, job.get('counts') or {}, PROMPT_ORDER)})"


class Poller:
    """GET that rides out a ComfyUI restart: vq's queue survives restarts, so a long
    ``--wait`` or ``watch`` should too. The first failed poll is reported on stderr and
    None returned; polling goes on (Ctrl-C ends it) and a reconnect is reported."""

    def __init__(self, io: IO, session: VqClient) -> None:
        self.io, self.session = io, session
        self.lost = False

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        try:
            body = self.session.get(path, params)
        except Unreachable as exc:
            if not self.lost:
                self.io.err(f"vq: warning: {exc.message}; still trying (Ctrl-C to stop watching; "
                            "the queue keeps its jobs)")
                self.lost = True
            return None
        if self.lost:
            self.io.err(f"vq: reconnected to {self.session.url}")
            self.lost = False
        return body


# --- one job ------------------------------------------------------------------------------


def follow_job(io: IO, session: VqClient, job_id: int, *, interval: float, json: bool) -> int:
    """Follow a job until it finishes. 0 when it succeeded; JobEnded (exit 1) otherwise."""
    live = LiveArea(io)
    seen: dict[int, tuple[str, int]] = {}
    poll = Poller(io, session)
    while True:
        job = poll.get(f"/jobs/{job_id}")
        if job is None:
            io.sleep(max(interval, RECONNECT_SECONDS))
            continue
        ended = job["status"] in TERMINAL_JOB
        if not json:
            if not io.stdout_tty:
                _job_changes(io, job, seen)
            elif not ended:  # the final line below replaces the live lines
                live.draw(_job_frame(io, job))
        if ended:
            break
        io.sleep(interval)
    if json:
        io.json(job)
    elif io.stdout_tty:
        live.draw([final_line(io, job)])
    else:
        io.out(final_line(io, job))
    if job["status"] != "succeeded":
        failed = (job.get("counts") or {}).get("failed", 0)
        why = f"{plural(failed, 'prompt')} failed" if failed else "it was canceled"
        raise JobEnded(f"job {job_id} ended {job['status']}: {why}", hint=f"see vq status {job_id} and vq log {job_id}")
    return ExitCode.OK


def _job_frame(io: IO, job: dict[str, Any]) -> list[str]:
    lines = [job_line(io, job)]
    for p in job.get("prompts") or []:
        if p["status"] in ("running", "canceling"):
            label = f"#{p['index'] + 1} " + (p.get("input_file") or "").replace("\\", "/").rsplit("/", 1)[-1]
            lines.append(step_line(io, truncate(label, 24), p.get("progress")))
    return lines


def _job_changes(io: IO, job: dict[str, Any], seen: dict[int, tuple[str, int]]) -> None:
    """Piped: a line whenever a prompt changes status (not per sampler step: too chatty)."""
    for p in job.get("prompts") or []:
        key = (p["status"], p.get("attempt", 0))
        if seen.get(p["id"]) != key:
            if p["id"] in seen or p["status"] != "pending":
                io.out(f"job {job['id']} #{p['index'] + 1} {p['status']} ({job.get('done', 0)}/{job.get('total', 0)} done)")
            seen[p["id"]] = key
    io.stdout.flush()


# --- everything ------------------------------------------------------------------------------


def run_watch(args: argparse.Namespace, io: IO, session: VqClient, now: Clock) -> int:
    if args.job is not None:
        return follow_job(io, session, args.job, interval=args.interval, json=args.json)
    live = LiveArea(io)
    active: dict[int, dict[str, Any]] = {}
    last_line: dict[int, str] = {}
    poll = Poller(io, session)
    try:
        while True:
            jobs = poll.get("/jobs", {"status": ACTIVE, "sort": "actionable", "limit": 100})
            if jobs is None:
                io.sleep(max(args.interval, RECONNECT_SECONDS))
                continue
            if args.json:
                io.json_line(jobs)
            else:
                current = {j["id"]: j for j in jobs.get("jobs") or []}
                finished = [_final(session, jid) for jid in active if jid not in current]
                active = current
                state = session.get("/queue")
                if io.stdout_tty:
                    live.draw(_all_frame(io, state, list(current.values())), [final_line(io, j) for j in finished])
                else:
                    _all_changes(io, list(current.values()), finished, last_line)
            io.sleep(args.interval)
    except KeyboardInterrupt:
        return ExitCode.OK  # Ctrl-C is how one stops watching everything


def _final(session: VqClient, job_id: int) -> dict[str, Any]:
    return session.get(f"/jobs/{job_id}")


def _all_frame(io: IO, state: dict[str, Any], jobs: list[dict[str, Any]]) -> list[str]:
    paused = io.paint("paused", "yellow") if state.get("paused") else "running"
    lines = [f"queue {paused} · worker {io.status(state.get('worker'))} "
             f"{state.get('in_flight', 0)}/{state.get('max_in_flight', '?')} in flight · "
             f"{counts_text(io, state.get('counts') or {}, PROMPT_ORDER)}"]
    if not jobs:
        lines.append("  nothing waiting or running")
    for job in jobs:
        lines.append(job_line(io, job))
        if job.get("current"):
            lines.append(step_line(io, f"prompt {job['current'].get('prompt_id')}", job["current"]))
    return lines


def _all_changes(io: IO, jobs: list[dict[str, Any]], finished: list[dict[str, Any]],
                 last_line: dict[int, str]) -> None:
    for job in finished:
        io.out(final_line(io, job))
        last_line.pop(job["id"], None)
    for job in jobs:
        line = f"job {job['id']} {job.get('name') or ''}: {job['status']} {job.get('done', 0)}/{job.get('total', 0)}"
        if job.get("eta_seconds") is not None:
            line += f" ETA {duration(job['eta_seconds'])}"
        if last_line.get(job["id"], "").split(" ETA")[0] != line.split(" ETA")[0]:
            io.out(line)
        last_line[job["id"]] = line
    io.stdout.flush()
