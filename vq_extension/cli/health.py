"""``vq health``: is ComfyUI up, is vq's worker running, how vq drives this ComfyUI, which
instances share the queue, and which prompts look stuck."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from .errors import ExitCode
from .http import VqClient
from .output import IO, PROMPT_ORDER, counts_text, fields

Clock = Callable[[], float]


def run_health(args: argparse.Namespace, io: IO, session: VqClient, now: Clock) -> int:
    body = session.get("/health")
    ok = bool(body.get("ok"))
    if args.json:
        io.json(body)
    else:
        queue = body.get("queue") or {}
        db = body.get("db") or {}
        state = io.paint("ok", "green") if ok else io.paint("not ok", "red")
        io.out(f"vq {body.get('vq_version', '?')} on ComfyUI {body.get('comfyui_version', '?')} at "
               f"{session.url}: {state}")
        worker = queue.get("worker", "?")
        pairs = [
            ("worker", f"{io.status(worker)} ({queue.get('in_flight', 0)}/{queue.get('max_in_flight', '?')} in flight)"
             + (f": {queue['worker_error']}" if queue.get("worker_error") else "")),
            ("paused", "yes" if queue.get("paused") else "no"),
            ("prompts", counts_text(io, queue.get("counts") or {}, PROMPT_ORDER)),
            ("database", f"{db.get('path', '?')} (schema {db.get('schema_version', '?')}, "
                         f"SQLite {db.get('sqlite_version', '?')})"),
        ]
        for stuck in queue.get("stuck") or []:
            pairs.append((io.paint("stuck?", "yellow"),
                          f"prompt {stuck['prompt_id']} (job {stuck['job_id']} #{stuck['index'] + 1}) has run "
                          f"{_minutes(stuck['running_seconds'])}, over 3x its workflow's average of "
                          f"{_minutes(stuck['average_seconds'])}; interrupt it: vq cancel --prompt {stuck['prompt_id']}"))
        instances = body.get("instances") or []
        if instances:  # ComfyUI processes sharing this queue (one per GPU, say)
            names = [f"{i.get('host')}:{i.get('port') or '-'} (pid {i.get('pid')})"
                     + (" (this one)" if i.get("id") == body.get("instance") else "") for i in instances]
            pairs.append(("instances", ", ".join(names)))
        for line in fields(io, pairs):
            io.out("  " + line)
        # How vq drives this ComfyUI version (integration brief §11): what to quote in a bug report.
        strategies = [(k, str(v)) for k, v in (body.get("strategies") or {}).items() if k != "comfyui_version"]
        if strategies:
            io.out("  " + io.paint("strategies", "dim"))
            for line in fields(io, strategies):
                io.out("    " + line)
    # Scripts can gate on `vq health`: not ok (dispatcher dead or erroring) is a failure.
    return ExitCode.OK if ok else ExitCode.FAILURE


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds >= 120 else f"{seconds:.0f} s"
