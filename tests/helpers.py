"""Test helpers: the repo root, captured graphs, closed schemas, the sqlite3 calls an operation
makes, recounts of the store's counters, a folder nobody can write."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.fakecomfy.captured import load_comfy_json
from vq_extension.queue import rows
from vq_extension.queue.models import PromptStatus
from vq_extension.queue.records import PromptRecord
from vq_extension.queue.sql import PROMPT_COLUMNS

REPO = Path(__file__).resolve().parents[1]


def comfy_graph(name: str) -> dict[str, Any]:
    """A model-free API graph captured from a real ComfyUI 0.8.0 (tests/fixtures/comfy/graphs)."""
    return load_comfy_json(f"graphs/{name}.json")


def closed(schema: Any) -> Any:
    """The schema with every object closed (additionalProperties false): a field the server
    sends that the document does not declare then fails validation."""
    if isinstance(schema, dict):
        out = {k: closed(v) for k, v in schema.items()}
        if "properties" in out and "additionalProperties" not in out:
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [closed(v) for v in schema]
    return schema


@dataclass(frozen=True)
class Statement:
    """One sqlite3 call: its SQL and its parameters (an ``executemany``'s: the first row)."""

    sql: str
    params: Any = ()

    @property
    def verb(self) -> str:
        return self.sql.lstrip().split(None, 1)[0].upper()


class RecordingConnection:
    """A store's connection that notes every ``execute`` / ``executemany`` made through it."""

    def __init__(self, conn: sqlite3.Connection, seen: list[Statement]) -> None:
        self._conn, self._seen = conn, seen

    def execute(self, sql: str, params: Any = ()) -> sqlite3.Cursor:
        self._seen.append(Statement(sql, params))
        return self._conn.execute(sql, params)

    def executemany(self, sql: str, rows: Iterable[Any]) -> sqlite3.Cursor:
        rows = list(rows)
        self._seen.append(Statement(sql, rows[0] if rows else ()))
        return self._conn.executemany(sql, rows)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


def statements_run(store: Any, call: Callable[[], Any]) -> list[Statement]:
    """Every sqlite3 call ``call`` makes on a store's connection (BEGIN and COMMIT too): for
    tests that bound what an operation costs inside ComfyUI, where each call hands the GIL
    over. What triggers run inside a statement is part of that statement, not a call."""
    seen: list[Statement] = []
    real = store._conn
    store._conn = RecordingConnection(real, seen)
    try:
        call()
    finally:
        store._conn = real
    return seen


# --- recounts: what the store's kept counters must equal (vq itself never recounts) ---


def prompt_counts(store: Any, job_ids: Iterable[int]) -> dict[int, dict[PromptStatus, int]]:
    """Each job's prompts counted by status, from the prompts themselves."""
    counts: dict[int, dict[PromptStatus, int]] = {job_id: {} for job_id in job_ids}
    with store._lock:
        found = store._conn.execute("SELECT job_id, status, COUNT(*) FROM prompt GROUP BY job_id, status").fetchall()
    for job_id, status, n in found:
        if job_id in counts:
            counts[job_id][PromptStatus(status)] = n
    return counts


def recounted_totals(store: Any) -> dict[PromptStatus, int]:
    """The queue's prompts by status, counted from the prompts (``prompt_totals`` must equal it)."""
    with store._lock:
        found = store._conn.execute("SELECT status, COUNT(*) FROM prompt GROUP BY status").fetchall()
    return {PromptStatus(status): n for status, n in found}


def find_by_comfy_id(store: Any, comfy_prompt_id: str) -> PromptRecord | None:
    """The prompt that ComfyUI id belongs to now, or None."""
    with store._lock:
        row = store._conn.execute(f"SELECT {PROMPT_COLUMNS} FROM prompt WHERE comfy_prompt_id = ?",
                                  (comfy_prompt_id,)).fetchone()
    return rows.prompt(row) if row else None


@contextmanager
def read_only(folder: Path) -> Iterator[None]:
    """The folder cannot be written, even by root (immutable), until the block ends."""
    if os.geteuid() == 0:
        if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", str(folder)]).returncode != 0:
            pytest.skip("cannot make a folder read-only for root here (chattr +i)")
        try:
            yield
        finally:
            subprocess.run(["chattr", "-i", str(folder)], check=True)
    else:
        folder.chmod(0o555)
        try:
            yield
        finally:
            folder.chmod(0o755)
