"""``vq submit``: types ``--param`` values by the workflow's description first (exit 2, nothing
queued, when one is wrong), then posts one body to ``POST /vq/v1/jobs`` (or, offline,
hands the same request to ``JobService`` directly; see ``offline.py``).
"""

from __future__ import annotations

import argparse
import json
import shlex
import uuid
from collections.abc import Callable
from typing import Any

from .body import submit_body
from .errors import CliError, ExitCode, Unreachable
from .http import VqClient
from .output import IO, plural, table
from .params import parse_params, parse_per_file
from .watch import follow_job

Clock = Callable[[], float]


def run_submit(args: argparse.Namespace, io: IO, session: VqClient, now: Clock) -> int:
    # Syntax first: a malformed --param is an error even before anything is fetched.
    raw_params = parse_params(args.param)
    raw_per_file = parse_per_file(args.per_file)
    if args.offline == "always":
        return _offline(args, io, raw_params, raw_per_file)
    try:
        description = session.get(f"/workflows/{args.workflow}")
    except Unreachable:
        if args.offline != "auto":
            raise
        io.err(f"vq: warning: ComfyUI is not reachable at {session.url}; writing the job to the queue database "
               "instead (--offline=auto)")
        return _offline(args, io, raw_params, raw_per_file)
    body = submit_body(args, description, raw_params, raw_per_file)
    answer = post_job(session, body, args.idempotency_key or str(uuid.uuid4()), args.name or args.workflow)
    if args.dry_run:
        return _show_plan(args, io, answer)
    return _queued(args, io, session, answer)


SUBMIT_TRIES = 3  # a dropped connection is retried with the same Idempotency-Key


def post_job(session: VqClient, body: dict[str, Any], key: str, name: str) -> Any:
    """POST /jobs under one Idempotency-Key: a retry after a dropped connection cannot
    queue the job twice. A timeout is not retried (the server may still be staging): the
    error says the job may exist and how to check, or to re-run with the same key."""
    for attempt in range(1, SUBMIT_TRIES + 1):
        try:
            return session.post("/jobs", body, headers={"Idempotency-Key": key})
        except Unreachable as exc:
            if exc.timed_out:
                raise CliError(
                    f"{exc.message}; the job may have been created anyway",
                    hint=f"check with `vq list --search {shlex.quote(name)}`, or re-run the same command with "
                         f"--idempotency-key {key}: it then answers with that job instead of queueing a second one",
                ) from exc
            if attempt == SUBMIT_TRIES:
                raise
    raise AssertionError("unreachable")


def _queued(args: argparse.Namespace, io: IO, session: VqClient, job: dict[str, Any]) -> int:
    if not args.wait:
        if args.json:
            io.json(job)
        else:
            io.out(f"Queued job {job['id']} ({job.get('name') or ''}): {plural(job.get('total', 0), 'prompt')} "
                   f"of {job.get('workflow') or args.workflow}.")
            io.err(f"follow it with: vq watch {job['id']}")
        return ExitCode.OK
    if not args.json:
        io.out(f"Queued job {job['id']} ({job.get('name') or ''}): {plural(job.get('total', 0), 'prompt')}.")
    try:
        return follow_job(io, session, job["id"], interval=args.interval, json=args.json)
    except KeyboardInterrupt:
        io.err(f"\nvq: stopped waiting; job {job['id']} stays queued (vq watch {job['id']}, vq cancel {job['id']})")
        raise


def _show_plan(args: argparse.Namespace, io: IO, plan: dict[str, Any]) -> int:
    if args.json:
        io.json(plan)
        return ExitCode.OK
    for line in plan_lines(io, plan, verbose=args.verbose):
        io.out(line)
    return ExitCode.OK


def plan_lines(io: IO, plan: dict[str, Any], *, verbose: int = 0) -> list[str]:
    prompts = plan.get("prompts") or []
    total = plan.get("total", len(prompts))
    lines = [f"Dry run: job {plan.get('name') or ''!r} of {plan.get('workflow') or '?'} would queue "
             f"{plural(total, 'prompt')}; nothing was queued."]
    rows = [[str(p.get("index", i)), p.get("input_file") or "-", str(p.get("try_index", 0)),
             "-" if p.get("seed") is None else str(p["seed"])] for i, p in enumerate(prompts)]
    lines += table(io, ["#", "FILE", "TRY", "SEED"], rows, right=(0, 2, 3), shrink=1)
    if verbose:
        for i, p in enumerate(prompts):
            if p.get("graph") is not None:  # the server leaves out graphs beyond the 50th
                lines += ["", f"# prompt {p.get('index', i)}: rendered graph",
                          json.dumps(p["graph"], indent=2, ensure_ascii=False)]
    if plan.get("next_offset") is not None:
        lines.append(f"(listed prompts {plan.get('offset', 0)} to {plan['next_offset'] - 1} of {total}; "
                     "the API pages through the rest with dry_run_offset)")
    for warning in plan.get("warnings") or []:
        lines.append(f"warning: {warning}")
    return lines


def _offline(args: argparse.Namespace, io: IO, raw_params: dict[str, str],
             raw_per_file: dict[str, dict[str, str]]) -> int:
    from .offline import submit_offline

    answer = submit_offline(args, io, raw_params, raw_per_file)
    if args.dry_run:
        return _show_plan(args, io, answer)
    if args.json:
        io.json(answer)
    else:
        io.out(f"Wrote job {answer['id']} ({answer.get('name') or ''}): {plural(answer.get('total', 0), 'prompt')} "
               "to the queue database; ComfyUI runs it when it starts.")
    if args.wait:
        io.err("vq: --wait ignored: nothing runs the job until ComfyUI starts (then: vq watch "
               f"{answer['id']})")
    return ExitCode.OK
