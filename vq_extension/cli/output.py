"""The CLI's environment and its human output: streams, colour, tables, times, bars.

Like httpie's ``Environment``: commands get an ``IO`` instead of touching ``sys``, so a
test can hand them StringIO streams, a fake TTY flag and a fixed terminal width.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, TextIO

from ..queue.models import PROMPT_URGENCY, TERMINAL

RESET = "\x1b[0m"
STYLES = {
    "bold": "\x1b[1m",
    "dim": "\x1b[2m",
    "red": "\x1b[31m",
    "green": "\x1b[32m",
    "yellow": "\x1b[33m",
    "blue": "\x1b[34m",
    "magenta": "\x1b[35m",
    "cyan": "\x1b[36m",
}
# One colour per status, job and prompt alike, so a glance at a table says where to look.
STATUS_STYLE = {
    "pending": "dim",
    "queued": "cyan",
    "running": "blue",
    "canceling": "yellow",
    "succeeded": "green",
    "failed": "red",
    "canceled": "yellow",
    "interrupted": "magenta",
    "ok": "green",
    "idle": "green",
    "paused": "yellow",
    "error": "red",
}
TERMINAL_JOB = frozenset(s.value for s in TERMINAL)
PROMPT_ORDER = tuple(s.value for s in PROMPT_URGENCY)


@dataclass
class IO:
    stdout: TextIO
    stderr: TextIO
    stdin: TextIO
    stdout_tty: bool = False
    stdin_tty: bool = False
    color: bool = False
    width: int = 100
    sleep: Callable[[float], None] = field(default=time.sleep)

    @classmethod
    def from_system(cls, *, no_color: bool = False, environ: Mapping[str, str] | None = None) -> IO:
        env = os.environ if environ is None else environ
        tty = sys.stdout.isatty()
        # https://no-color.org: any non-empty NO_COLOR turns colour off; so does a pipe or TERM=dumb.
        color = tty and not no_color and not env.get("NO_COLOR") and env.get("TERM") != "dumb"
        return cls(sys.stdout, sys.stderr, sys.stdin, stdout_tty=tty, stdin_tty=sys.stdin.isatty(),
                   color=color, width=shutil.get_terminal_size((100, 24)).columns)

    # --- writing -------------------------------------------------------------------------

    def out(self, text: str = "") -> None:
        self.stdout.write(text + "\n")

    def err(self, text: str) -> None:
        self.stderr.write(text + "\n")

    def json(self, value: Any) -> None:
        self.stdout.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")

    def json_line(self, value: Any) -> None:
        """One compact document per line, for streams (--follow, watch)."""
        self.stdout.write(json.dumps(value, ensure_ascii=False) + "\n")
        self.stdout.flush()

    def paint(self, text: str, style: str | None) -> str:
        if not self.color or not style or not text:
            return text
        return "".join(STYLES[s] for s in style.split("+")) + text + RESET

    def status(self, status: str | None) -> str:
        return self.paint(status or "-", STATUS_STYLE.get(status or ""))

    def confirm(self, question: str) -> bool:
        self.stderr.write(f"{question} [y/N] ")
        self.stderr.flush()
        answer = self.stdin.readline()
        return answer.strip().lower() in ("y", "yes")


# --- tables ---------------------------------------------------------------------------

Cell = str | tuple[str, str | None]  # text, or (text, style)


def text_width(text: str) -> int:
    """Display columns (wide CJK characters take two), so columns line up in a terminal."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 0 if unicodedata.combining(ch) else 1
               for ch in text)


def truncate(text: str, width: int) -> str:
    if text_width(text) <= width:
        return text
    out, used = "", 0
    for ch in text:
        w = text_width(ch)
        if used + w > width - 1:
            break
        out, used = out + ch, used + w
    return out + "…"


def table(io: IO, headers: Sequence[str], rows: Iterable[Sequence[Cell]], *, right: Iterable[int] = (),
          shrink: int | None = None, indent: str = "") -> list[str]:
    """Aligned columns, two spaces apart. On a TTY the ``shrink`` column is truncated so a
    row fits the terminal; piped output is never cut (a script may need the whole text)."""
    body = [[c if isinstance(c, tuple) else (c, None) for c in row] for row in rows]
    right = set(right)
    widths = [text_width(h) for h in headers]
    for row in body:
        for i, (text, _) in enumerate(row):
            widths[i] = max(widths[i], text_width(text))
    if shrink is not None and io.stdout_tty:
        overflow = len(indent) + sum(widths) + 2 * (len(widths) - 1) - io.width
        if overflow > 0:
            widths[shrink] = max(text_width(headers[shrink]), 8, widths[shrink] - overflow)
    lines = [_line(io, [(h, "bold") for h in headers], widths, right, indent)]
    lines += [_line(io, row, widths, right, indent) for row in body]
    return lines


def _line(io: IO, row: Sequence[tuple[str, str | None]], widths: list[int], right: set[int], indent: str) -> str:
    cells = []
    for i, (text, style) in enumerate(row):
        text = truncate(text, widths[i])
        pad = " " * (widths[i] - text_width(text))
        last = i == len(row) - 1
        # Colour is applied after padding is computed, so escape codes never skew columns.
        cells.append(pad + io.paint(text, style) if i in right else io.paint(text, style) + ("" if last else pad))
    return (indent + "  ".join(cells)).rstrip()


def fields(io: IO, pairs: Sequence[tuple[str, str]]) -> list[str]:
    """``label  value`` lines with the labels aligned (detail views)."""
    width = max((len(label) for label, _ in pairs), default=0)
    return [f"{io.paint(label.ljust(width), 'dim')}  {value}" for label, value in pairs]


# --- values ---------------------------------------------------------------------------


def parse_iso(value: str | None) -> float | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def when(io: IO, value: str | None, now: float) -> str:
    """Relative on a TTY ("5m ago"), the exact ISO time when piped (stable, sortable)."""
    if not value:
        return "-"
    if not io.stdout_tty:
        return value
    ts = parse_iso(value)
    return "-" if ts is None else ago(now - ts)


def ago(seconds: float) -> str:
    if seconds < 5:
        return "just now"
    return duration(seconds) + " ago"


def duration(seconds: float | None) -> str:
    """Two units at most: 45s, 5m12s, 3h05m, 2d04h."""
    if seconds is None:
        return "-"
    s = int(round(max(0.0, seconds)))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def utc(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def counts_text(io: IO, counts: Mapping[str, int], order: Sequence[str] | None = None) -> str:
    keys = [k for k in (order or STATUS_STYLE) if counts.get(k)] + sorted(
        k for k in counts if counts[k] and k not in (order or STATUS_STYLE))
    return " · ".join(f"{io.status(k)} {counts[k]}" for k in keys) or "none"


def bar(fraction: float, width: int) -> str:
    """A progress bar of ``width`` cells; eighths of a block make small steps visible."""
    fraction = min(1.0, max(0.0, fraction))
    eighths = int(round(fraction * width * 8))
    full, part = divmod(eighths, 8)
    partial = " ▏▎▍▌▋▊▉"[part] if full < width else ""
    return ("█" * full + partial).ljust(width)


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"
