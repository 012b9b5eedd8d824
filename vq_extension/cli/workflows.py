"""``vq workflows``: list, describe and reload workflow definitions."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

from .errors import ExitCode
from .http import VqClient
from .output import IO, table

Clock = Callable[[], float]


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
        parts.append(f"{format_number(p.get('min'))}–{format_number(p.get('max'))}")
    if p.get("step") not in (None, 1):
        parts.append(f"step {format_number(p['step'])}")
    if p.get("options_source"):
        parts.append(f"from {p['options_source']}")
    return ", ".join(parts) or "-"


def format_number(value: Any) -> str:
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
