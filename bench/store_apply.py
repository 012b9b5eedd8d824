#!/usr/bin/env python3
"""CPU cost of the dispatcher's per-prompt database work, outside ComfyUI (not a test: prints numbers).

Replays what the ticks write for a fast job at max_in_flight 2 on a real SQLite store in a
temporary folder, through ``SqliteQueueStore.apply`` as the dispatcher calls it: per tick,
one prompt finished, the next started and one claimed, in one transaction. Prints the CPU time per prompt of the calling thread (what the
vq-db thread spends inside ComfyUI's process) and each SQL statement's share.

    .venv/bin/python bench/store_apply.py            # --prompts 600
    .venv/bin/python bench/store_apply.py --pragma "PRAGMA wal_autocheckpoint=10000"
    .venv/bin/python bench/store_apply.py --gil-contender
    .venv/bin/python bench/store_apply.py --gil-contender --batch 4   # what-if, not vq's way

--gil-contender runs a pure-Python busy thread beside it, as ComfyUI's worker is beside
vq's database thread: sqlite3 releases the GIL around every statement step, and each
release hands the GIL over, so the same work costs several times the CPU (and the busy
thread a switch each time). Statements per prompt, not their SQLite time, are the cost.

Compare only numbers of one run on one machine; docs/performance.md says what they meant.
"""

from __future__ import annotations

import argparse
import collections
import json
import sqlite3
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vq_extension.comfy.bridge import Outcome  # noqa: E402
from vq_extension.queue.models import PromptStatus as P  # noqa: E402
from vq_extension.queue.outcomes import change, finish  # noqa: E402
from vq_extension.queue.records import NewJob, NewPrompt  # noqa: E402
from vq_extension.queue.store import SqliteQueueStore  # noqa: E402

GRAPH = json.loads((Path(__file__).parent / "graphs" / "upscale.json").read_text())
OUTPUTS = [{"kind": "image", "filename": "up_00001_.png", "subfolder": "vq", "type": "output"}]


class TimedConnection:
    """The store's connection with every ``execute`` timed by statement."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self.seconds: dict[str, list[float]] = collections.defaultdict(lambda: [0, 0.0])

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        started = time.thread_time()
        try:
            return self._conn.execute(sql, *args)
        finally:
            entry = self.seconds[" ".join(sql.split())[:72]]
            entry[0] += 1
            entry[1] += time.thread_time() - started

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


def replay(store: SqliteQueueStore, prompts: int) -> float:
    """Run ``prompts`` prompts through the store as ticks would; CPU seconds spent. Each
    tick, as at max_in_flight 2 with ComfyUI taking the next prompt at once: prompt k
    finished, prompt k+1 started, one claim (prompt k+2), in one transaction."""
    now, owner = 1_000.0, "bench"
    queued = [c.prompt for c in store.apply([], claim=2, owner=owner, now=now, lease_seconds=30).claimed]
    first = store.apply([change(queued[0], P.RUNNING, "started", "ComfyUI started it")], claim=0, owner=owner,
                        now=now, lease_seconds=30).transitions[0]
    assert first is not None
    running, waiting = first.prompt, queued[1]
    started = time.thread_time()
    for _ in range(prompts):
        now += 0.004
        changes = [finish(running, Outcome("succeeded", None, OUTPUTS, None), 0),
                   change(waiting, P.RUNNING, "started", "ComfyUI started it")]
        result = store.apply(changes, claim=1, owner=owner, now=now, lease_seconds=30)
        moved = result.transitions[1]
        assert moved is not None and result.claimed
        running, waiting = moved.prompt, result.claimed[0].prompt
    return time.thread_time() - started


def replay_batched(store: SqliteQueueStore, prompts: int, batch: int) -> float:
    """What a dispatcher batching ``batch`` prompts per transaction would write (not what vq
    does: see docs/performance.md, "What is left"): per tick, ``batch`` queued prompts
    finished with their start from ComfyUI's history (no separate running write) and
    ``batch`` claimed. CPU seconds spent."""
    now, owner = 1_000.0, "bench"
    queued = [c.prompt for c in store.apply([], claim=batch, owner=owner, now=now, lease_seconds=30).claimed]
    started = time.thread_time()
    for _ in range(prompts // batch):
        now += 0.004 * batch
        outcome = Outcome("succeeded", None, OUTPUTS, now - 0.003)
        result = store.apply([finish(p, outcome, 0) for p in queued], claim=batch, owner=owner, now=now,
                             lease_seconds=30)
        assert all(t is not None for t in result.transitions) and len(result.claimed) == batch
        queued = [c.prompt for c in result.claimed]
    return time.thread_time() - started


def busy_python(running: threading.Event) -> None:
    """Pure-Python work that wants the GIL all the time (a stand-in for ComfyUI's worker)."""
    total = 0
    while running.is_set():
        for i in range(1_000):
            total += i


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--prompts", type=int, default=600)
    ap.add_argument("--pragma", action="append", default=[], help="run on the store's connection first")
    ap.add_argument("--gil-contender", action="store_true", help="a pure-Python busy thread runs meanwhile")
    ap.add_argument("--batch", type=int, default=0, metavar="N",
                    help="what-if: N prompts finished and N claimed per transaction, no running write")
    args = ap.parse_args(argv)
    contending = threading.Event()
    if args.gil_contender:
        contending.set()
        threading.Thread(target=busy_python, args=(contending,), daemon=True).start()
    with tempfile.TemporaryDirectory() as tmp:
        store = SqliteQueueStore(Path(tmp) / "vq.sqlite3")
        for pragma in args.pragma:
            store._conn.execute(pragma)
        store.create_job(NewJob(name="bench"), [NewPrompt(graph=GRAPH, max_attempts=2)
                                                 for _ in range(args.prompts + 2 + args.batch)], 1_000.0)
        timed = TimedConnection(store._conn)
        store._conn = timed  # type: ignore[assignment]
        cpu = replay_batched(store, args.prompts, args.batch) if args.batch else replay(store, args.prompts)
        contending.clear()
        store._conn = timed._conn
        store.close()
    n = args.prompts
    beside = ", a Python thread contending for the GIL" if args.gil_contender else ""
    beside += f", what-if: {args.batch} prompts per transaction" if args.batch else ""
    print(f"{n} prompts: {cpu / n * 1000:.3f} ms CPU per prompt (SQLite {sqlite3.sqlite_version}{beside})")
    print(f"{'us CPU/prompt':>13} {'calls/prompt':>12}  statement")
    for sql, (calls, seconds) in sorted(timed.seconds.items(), key=lambda kv: -kv[1][1]):
        print(f"{seconds / n * 1e6:13.1f} {calls / n:12.2f}  {sql}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
