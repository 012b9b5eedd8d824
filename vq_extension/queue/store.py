"""QueueStore: the durable queue in SQLite. It runs the statements of ``sql.py``.

Contract (the interface a future PostgreSQL store implements too, DESIGN §8):
- Every write runs in one short transaction (``BEGIN IMMEDIATE`` here).
- Every prompt status write is a guarded transition built from ``models.ALLOWED_FROM``:
  ``UPDATE ... WHERE id = ? AND status IN (<allowed predecessors>)``. A transition that
  does not apply changes nothing and returns ``None``; it never overwrites.
- A job's status is re-derived from its prompts inside the same transaction.
- ``claim_next`` atomically moves the next pending prompt to ``queued`` with a claim
  token, an owner and the ComfyUI prompt id it will be submitted under.

The store is synchronous and guarded by a lock; services call it through
``DbExecutor.run`` so the event loop never waits on disk.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import PromptError
from ..files.records import AuditEntry, StagedUse
from . import rows as rowmap
from . import sql as Q
from .migrations import MIGRATIONS, SCHEMA_VERSION, SchemaTooNew
from .models import ACTIONABLE_ORDER, JobStatus, PromptStatus, derive_job_status
from .records import (
    AttemptRecord,
    InstanceRecord,
    JobRecord,
    LogEntry,
    LogLine,
    NewJob,
    NewPreset,
    NewPrompt,
    PresetRecord,
    PromptRecord,
    Replayed,
    Transition,
)
from .sql import JOB_SORTS

P = PromptStatus
IDEMPOTENCY_SECONDS = 24 * 3600.0  # how long POST /jobs remembers an Idempotency-Key
INSTANCE_FORGET_SECONDS = 24 * 3600.0  # an instance silent this long is dropped from the table
_RANK = {status: rank for rank, status in enumerate(ACTIONABLE_ORDER)}

__all__ = ["JOB_SORTS", "SchemaTooNew", "SqliteQueueStore"]


class SqliteQueueStore:
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
        self.schema_version = self._migrate()

    @property
    def sqlite_version(self) -> str:
        return sqlite3.sqlite_version

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

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

    def find_idempotent(self, key: str, body_sha256: str, now: float) -> Replayed | None:
        """What a key seen in the last 24 h created, or None."""
        with self._lock:
            return self._replayed(self._conn, key, body_sha256, now)

    @staticmethod
    def _replayed(conn: sqlite3.Connection, key: str, body_sha256: str, now: float) -> Replayed | None:
        row = conn.execute(Q.SELECT_IDEMPOTENCY_KEY, (key, now - IDEMPOTENCY_SECONDS)).fetchone()
        if row is None:
            return None
        return Replayed(int(row["job_id"]), row["body_sha256"] == body_sha256)

    def get_job(self, job_id: int) -> JobRecord | None:
        with self._lock:
            row = self._conn.execute(Q.SELECT_JOB, (job_id,)).fetchone()
        return rowmap.job(row) if row else None

    def list_jobs(
        self,
        *,
        statuses: Sequence[JobStatus] = (),
        search: str = "",
        sort: str = "actionable",
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[JobRecord], int]:
        """A page of jobs and the total that matched. ``search`` matches name, workflow,
        input folder (case-insensitive substring) or an exact job id."""
        where, args = Q.job_filter(statuses, search)
        with self._lock:
            total = self._conn.execute(Q.COUNT_JOBS.format(where=where), args).fetchone()[0]
            found = self._conn.execute(
                Q.SELECT_JOBS.format(where=where, order=Q.JOB_ORDER[sort]), [*args, limit, offset]
            ).fetchall()
        return [rowmap.job(row) for row in found], int(total)

    def job_totals(self) -> dict[JobStatus, int]:
        with self._lock:
            found = self._conn.execute(Q.SELECT_JOB_TOTALS).fetchall()
        return {JobStatus(r["status"]): r["n"] for r in found}

    def set_priority(self, job_id: int, priority: int, now: float) -> bool:
        with self._tx() as conn:
            return conn.execute(Q.UPDATE_JOB_PRIORITY, {"id": job_id, "priority": priority, "now": now}).rowcount == 1

    def max_active_priority(self, excluding_job: int) -> int | None:
        with self._lock:
            value = self._conn.execute(Q.SELECT_MAX_ACTIVE_PRIORITY, (excluding_job,)).fetchone()[0]
        return None if value is None else int(value)

    # --- prompts -------------------------------------------------------------------

    def get_prompt(self, prompt_id: int) -> PromptRecord | None:
        with self._lock:
            row = self._conn.execute(Q.SELECT_PROMPT, (prompt_id,)).fetchone()
        return rowmap.prompt(row) if row else None

    def find_by_comfy_id(self, comfy_prompt_id: str) -> PromptRecord | None:
        with self._lock:
            row = self._conn.execute(Q.SELECT_PROMPT_BY_COMFY_ID, (comfy_prompt_id,)).fetchone()
        return rowmap.prompt(row) if row else None

    def get_graph(self, prompt_id: int) -> dict[str, Any] | None:
        with self._lock:
            row = self._conn.execute(Q.SELECT_PROMPT_GRAPH, (prompt_id,)).fetchone()
        return json.loads(row[0]) if row else None

    def job_prompts(self, job_id: int) -> list[PromptRecord]:
        with self._lock:
            found = self._conn.execute(Q.SELECT_JOB_PROMPTS, (job_id,)).fetchall()
        return [rowmap.prompt(r) for r in found]

    def prompts_in(self, statuses: Iterable[PromptStatus]) -> list[PromptRecord]:
        with self._lock:
            found = self._conn.execute(Q.SELECT_PROMPTS_IN.format(statuses=Q.in_list(statuses))).fetchall()
        return [rowmap.prompt(r) for r in found]

    def attempts(self, prompt_ids: Sequence[int]) -> dict[int, list[AttemptRecord]]:
        found: dict[int, list[AttemptRecord]] = {pid: [] for pid in prompt_ids}
        if not prompt_ids:
            return found
        ids = ", ".join(str(int(pid)) for pid in prompt_ids)
        with self._lock:
            found_attempts = self._conn.execute(Q.SELECT_ATTEMPTS.format(ids=ids)).fetchall()
        for r in found_attempts:
            found[r["prompt_id"]].append(rowmap.attempt(r))
        return found

    def prompt_counts(self, job_ids: Sequence[int]) -> dict[int, dict[PromptStatus, int]]:
        counts: dict[int, dict[PromptStatus, int]] = {jid: {} for jid in job_ids}
        if not job_ids:
            return counts
        ids = ", ".join(str(int(jid)) for jid in job_ids)
        with self._lock:
            found = self._conn.execute(Q.SELECT_PROMPT_COUNTS_FOR_JOBS.format(ids=ids)).fetchall()
        for r in found:
            counts[r["job_id"]][PromptStatus(r["status"])] = r["n"]
        return counts

    def average_seconds(self, job_ids: Sequence[int]) -> dict[int, float]:
        """Mean run time of each job's succeeded prompts (jobs with none are absent)."""
        if not job_ids:
            return {}
        ids = ", ".join(str(int(jid)) for jid in job_ids)
        with self._lock:
            found = self._conn.execute(Q.SELECT_AVG_DURATIONS.format(ids=ids)).fetchall()
        return {r["job_id"]: float(r["seconds"]) for r in found}

    def running_with_average(self) -> list[dict[str, Any]]:
        """Running prompts: id, job_id, idx, started_at, workflow, average (their workflow's
        mean run time, None before any succeeded)."""
        with self._lock:
            return [dict(r) for r in self._conn.execute(Q.SELECT_RUNNING_WITH_AVERAGE).fetchall()]

    def prompt_totals(self) -> dict[PromptStatus, int]:
        with self._lock:
            found = self._conn.execute(Q.SELECT_PROMPT_TOTALS).fetchall()
        return {PromptStatus(r["status"]): r["n"] for r in found}

    def claim_next(self, *, owner: str, now: float, lease_seconds: float) -> PromptRecord | None:
        """Atomically claim the next pending prompt (pending -> queued) or return None.
        The returned prompt carries a fresh uuid4 ``comfy_prompt_id`` to submit under;
        the job log says so in the same transaction."""
        with self._tx() as conn:
            row = conn.execute(Q.SELECT_NEXT_PENDING).fetchone()
            if row is None:
                return None
            params = {
                "id": row["id"],
                "comfy_prompt_id": str(uuid.uuid4()),
                "token": uuid.uuid4().hex,
                "owner": owner,
                "lease": now + lease_seconds,
                "now": now,
            }
            if conn.execute(Q.CLAIM_PROMPT, params).rowcount != 1:
                return None
            conn.execute(Q.INSERT_ATTEMPT, params)
            prompt = rowmap.prompt(conn.execute(Q.SELECT_PROMPT, (row["id"],)).fetchone())
            job_before, job_after = self._refresh_job(conn, prompt.job_id, now)
            conn.execute(Q.MARK_JOB_STARTED, {"id": prompt.job_id, "now": now})
            message = f"handed to ComfyUI as {prompt.comfy_prompt_id} (attempt {prompt.attempt})"
            self._log_change(conn, prompt, LogLine("queued", message), job_before, job_after, now)
        return prompt

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
        if to not in Q.TRANSITION:
            raise ValueError(f"use claim_next / requeue / pull_back for {to}")
        params = {
            "id": prompt_id,
            "to": to.value,
            "now": now,
            "comfy_prompt_id": comfy_prompt_id,
            "set_error": error is not None,
            "error": json.dumps(error.to_dict()) if error else None,
            "set_outputs": outputs is not None,
            "outputs": json.dumps(outputs) if outputs is not None else None,
            "set_reason": cancel_reason is not None,
            "reason": cancel_reason,
            "started_at": started_at,
            "expected": expected.value if expected else None,
        }
        with self._tx() as conn:
            before = conn.execute(Q.SELECT_PROMPT, (prompt_id,)).fetchone()
            if before is None or conn.execute(Q.TRANSITION[to], params).rowcount != 1:
                return None
            conn.execute(Q.UPDATE_ATTEMPT, params)
            return self._finish_transition(conn, prompt_id, before, now, log)

    def requeue(self, prompt_id: int, now: float, *, budget: int, log: LogLine | None = None) -> Transition | None:
        """failed / canceled / interrupted -> pending, for a new attempt; ``budget`` is how
        many more attempts it may take before an interruption counts as final."""
        with self._tx() as conn:
            before = conn.execute(Q.SELECT_PROMPT, (prompt_id,)).fetchone()
            params = {"id": prompt_id, "now": now, "budget": budget}
            if before is None or conn.execute(Q.REQUEUE_PROMPT, params).rowcount != 1:
                return None
            return self._finish_transition(conn, prompt_id, before, now, log)

    def pull_back(
        self, prompt_id: int, comfy_prompt_id: str, now: float, *, log: LogLine | None = None
    ) -> Transition | None:
        """queued -> pending after vq removed it from ComfyUI's queue unstarted."""
        params = {"id": prompt_id, "comfy_prompt_id": comfy_prompt_id, "now": now}
        with self._tx() as conn:
            before = conn.execute(Q.SELECT_PROMPT, (prompt_id,)).fetchone()
            if before is None or conn.execute(Q.PULL_BACK_PROMPT, params).rowcount != 1:
                return None
            conn.execute(Q.DELETE_ATTEMPT, params)
            return self._finish_transition(conn, prompt_id, before, now, log)

    # --- ownership ---------------------------------------------------------------------

    def heartbeat(self, instance: InstanceRecord, now: float, lease_seconds: float) -> int:
        """The instance is alive: renew its row and the leases of its prompts in ComfyUI
        (returns how many); forget instances silent for a day."""
        lease = now + lease_seconds
        with self._tx() as conn:
            conn.execute(Q.UPSERT_INSTANCE, {"id": instance.id, "host": instance.host, "port": instance.port,
                                             "pid": instance.pid, "started_at": instance.started_at, "now": now,
                                             "lease": lease})
            renewed = conn.execute(Q.RENEW_LEASES, {"id": instance.id, "lease": lease}).rowcount
            conn.execute(Q.DELETE_OLD_INSTANCES, {"before": now - INSTANCE_FORGET_SECONDS})
        return int(renewed)

    def instances(self) -> dict[str, InstanceRecord]:
        with self._lock:
            found = self._conn.execute(Q.SELECT_INSTANCES).fetchall()
        return {r["id"]: rowmap.instance(r) for r in found}

    def lose(self, prompt_id: int, now: float, *, comfy_prompt_id: str, owner: str | None, why: str,
             lease_before: float | None = None) -> Transition | None:
        """ComfyUI no longer has a queued or running prompt (restart, cleared queue, its
        owner died). In ONE transaction: a prompt that never started goes back to pending
        without using an attempt; one that started is interrupted, then requeued while
        attempts remain, else failed. Guarded by its ComfyUI id and ``owner``; with
        ``lease_before``, only while the owner's lease expired before then. None if the
        guard did not hold (someone else got there first)."""
        guard = {"id": prompt_id, "now": now, "comfy_prompt_id": comfy_prompt_id, "owner": owner,
                 "lease_before": lease_before}
        with self._tx() as conn:
            before = conn.execute(Q.SELECT_PROMPT, (prompt_id,)).fetchone()
            if before is None:
                return None
            job_before = JobStatus(conn.execute(Q.SELECT_JOB_STATUS, (before["job_id"],)).fetchone()[0])
            attempt = before["attempt"]
            if before["started_at"] is None and before["status"] == P.QUEUED.value:
                if conn.execute(Q.UNCLAIM_LOST_PROMPT, guard).rowcount != 1:
                    return None
                conn.execute(Q.DELETE_ATTEMPT, {"id": prompt_id, "comfy_prompt_id": comfy_prompt_id})
                line = LogLine("requeued", f"never started: {why}; back to pending (no attempt used)", "warning")
                return self._after_lost(conn, prompt_id, before, job_before, now, line)
            error = PromptError("interrupted", f"attempt {attempt} was interrupted while running: {why}")
            if conn.execute(Q.INTERRUPT_LOST_PROMPT, {**guard, "error": json.dumps(error.to_dict())}).rowcount != 1:
                return None
            conn.execute(Q.FINISH_INTERRUPTED_ATTEMPT, {**guard, "error": json.dumps(error.to_dict())})
            return self._after_interrupt(conn, prompt_id, before, job_before, now, error.message, why)

    def resolve_interrupted(self, prompt_id: int, now: float) -> Transition | None:
        """An ``interrupted`` prompt left behind (a crash between two steps of an older vq):
        requeue it while attempts remain, else fail it."""
        with self._tx() as conn:
            before = conn.execute(Q.SELECT_PROMPT, (prompt_id,)).fetchone()
            if before is None or before["status"] != P.INTERRUPTED.value:
                return None
            job_before = JobStatus(conn.execute(Q.SELECT_JOB_STATUS, (before["job_id"],)).fetchone()[0])
            return self._after_interrupt(conn, prompt_id, before, job_before, now,
                                         f"attempt {before['attempt']} was left interrupted",
                                         "it was left interrupted by an earlier run")

    def _after_interrupt(self, conn: sqlite3.Connection, prompt_id: int, before: sqlite3.Row,
                         job_before: JobStatus, now: float, what: str, why: str) -> Transition:
        attempt, max_attempts = before["attempt"], before["max_attempts"]
        if attempt < max_attempts:
            conn.execute(Q.REQUEUE_PROMPT, {"id": prompt_id, "now": now, "budget": 0})
            line = LogLine("requeued", f"{what}; back to pending for attempt {attempt + 1} "
                                       f"({attempt} of {max_attempts} attempts used)", "warning")
        else:
            final = PromptError(
                "interrupted_repeatedly",
                f"interrupted repeatedly while running ({attempt} of {max_attempts} attempts); last: {why}. "
                "If it crashes ComfyUI, check its inputs; retry it when fixed.",
            )
            conn.execute(Q.FAIL_INTERRUPTED_PROMPT, {"id": prompt_id, "now": now,
                                                     "error": json.dumps(final.to_dict())})
            line = LogLine("failed", final.message, "error")
        return self._after_lost(conn, prompt_id, before, job_before, now, line)

    def _after_lost(self, conn: sqlite3.Connection, prompt_id: int, before: sqlite3.Row, job_before: JobStatus,
                    now: float, line: LogLine) -> Transition:
        prompt = rowmap.prompt(conn.execute(Q.SELECT_PROMPT, (prompt_id,)).fetchone())
        _, job_after = self._refresh_job(conn, prompt.job_id, now)
        self._log_change(conn, prompt, line, job_before, job_after, now)
        return Transition(prompt, PromptStatus(before["status"]), job_before, job_after, line)

    def _finish_transition(
        self, conn: sqlite3.Connection, prompt_id: int, before: sqlite3.Row, now: float, log: LogLine | None
    ) -> Transition:
        prompt = rowmap.prompt(conn.execute(Q.SELECT_PROMPT, (prompt_id,)).fetchone())
        job_before, job_after = self._refresh_job(conn, prompt.job_id, now)
        self._log_change(conn, prompt, log, job_before, job_after, now)
        return Transition(prompt, PromptStatus(before["status"]), job_before, job_after)

    def _log_change(
        self, conn: sqlite3.Connection, prompt: PromptRecord, log: LogLine | None,
        job_before: JobStatus, job_after: JobStatus, now: float,
    ) -> None:
        if log is not None:
            conn.execute(Q.INSERT_LOG, {"job_id": prompt.job_id, "prompt_id": prompt.id, "at": now, "level": log.level,
                                      "event": log.event, "message": f"prompt #{prompt.index + 1} {log.message}"})
        if job_before != job_after:
            conn.execute(Q.INSERT_LOG, {"job_id": prompt.job_id, "prompt_id": None, "at": now, "level": "info",
                                      "event": "job", "message": f"job is now {job_after.value}"})

    def _refresh_job(self, conn: sqlite3.Connection, job_id: int, now: float) -> tuple[JobStatus, JobStatus]:
        before = JobStatus(conn.execute("SELECT status FROM job WHERE id = ?", (job_id,)).fetchone()[0])
        counts = {PromptStatus(r["status"]): r["n"] for r in conn.execute(Q.SELECT_JOB_STATUS_COUNTS, (job_id,))}
        after = derive_job_status(counts)
        conn.execute(
            Q.UPDATE_JOB_STATUS,
            {
                "id": job_id,
                "status": after.value,
                "rank": _RANK[after],
                "now": now,
                "finished": after in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELED),
            },
        )
        return before, after

    # --- job log -------------------------------------------------------------------

    def log(
        self, job_id: int, event: str, message: str, now: float, *, level: str = "info", prompt_id: int | None = None
    ) -> None:
        with self._tx() as conn:
            conn.execute(
                Q.INSERT_LOG,
                {"job_id": job_id, "prompt_id": prompt_id, "at": now, "level": level, "event": event, "message": message},
            )

    def read_log(self, job_id: int, *, after: int = 0, limit: int = 500) -> list[LogEntry]:
        with self._lock:
            found = self._conn.execute(Q.SELECT_LOG, (job_id, after, limit)).fetchall()
        return [rowmap.log_entry(r) for r in found]

    # --- settings --------------------------------------------------------------------

    def get_setting(self, key: str, default: Any = None) -> Any:
        with self._lock:
            row = self._conn.execute(Q.SELECT_SETTING, (key,)).fetchone()
        return json.loads(row[0]) if row else default

    def set_setting(self, key: str, value: Any) -> None:
        with self._tx() as conn:
            conn.execute(Q.UPSERT_SETTING, {"key": key, "value": json.dumps(value)})

    # --- auto-prompt cache (autoprompt.cache.CacheStore) -------------------------------

    def cache_get(self, kind: str, key: str) -> str | None:
        with self._lock:
            row = self._conn.execute(Q.SELECT_AUTOPROMPT, (kind, key)).fetchone()
        return row[0] if row else None

    def cache_put(self, kind: str, key: str, value: str) -> None:
        with self._tx() as conn:
            conn.execute(Q.UPSERT_AUTOPROMPT, {"kind": kind, "key": key, "value": value})

    # --- presets ---------------------------------------------------------------------

    def list_presets(self, kind: str, mode: str) -> list[PresetRecord]:
        with self._lock:
            found = self._conn.execute(Q.SELECT_PRESETS, (kind, mode)).fetchall()
        return [rowmap.preset(r) for r in found]

    def get_preset(self, preset_id: int) -> PresetRecord | None:
        with self._lock:
            row = self._conn.execute(Q.SELECT_PRESET, (preset_id,)).fetchone()
        return rowmap.preset(row) if row else None

    def save_preset(self, new: NewPreset, now: float, *, overwrite: bool) -> tuple[PresetRecord, bool] | None:
        """Insert a preset, or with ``overwrite`` replace the one of the same kind, mode and
        name; returns (preset, replaced), or None when the name is taken and not overwriting."""
        values = {"name": new.name, "kind": new.kind, "mode": new.mode, "workflow": new.workflow,
                  "payload": json.dumps(new.payload), "prompt_preset_id": new.prompt_preset_id, "now": now}
        with self._tx() as conn:
            old = conn.execute(Q.SELECT_PRESET_BY_NAME, (new.kind, new.mode, new.name)).fetchone()
            if old is not None and not overwrite:
                return None
            if old is not None:
                conn.execute(Q.OVERWRITE_PRESET, {**values, "id": old["id"]})
                preset_id = old["id"]
            else:
                preset_id = conn.execute(Q.INSERT_PRESET, values).lastrowid
            row = conn.execute(Q.SELECT_PRESET, (preset_id,)).fetchone()
        return rowmap.preset(row), old is not None

    def update_preset(self, preset_id: int, now: float, *, name: str | None = None, payload: Any = None,
                      link: tuple[int | None] | None = None) -> PresetRecord | None:
        """Rename a preset, replace its payload and/or (``link=(id,)``) its prompt-preset link.
        Raises sqlite3.IntegrityError when the new name is taken."""
        with self._tx() as conn:
            cur = conn.execute(Q.UPDATE_PRESET, {
                "id": preset_id, "name": name, "payload": None if payload is None else json.dumps(payload),
                "set_link": link is not None, "prompt_preset_id": link[0] if link else None, "now": now})
            row = conn.execute(Q.SELECT_PRESET, (preset_id,)).fetchone() if cur.rowcount else None
        return rowmap.preset(row) if row else None

    def delete_preset(self, preset_id: int) -> bool:
        with self._tx() as conn:
            return conn.execute(Q.DELETE_PRESET, (preset_id,)).rowcount == 1

    # --- staging references ----------------------------------------------------------

    def staged_references(self) -> dict[str, StagedUse]:
        """Every staged name a prompt holds, with whether it is still needed (retention)."""
        with self._lock:
            found = self._conn.execute(Q.SELECT_STAGED_REFERENCES).fetchall()
        return {r["name"]: StagedUse(bool(r["live"]), bool(r["unfinished"]), r["last_finished"]) for r in found}

    def write_audit(self, entries: Sequence[AuditEntry]) -> None:
        """Append staging audit entries (their ``id`` is ignored) in one transaction."""
        with self._tx() as conn:
            conn.executemany(Q.INSERT_AUDIT, (
                {"at": e.at, "action": e.action, "path": e.path, "bytes": e.bytes, "result": e.result,
                 "detail": e.detail} for e in entries))

    # --- deleting jobs -------------------------------------------------------------------

    def delete_job(self, job_id: int) -> bool:
        """Delete a finished job with its prompts, attempts and log; False if it is not
        finished (or does not exist)."""
        with self._tx() as conn:
            return conn.execute(Q.DELETE_FINISHED_JOB, {"id": job_id}).rowcount == 1

    def delete_finished_before(self, cutoff: float, *, limit: int = 500) -> list[int]:
        """Delete up to ``limit`` jobs that finished before ``cutoff``; their ids."""
        with self._tx() as conn:
            ids = [r[0] for r in conn.execute(Q.SELECT_FINISHED_BEFORE, {"cutoff": cutoff, "limit": limit})]
            if ids:
                conn.execute(Q.DELETE_JOBS.format(marks=", ".join("?" * len(ids))), ids)
        return ids

    def read_audit(self, limit: int = 100) -> list[AuditEntry]:
        """The newest ``limit`` audit entries, newest first."""
        with self._lock:
            found = self._conn.execute(Q.SELECT_AUDIT, (limit,)).fetchall()
        return [rowmap.audit_entry(r) for r in found]


