"""QueueStore: the durable queue in SQLite. It runs the statements of ``sql.py``.

Contract (the interface a future PostgreSQL store implements too, DESIGN §8):
- Every write runs in one short transaction (``BEGIN IMMEDIATE`` here).
- Every prompt status write is a guarded transition built from ``models.ALLOWED_FROM``:
  ``UPDATE ... WHERE id = ? AND status IN (<allowed predecessors>)``. A transition that
  does not apply changes nothing and returns ``None``; it never overwrites.
- Each job keeps its prompts' counts by status (and ``prompt_total`` the queue's); SQLite's
  triggers (``migrations.V7``) update them, re-derive the job's status and keep the attempt
  rows in the statement that changes a prompt: O(1) per transition, never a recount, and
  no extra sqlite3 call (each one hands the GIL to ComfyUI's worker and back).
- Every transaction logs what it did in one INSERT at its end (``_journal``): the prompts'
  lines, then "job is now ..." for each job whose status it changed.
- ``claim_next`` atomically moves the next pending prompt to ``queued`` with a claim
  token, an owner and the ComfyUI prompt id it will be submitted under.
- ``apply`` runs a dispatcher tick's transitions and claims in one transaction; bulk
  actions (``cancel_pending``, ``retry_job``) are set-based: a handful of statements for
  any number of prompts.

The store is synchronous and guarded by a lock; services call it through
``DbExecutor.run`` so the event loop never waits on disk. Job-level reads (listings,
prompts, counts, log, instances, settings, staging, bulk actions, deletion) are in
``store_jobs.JobQueries``.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import threading
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import PromptError
from . import rows as rowmap
from . import sql as Q
from .migrations import CONNECTION_SETUP, MIGRATIONS, SCHEMA_VERSION, SchemaTooNew
from .models import ACTIONABLE_ORDER, JobStatus, PromptStatus
from .records import (
    Change,
    Claimed,
    InstanceRecord,
    JobChange,
    LogLine,
    NewJob,
    NewPrompt,
    PromptRecord,
    Replayed,
    TickResult,
    Transition,
)
from .sql import JOB_SORTS
from .store_jobs import IDEMPOTENCY_SECONDS, JobQueries
from .store_presets import PresetQueries

P = PromptStatus
_LOG_ROWS_PER_INSERT = 500  # 6 values a row: well under SQLite's 32,766 bound variables
_RANK = {status: rank for rank, status in enumerate(ACTIONABLE_ORDER)}

__all__ = ["JOB_SORTS", "SchemaTooNew", "SqliteQueueStore"]


class SqliteQueueStore(JobQueries, PresetQueries):
    """The embedded store: one SQLite file in WAL mode."""

    def __init__(self, path: Path, *, busy_timeout_ms: int = 5000) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(
            str(self.path), isolation_level=None, check_same_thread=False, timeout=busy_timeout_ms / 1000
        )
        self._conn.row_factory = sqlite3.Row
        self._conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        self._conn.execute("PRAGMA journal_mode = WAL")
        # WAL + NORMAL survives a killed process (not a power cut): the right trade for a queue
        # whose worst case after power loss is re-running one prompt.
        self._conn.execute("PRAGMA synchronous = NORMAL")
        self._conn.execute("PRAGMA foreign_keys = ON")
        self._job_changes: list[tuple[int, str, str]] = []  # this transaction's, in order
        self.schema_version = self._migrate()
        self._conn.create_function("vq_note_job_change", 3, self._note_job_change)
        for statement in CONNECTION_SETUP:
            self._conn.execute(statement)

    @property
    def sqlite_version(self) -> str:
        return sqlite3.sqlite_version

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager  # type: ignore[override]
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            self._job_changes.clear()  # a rolled-back transaction's changes never happened
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _note_job_change(self, job_id: int, before: str, after: str) -> None:
        """Called by the connection's TEMP trigger (migrations.CONNECTION_SETUP), inside a statement."""
        self._job_changes.append((job_id, before, after))

    def _migrate(self) -> int:
        with self._tx() as conn:
            current = conn.execute("PRAGMA user_version").fetchone()[0]
            if current > SCHEMA_VERSION:
                raise SchemaTooNew(self.path, current, SCHEMA_VERSION)
            for version, statements in MIGRATIONS:
                if version > current:
                    for statement in statements:
                        conn.execute(statement)
                    conn.execute(f"PRAGMA user_version = {version}")
        return SCHEMA_VERSION

    # --- jobs ----------------------------------------------------------------------

    def create_job(self, job: NewJob, prompts: Sequence[NewPrompt], now: float, *,
                   idempotency: tuple[str, str] | None = None) -> int | Replayed:
        """Persist a job and all its prompts (and the log line saying so) in one
        transaction; returns the job id. With ``idempotency`` (key, body hash), a key seen
        in the last 24 h creates nothing and answers what it created before (``Replayed``)."""
        if not prompts:
            raise ValueError("a job needs at least one prompt")
        with self._tx() as conn:
            if idempotency is not None:
                replayed = self._replayed(conn, *idempotency, now)
                if replayed is not None:
                    return replayed
            source_folder = (job.source or {}).get("folder") or ""
            cur = conn.execute(
                Q.INSERT_JOB,
                {
                    "name": job.name,
                    "rank": _RANK[JobStatus.PENDING],
                    "priority": job.priority,
                    "workflow": job.workflow,
                    "mode": job.mode,
                    "params": json.dumps(job.params),
                    "options": json.dumps(job.options),
                    "source": json.dumps(job.source) if job.source is not None else None,
                    "workspace": job.workspace,
                    "search": " ".join([job.name, job.workflow or "", source_folder]).lower(),
                    "now": now,
                },
            )
            job_id = int(cur.lastrowid)
            conn.executemany(
                Q.INSERT_PROMPT,
                (
                    {
                        "job_id": job_id,
                        "idx": index,
                        "max_attempts": p.max_attempts,
                        "seed": p.seed if p.seed is None or -(2**63) <= p.seed < 2**63 else None,  # display only
                        "input_file": p.input_file,
                        "staged_name": p.staged_name,
                        "try_index": p.try_index,
                        "params": json.dumps(p.params) if p.params is not None else None,
                        "graph": json.dumps(p.graph),
                        "now": now,
                    }
                    for index, p in enumerate(prompts)
                ),
            )
            conn.execute(Q.INSERT_LOG, {"job_id": job_id, "prompt_id": None, "at": now, "level": "info",
                                      "event": "submitted", "message": f"submitted with {len(prompts)} prompt(s)"})
            if idempotency is not None:
                conn.execute(Q.DELETE_OLD_IDEMPOTENCY_KEYS, (now - IDEMPOTENCY_SECONDS,))
                conn.execute(Q.INSERT_IDEMPOTENCY_KEY,
                             {"key": idempotency[0], "sha": idempotency[1], "job_id": job_id, "now": now})
        return job_id

    # --- transitions -------------------------------------------------------------------

    def claim_next(self, *, owner: str, now: float, lease_seconds: float) -> PromptRecord | None:
        """Atomically claim the next pending prompt (pending -> queued) or return None.
        The returned prompt carries a fresh uuid4 ``comfy_prompt_id`` to submit under;
        the job log says so in the same transaction."""
        with self._tx() as conn:
            claimed = self._claim(conn, owner, now, lease_seconds)
            self._journal(conn, now, [], [claimed] if claimed else [])
        return claimed.prompt if claimed else None

    @staticmethod
    def _claim(conn: sqlite3.Connection, owner: str, now: float, lease_seconds: float) -> Claimed | None:
        params = {"comfy_prompt_id": str(uuid.uuid4()), "token": uuid.uuid4().hex, "owner": owner,
                  "lease": now + lease_seconds, "now": now}
        after = conn.execute(Q.CLAIM_NEXT_PROMPT, params).fetchall()
        return Claimed(rowmap.prompt(after[0]), json.loads(after[0]["graph_json"])) if after else None

    def apply(self, changes: Sequence[Change], *, claim: int, owner: str, now: float, lease_seconds: float,
              heartbeat: InstanceRecord | None = None, read_setting: str | None = None) -> TickResult:
        """A dispatcher tick in one transaction: with ``heartbeat``, first the instance's row
        and its prompts' leases renewed (``heartbeat()``); the transitions it saw (each applies
        or not, as ``transition`` would); up to ``claim`` claims with their graphs, leased for
        ``lease_seconds``; and the value of setting ``read_setting`` (a pause set elsewhere)."""
        with self._tx() as conn:
            if heartbeat is not None:
                self._heartbeat(conn, heartbeat, now, lease_seconds)
            done = [self._transition(conn, c, now) for c in changes]
            claimed: list[Claimed] = []
            while len(claimed) < claim and (got := self._claim(conn, owner, now, lease_seconds)) is not None:
                claimed.append(got)
            done = self._journal(conn, now, done, claimed)
            setting = None
            if read_setting is not None and (row := conn.execute(Q.SELECT_SETTING, (read_setting,)).fetchone()):
                setting = json.loads(row[0])
        return TickResult(done, claimed, setting)

    def transition(
        self,
        prompt_id: int,
        to: PromptStatus,
        now: float,
        *,
        comfy_prompt_id: str | None = None,
        error: PromptError | None = None,
        outputs: list[dict[str, Any]] | None = None,
        cancel_reason: str | None = None,
        started_at: float | None = None,
        expected: PromptStatus | None = None,
        log: LogLine | None = None,
    ) -> Transition | None:
        """Move a prompt to ``to`` if its current status allows it; when given, only from
        ``expected`` and only while it still runs under ``comfy_prompt_id`` (a caller acting
        on what it read earlier states what it saw). None when it did not apply.
        ``started_at`` fills in the start time of a prompt that finished unseen."""
        change = Change(prompt_id, to, comfy_prompt_id, error, outputs, cancel_reason, started_at, expected, log)
        with self._tx() as conn:
            return self._journal(conn, now, [self._transition(conn, change, now)])[0]

    def _transition(self, conn: sqlite3.Connection, c: Change, now: float) -> Transition | None:
        if c.to not in Q.TRANSITION:
            raise ValueError(f"use claim_next / requeue / pull_back for {c.to}")
        params = {
            "id": c.prompt_id,
            "to": c.to.value,
            "now": now,
            "comfy_prompt_id": c.comfy_prompt_id,
            "set_error": c.error is not None,
            "error": json.dumps(c.error.to_dict()) if c.error else None,
            "set_outputs": c.outputs is not None,
            "outputs": json.dumps(c.outputs) if c.outputs is not None else None,
            "set_reason": c.cancel_reason is not None,
            "reason": c.cancel_reason,
            "started_at": c.started_at,
            "expected": c.expected.value if c.expected else None,
        }
        after = conn.execute(Q.TRANSITION[c.to], params).fetchall()
        return Transition(rowmap.prompt(after[0]), c.log) if after else None

    def requeue(self, prompt_id: int, now: float, *, budget: int, log: LogLine | None = None) -> Transition | None:
        """failed / canceled / interrupted -> pending, for a new attempt; ``budget`` is how
        many more attempts it may take before an interruption counts as final."""
        with self._tx() as conn:
            after = conn.execute(Q.REQUEUE_PROMPT, {"id": prompt_id, "now": now, "budget": budget}).fetchall()
            return self._journal(conn, now, [Transition(rowmap.prompt(after[0]), log) if after else None])[0]

    def pull_back(
        self, prompt_id: int, comfy_prompt_id: str, now: float, *, log: LogLine | None = None
    ) -> Transition | None:
        """queued -> pending after vq removed it from ComfyUI's queue unstarted."""
        params = {"id": prompt_id, "comfy_prompt_id": comfy_prompt_id, "now": now}
        with self._tx() as conn:
            after = conn.execute(Q.PULL_BACK_PROMPT, params).fetchall()
            return self._journal(conn, now, [Transition(rowmap.prompt(after[0]), log) if after else None])[0]

    # --- ownership: lost prompts ------------------------------------------------------

    def lose(self, prompt_id: int, now: float, *, comfy_prompt_id: str, owner: str | None, why: str,
             lease_before: float | None = None) -> Transition | None:
        """ComfyUI no longer has a queued or running prompt (restart, cleared queue, its
        owner died). In ONE transaction: a prompt that never started goes back to pending
        without using an attempt; one that started is interrupted, then requeued while
        attempts remain, else failed. Guarded by its ComfyUI id and ``owner``; with
        ``lease_before``, only while the owner's lease expired before then. None if the
        guard did not hold (someone else got there first). Counters: before -> final status."""
        guard = {"id": prompt_id, "now": now, "comfy_prompt_id": comfy_prompt_id, "owner": owner,
                 "lease_before": lease_before}
        with self._tx() as conn:
            before = conn.execute(Q.SELECT_PROMPT, (prompt_id,)).fetchone()
            if before is None:
                return None
            if before["started_at"] is None and before["status"] == P.QUEUED.value:
                if not (after := conn.execute(Q.UNCLAIM_LOST_PROMPT, guard).fetchall()):
                    return None
                line = LogLine("requeued", f"never started: {why}; back to pending (no attempt used)", "warning")
                return self._journal(conn, now, [Transition(rowmap.prompt(after[0]), line)])[0]
            error = json.dumps(PromptError("interrupted", f"attempt {before['attempt']} was interrupted while "
                                                          f"running: {why}").to_dict())
            if not (after := conn.execute(Q.INTERRUPT_LOST_PROMPT, {**guard, "error": error}).fetchall()):
                return None
            t = self._after_interrupt(conn, after[0], now,
                                      f"attempt {before['attempt']} was interrupted while running: {why}", why)
            return self._journal(conn, now, [t])[0]

    def resolve_interrupted(self, prompt_id: int, now: float) -> Transition | None:
        """An ``interrupted`` prompt left behind (a crash between two steps of an older vq):
        requeue it while attempts remain, else fail it."""
        with self._tx() as conn:
            row = conn.execute(Q.SELECT_PROMPT, (prompt_id,)).fetchone()
            if row is None or row["status"] != P.INTERRUPTED.value:
                return None
            t = self._after_interrupt(conn, row, now, f"attempt {row['attempt']} was left interrupted",
                                      "it was left interrupted by an earlier run")
            return self._journal(conn, now, [t])[0]

    @staticmethod
    def _after_interrupt(conn: sqlite3.Connection, row: sqlite3.Row, now: float, what: str, why: str) -> Transition:
        """An interrupted prompt (``row``) on to pending or, attempts used up, failed."""
        attempt, max_attempts = row["attempt"], row["max_attempts"]
        if attempt < max_attempts:
            final = conn.execute(Q.REQUEUE_PROMPT, {"id": row["id"], "now": now, "budget": 0}).fetchall()
            line = LogLine("requeued", f"{what}; back to pending for attempt {attempt + 1} "
                                       f"({attempt} of {max_attempts} attempts used)", "warning")
        else:
            error = PromptError(
                "interrupted_repeatedly",
                f"interrupted repeatedly while running ({attempt} of {max_attempts} attempts); last: {why}. "
                "If it crashes ComfyUI, check its inputs; retry it when fixed.",
            )
            final = conn.execute(Q.FAIL_INTERRUPTED_PROMPT, {"id": row["id"], "now": now,
                                                             "error": json.dumps(error.to_dict())}).fetchall()
            line = LogLine("failed", error.message, "error")
        return Transition(rowmap.prompt(final[0]), line)

    def _journal(self, conn: sqlite3.Connection, now: float, moved: list[Transition | None],
                 claimed: Iterable[Claimed] = ()) -> list[Transition | None]:
        """Log what this transaction did in one INSERT: each transition's and claim's line,
        then "job is now ..." for every job whose status changed (the triggers noted them).
        Returns ``moved`` with each changed job's last transition telling the change."""
        noted: dict[int, tuple[str, str]] = {}
        for job_id, before, after in self._job_changes:
            noted[job_id] = (noted.get(job_id, (before, ""))[0], after)  # first before, last after
        self._job_changes.clear()
        jobs = {j: JobChange(JobStatus(b), JobStatus(a)) for j, (b, a) in noted.items() if b != a}
        lines = [(t.prompt, t.line) for t in moved if t is not None and t.line is not None]
        lines += [(c.prompt, LogLine("queued", f"handed to ComfyUI as {c.prompt.comfy_prompt_id} "
                                               f"(attempt {c.prompt.attempt})")) for c in claimed]
        rows = [(p.job_id, p.id, now, line.level, line.event, f"prompt #{p.index + 1} {line.message}")
                for p, line in lines]
        rows += [(job_id, None, now, "info", "job", f"job is now {change.after.value}") for job_id, change in jobs.items()]
        for start in range(0, len(rows), _LOG_ROWS_PER_INSERT):
            batch = rows[start:start + _LOG_ROWS_PER_INSERT]
            conn.execute(Q.insert_logs(len(batch)), [value for row in batch for value in row])
        last = {t.prompt.job_id: i for i, t in enumerate(moved) if t is not None}
        return [dataclasses.replace(t, job=jobs[t.prompt.job_id])
                if t is not None and last[t.prompt.job_id] == i and t.prompt.job_id in jobs else t
                for i, t in enumerate(moved)]
