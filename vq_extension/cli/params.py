"""``--param NAME=VALUE`` and ``--per-file FILE:NAME=VALUE``: syntax, then values typed by
the workflow's description (``GET /vq/v1/workflows/{name}``, or ``Catalog.describe`` offline).

Coercion uses the server's own ``workflows.values.coerce``, so the CLI accepts exactly
what the server would and fails early (exit 2, the parameter named) without queueing.
Rules that tie parameters together (checks, presets against width) stay on the server.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Sequence
from typing import Any

from ..workflows.schema import ChainTarget, Option, ParamDef
from ..workflows.values import coerce
from .errors import UsageError

NAME = r"[a-z][a-z0-9_]*"
ASSIGNMENT = re.compile(rf"^(?P<name>{NAME})=(?P<value>.*)$", re.DOTALL)
# FILE may hold ':' (C:\stills\a.png) and '='; the first ":name=" after it ends it.
PER_FILE = re.compile(rf"^(?P<file>.+?):(?P<name>{NAME})=(?P<value>.*)$", re.DOTALL)


def parse_params(texts: Sequence[str]) -> dict[str, str]:
    """``["steps=20", "cfg=3.5"]`` -> ``{"steps": "20", "cfg": "3.5"}`` (values still text)."""
    out: dict[str, str] = {}
    for text in texts:
        m = ASSIGNMENT.match(text)
        if not m:
            raise UsageError(f"--param {text!r}: expected NAME=VALUE, e.g. --param steps=20 "
                             "(names are lower_case, see vq workflows WORKFLOW)")
        if m["name"] in out:
            raise UsageError(f"--param {m['name']} is given twice")
        out[m["name"]] = m["value"]
    return out


def parse_per_file(texts: Sequence[str]) -> dict[str, dict[str, str]]:
    """``["a.png:positive_prompt=the cat yawns"]`` -> ``{"a.png": {"positive_prompt": "..."}}``."""
    out: dict[str, dict[str, str]] = {}
    for text in texts:
        m = PER_FILE.match(text)
        if not m:
            raise UsageError(f"--per-file {text!r}: expected FILE:NAME=VALUE, "
                             "e.g. --per-file cat.png:positive_prompt='the cat yawns'")
        own = out.setdefault(m["file"], {})
        if m["name"] in own:
            raise UsageError(f"--per-file {m['file']}:{m['name']} is given twice")
        own[m["name"]] = m["value"]
    return out


def coerce_params(description: dict[str, Any], raw: dict[str, str]) -> dict[str, Any]:
    """Typed values for ``raw`` by the workflow's parameter types, defaults untouched."""
    entries = _entries(description)
    out: dict[str, Any] = {}
    for name, text in raw.items():
        entry = _find(entries, name)
        if entry is None:
            raise UsageError(f"--param {name}: {_unknown(description, entries, name)}")
        if entry.get("derived"):
            raise UsageError(f"--param {name}: is computed as {entry['derived']}; leave it out")
        out[name] = _value(entry, name, text, f"--param {name}")
    return out


def coerce_per_file(description: dict[str, Any], raw: dict[str, dict[str, str]]) -> dict[str, dict[str, Any]]:
    entries = _entries(description)
    out: dict[str, dict[str, Any]] = {}
    for file, values in raw.items():
        own: dict[str, Any] = {}
        for name, text in values.items():
            entry = _find(entries, name)
            where = f"--per-file {file}:{name}"
            if entry is None or not entry.get("per_file"):
                allowed = ", ".join(description.get("prompt_params") or []) or "none in this workflow"
                raise UsageError(f"{where}: cannot be set per file (per-file parameters: {allowed})")
            own[name] = _value(entry, name, text, where)
        out[file] = own
    return out


def _entries(description: dict[str, Any]) -> list[dict[str, Any]]:
    return list(description.get("params") or [])


def _find(entries: list[dict[str, Any]], name: str) -> dict[str, Any] | None:
    for entry in entries:
        declared = entry["name"]
        if declared == name:
            return entry
        if "{k}" in declared:  # positive_prompt_stage{k} matches positive_prompt_stage2
            head, tail = declared.split("{k}", 1)
            if re.fullmatch(re.escape(head) + r"[1-9][0-9]*" + re.escape(tail), name):
                return entry
    return None


def _unknown(description: dict[str, Any], entries: list[dict[str, Any]], name: str) -> str:
    names = [e["name"] for e in entries]
    close = difflib.get_close_matches(name, names, n=3)
    hint = f"did you mean {', '.join(close)}?" if close else f"known: {', '.join(names) or 'none'}"
    return f"unknown parameter for workflow {description.get('name', '?')}; {hint}"


def _value(entry: dict[str, Any], name: str, text: str, where: str) -> Any:
    p = _param_def(entry)
    raw: Any = text
    if p.type == "lora" and p.chain is not None:
        raw = _lora_list(text, where)
    elif p.type == "lora" and text.strip().lower() in ("", "none"):
        raw = None  # "--param lightning_lora_high=" removes a removable LoRA
    try:
        return coerce(p, raw)
    except ValueError as exc:
        raise UsageError(f"{where}: {exc}") from None


def _lora_list(text: str, where: str) -> Any:
    """A LoRA chain on the command line: JSON (``[{"high": "a.safetensors", "strength": 0.8}]``)
    or a comma-separated list of file names (strength 1.0 on every chain)."""
    stripped = text.strip()
    if stripped.startswith("["):
        try:
            return json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise UsageError(f"{where}: not valid JSON ({exc.msg} at column {exc.colno})") from None
    return [part.strip() for part in stripped.split(",") if part.strip()]


def _param_def(entry: dict[str, Any]) -> ParamDef:
    """The description entry as the ParamDef ``coerce`` reads (built without re-validating:
    the server validated the definition, and synthetic entries such as ``resolution`` are
    not declared parameters)."""
    # A live list (installed models) is a suggestion: the server, not the CLI, refuses a missing file.
    options = None if entry.get("options_live") else entry.get("options")
    chain = entry.get("chain")
    return ParamDef.model_construct(
        name=entry["name"], type=entry["type"], min=entry.get("min"), max=entry.get("max"), step=entry.get("step"),
        options=[Option.model_construct(value=o["value"], label=o.get("label")) for o in options] if options else None,
        options_source=entry.get("options_source"), removable=bool(entry.get("removable")),
        chain=[ChainTarget.model_construct(name=c["name"], consumer="", label=c.get("label")) for c in chain]
        if chain else None,
        max_items=entry.get("max_items") or 8,
    )
