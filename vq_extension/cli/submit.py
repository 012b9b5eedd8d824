"""Workflow commands: ``submit``, ``workflows``, ``cleanup``.

``submit`` types ``--param`` values by the workflow's description first (exit 2, nothing
queued, when one is wrong), then posts one body to ``POST /vq/v1/jobs`` (or, offline,
hands the same request to ``JobService`` directly; see ``offline.py``).
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from typing import Any

from .errors import ExitCode, Unreachable, UsageError
from .http import VqClient
from .output import IO, plural, table
from .params import coerce_params, coerce_per_file, parse_params, parse_per_file
from .watch import follow_job

Clock = Callable[[], float]


# --- submit -------------------------------------------------------------------------------------


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
    answer = session.post("/jobs", body)
    if args.dry_run:
        return _show_plan(args, io, answer)
    return _queued(args, io, session, answer)


def submit_body(args: argparse.Namespace, description: dict[str, Any], raw_params: dict[str, str],
                raw_per_file: dict[str, dict[str, str]]) -> dict[str, Any]:
    """The POST /vq/v1/jobs body for this command line (also what offline mode submits).
    Options left at their default are left out, so the server's defaults apply (staging
    from its settings, prompt mode from per-file params, random seeds without --seed)."""
    params = coerce_params(description, raw_params)
    per_file = coerce_per_file(description, raw_per_file)
    seed = args.seed
    if "seed" in params:
        # The server draws random seeds unless `seed` is given, which would silently ignore
        # --param seed=N: it means --seed N.
        if seed is not None or args.random_seed:
            raise UsageError("give the seed once: --seed N, --random-seed or --param seed=N")
        seed = params.pop("seed")
    body: dict[str, Any] = {"workflow": args.workflow, "params": params, "tries": args.tries,
                            "priority": args.priority}
    optional = {
        "input": input_value(args.inputs),
        "per_file_params": per_file or None,
        "prompt_mode": args.prompt_mode,
        "seed": seed,
        "randomize_seed": True if args.random_seed else None,
        "name": args.name,
        "stage": False if args.no_stage else None,
        "move_processed": True if args.move_processed else None,
        "dry_run": True if args.dry_run else None,
    }
    body.update({k: v for k, v in optional.items() if v is not None})
    return body


def input_value(inputs: list[str]) -> str | list[str] | None:
    """Nothing (T2I), one folder or file, or a list of files. Paths that exist here are made
    absolute: the server does not know the CLI's working directory. Others are sent as
    given (a path on the ComfyUI host, e.g. when --url points at another machine)."""
    resolved = [_absolute(p) for p in inputs]
    if not resolved:
        return None
    return resolved[0] if len(resolved) == 1 else resolved


def _absolute(path: str) -> str:
    expanded = os.path.expanduser(path)
    return os.path.abspath(expanded) if os.path.exists(expanded) else path


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
    rows = [[str(p.get("index", i) + 1), p.get("input_file") or "-", str(p.get("try_index", 0) + 1),
             "-" if p.get("seed") is None else str(p["seed"])] for i, p in enumerate(prompts)]
    lines += table(io, ["#", "FILE", "TRY", "SEED"], rows, right=(0, 2, 3), shrink=1)
    if verbose:
        for i, p in enumerate(prompts):
            if p.get("graph") is not None:  # the server leaves out graphs beyond the 50th
                lines += ["", f"# prompt {p.get('index', i) + 1}: rendered graph",
                          json.dumps(p["graph"], indent=2, ensure_ascii=False)]
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


# --- workflows -------------------------------------------------------------------------------------


def run_workflows(args: argparse.Namespace, io: IO, session: VqClient, now: Clock) -> int:
    if args.reload:
        reloaded = session.post("/workflows/reload")
        for problem in reloaded.get("problems") or []:
            io.err(f"vq: warning: {_problem(problem)}")
    if args.name:
        description = session.get(f"/workflows/{args.name}")
        if args.json:
            io.json(description)
        else:
            for line in describe_lines(io, description):
                io.out(line)
        return ExitCode.OK
    body = session.get("/workflows")
    if args.json:
        io.json(body)
        return ExitCode.OK
    workflows = body.get("workflows", []) if isinstance(body, dict) else body
    rows = [[w["name"], w.get("mode") or "-", w.get("display_name") or ""] for w in workflows]
    for line in table(io, ["NAME", "MODE", "TITLE"], rows, shrink=2):
        io.out(line)
    for problem in (body.get("problems") if isinstance(body, dict) else None) or []:
        io.err(f"vq: warning: {_problem(problem)}")
    return ExitCode.OK


def _problem(problem: Any) -> str:
    if isinstance(problem, dict):
        where = f"{problem.get('file', '')}: {problem['field']}: " if problem.get("field") else \
            f"{problem.get('file', '')}: "
        return where + str(problem.get("reason", ""))
    return str(problem)


def describe_lines(io: IO, d: dict[str, Any]) -> list[str]:
    lines = [f"{io.paint(d['name'], 'bold')}  {d.get('display_name') or ''}  ({d.get('mode', '?')})"]
    if d.get("description"):
        lines.append(f"  {d['description']}")
    spec = d.get("input") or {}
    if spec.get("kind") == "none":
        lines.append("  input: none (no INPUT)")
    else:
        many = "a folder or files" if spec.get("multiple", True) else "exactly one file"
        lines.append(f"  input: {spec.get('kind')} — {many} ({', '.join(spec.get('extensions') or [])})")
    if d.get("stages"):
        s = d["stages"]
        lines.append(f"  stages: {s['count_param']} {s['min']}–{s['max']} (default {s['default']}); "
                     "per-stage names end in the stage number, e.g. _stage2")
    lines.append("")
    rows = []
    for p in d.get("params") or []:
        rows.append([p["name"], p["type"], _default(p), _allowed(p), _notes(p)])
    lines += table(io, ["PARAM", "TYPE", "DEFAULT", "ALLOWED", "NOTES"], rows, shrink=3)
    if d.get("prompt_params"):
        lines += ["", f"per-file (--per-file FILE:NAME=VALUE): {', '.join(d['prompt_params'])}"]
    return lines


def _default(p: dict[str, Any]) -> str:
    if p.get("derived"):
        return f"= {p['derived']}"
    value = p.get("default")
    if value is None:
        return "-"
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value
    return text if len(text) <= 40 else text[:39] + "…"


def _allowed(p: dict[str, Any]) -> str:
    if p.get("options") and not p.get("options_live"):
        return ", ".join(str(o["value"]) for o in p["options"])
    parts = []
    if p.get("min") is not None or p.get("max") is not None:
        parts.append(f"{_num(p.get('min'))}–{_num(p.get('max'))}")
    if p.get("step") not in (None, 1):
        parts.append(f"step {_num(p['step'])}")
    if p.get("options_source"):
        parts.append(f"from {p['options_source']}")
    return ", ".join(parts) or "-"


def _num(value: Any) -> str:
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else str(value)


def _notes(p: dict[str, Any]) -> str:
    notes = []
    if p.get("per_file"):
        notes.append("per-file")
    if p.get("removable"):
        notes.append("removable (empty)")
    if p.get("chain"):
        notes.append("list of LoRAs")
    if (p.get("ui") or {}).get("advanced"):
        notes.append("advanced")
    return ", ".join(notes)


# --- cleanup -------------------------------------------------------------------------------------


def run_cleanup(args: argparse.Namespace, io: IO, session: VqClient, now: Clock) -> int:
    body = session.post("/staging/cleanup", {"apply": bool(args.apply)})
    if args.json:
        io.json(body)
        return ExitCode.OK
    files = body.get("files") or []
    if files and (args.verbose or not io.stdout_tty or len(files) <= 20):
        rows = [[f.get("name") or f.get("path", "?"), _size(f.get("bytes", 0)), f.get("reason", "")] for f in files]
        for line in table(io, ["FILE", "SIZE", "WHY"], rows, right=(1,), shrink=2):
            io.out(line)
    verb = "Would remove" if body.get("dry_run", not args.apply) else "Removed"
    io.out(f"{verb} {plural(len(files), 'file')}, {_size(body.get('bytes', 0))} "
           f"(frees {_size(body.get('freed_bytes', 0))}); retention {_num(body.get('retention_days'))} days.")
    kept = body.get("referenced") or {}
    if kept:
        io.out(f"Kept {plural(kept.get('files', 0), 'file')} ({_size(kept.get('bytes', 0))}) that live prompts use.")
    for failed in body.get("failed") or []:
        io.err(f"vq: could not remove {failed.get('path')}: {failed.get('error')}")
    if not args.apply and files:
        io.err("run vq cleanup --apply to remove them")
    return ExitCode.FAILURE if body.get("failed") else ExitCode.OK


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n} B"
