"""``vq cleanup``: what staging retention would remove, and removing it."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from .errors import ExitCode
from .http import VqClient
from .output import IO, plural, table
from .workflows import format_number

Clock = Callable[[], float]


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
           f"(frees {_size(body.get('freed_bytes', 0))}); retention {format_number(body.get('retention_days'))} days.")
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
