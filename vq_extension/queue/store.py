"""QueueStore: the durable queue in SQLite. Every SQL statement vq runs lives here.

Contract (the interface a future PostgreSQL store implements too, DESIGN §8):
- Every write runs in one short transaction (``BEGIN IMMEDIATE`` here).
- Every prompt status write is a guarded transition built from ``models.ALLOWED_FROM``:
  ``UPDATE ... WHERE id = ? AND status IN (<allowed predecessors>)``. A transition that
  does not apply changes nothing and returns ``None``; it never overwrites.
- A job's status is re-derived from its prompts inside the same transaction.
- ``claim_next`` atomically moves the next pending prompt to ``queued`` with a claim
  token, an owner and the ComfyUI prompt id it will be submitted under.

The store is synchronous and guarded by a lock; services call it through
``Database.run`` so the event loop never waits on disk.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .migrations import MIGRATIONS, SCHEMA_VERSION, SchemaTooNew
from .models import (
    ACTIONABLE_ORDER,
    ACTIVE,
    ALLOWED_FROM,
    TERMINAL,
    JobStatus,
    PromptError,
    PromptStatus,
    derive_job_status,
)
from .records import (
    AttemptRecord,
    JobRecord,
    LogEntry,
    LogLine,
    NewJob,
    NewPrompt,
    PromptRecord,
    Transition,
)

P = PromptStatus
_RANK = {status: rank for rank, status in enumerate(ACTIONABLE_ORDER)}


def _in_list(statuses: Iterable[PromptStatus | JobStatus]) -> str:
    return ", ".join(f"'{s.value}'" for s in sorted(statuses, key=lambda s: s.value))


# --- statements -------------------------------------------------------------------

# Insert one job.
INSERT_JOB = """
INSERT INTO job (name, status, status_rank, priority, workflow, mode, params_json, options_json,
                 source_json, workspace, search_text, created_at, updated_at)
VALUES (:name, 'pending', :rank, :priority, :workflow, :mode, :params, :options,
        :source, :workspace, :search, :now, :now)
"""

# Insert one prompt of a job.
INSERT_PROMPT = """
INSERT INTO prompt (job_id, idx, status, max_attempts, seed, input_file, staged_name, try_index,
                    params_json, graph_json, created_at, updated_at)
VALUES (:job_id, :idx, 'pending', :max_attempts, :seed, :input_file, :staged_name, :try_index,
        :params, :graph, :now, :now)
"""

# Guarded status change; one statement per target status, built from the transition table.
_TRANSITION_TEMPLATE = """
UPDATE prompt SET status = :to, updated_at = :now,
       started_at = CASE WHEN :to = 'running' THEN :now ELSE COALESCE(started_at, :started_at) END,
       finished_at = CASE WHEN :to IN ({terminal}) THEN :now ELSE finished_at END,
       error_json = CASE WHEN :set_error THEN :error ELSE error_json END,
       outputs_json = CASE WHEN :set_outputs THEN :outputs ELSE outputs_json END,
       cancel_reason = CASE WHEN :set_reason THEN :reason ELSE cancel_reason END
 WHERE id = :id AND status IN ({allowed})
   AND (:expected IS NULL OR status = :expected)
   AND (:comfy_prompt_id IS NULL OR comfy_prompt_id = :comfy_prompt_id)
"""
TRANSITION: dict[PromptStatus, str] = {
    to: _TRANSITION_TEMPLATE.format(terminal=_in_list(TERMINAL), allowed=_in_list(allowed))
    for to, allowed in ALLOWED_FROM.items()
    if to is not P.PENDING and to is not P.QUEUED  # those have their own statements below
}

# Pick the next pending prompt: highest job priority, then oldest job, then prompt index.
SELECT_NEXT_PENDING = """
SELECT p.id FROM prompt p
 WHERE p.status = 'pending' AND p.job_id = (
       SELECT j.id FROM job j
        WHERE j.status IN ('pending', 'running')
          AND EXISTS (SELECT 1 FROM prompt q WHERE q.job_id = j.id AND q.status = 'pending')
        ORDER BY j.priority DESC, j.created_at, j.id LIMIT 1)
 ORDER BY p.idx LIMIT 1
"""

# Claim: pending -> queued, stamping the attempt, claim token, owner and ComfyUI id.
CLAIM_PROMPT = """
UPDATE prompt SET status = 'queued', attempt = attempt + 1, comfy_prompt_id = :comfy_prompt_id,
       claim_token = :token, owner = :owner, lease_expires_at = :lease, queued_at = :now,
       started_at = NULL, finished_at = NULL, error_json = NULL, outputs_json = '[]',
       cancel_reason = NULL, updated_at = :now
 WHERE id = :id AND status = 'pending'
"""

# Record the attempt a claim starts (lineage survives retries).
INSERT_ATTEMPT = """
INSERT INTO attempt (prompt_id, attempt, comfy_prompt_id, status, queued_at)
SELECT id, attempt, comfy_prompt_id, 'queued', :now FROM prompt WHERE id = :id
"""

# Mirror a prompt's new status onto its current attempt.
UPDATE_ATTEMPT = """
UPDATE attempt SET status = :to,
       started_at = CASE WHEN :to = 'running' THEN :now ELSE COALESCE(started_at, :started_at) END,
       finished_at = CASE WHEN :to IN ({terminal}, 'interrupted') THEN :now ELSE finished_at END,
       error_json = CASE WHEN :set_error THEN :error ELSE error_json END
 WHERE prompt_id = :id AND attempt = (SELECT attempt FROM prompt WHERE id = :id)
   AND finished_at IS NULL  -- a retried prompt's previous attempt is history
""".format(terminal=_in_list(TERMINAL))

# Pause: queued -> pending for a prompt ComfyUI had not started; the attempt is undone.
PULL_BACK_PROMPT = """
UPDATE prompt SET status = 'pending', attempt = attempt - 1, comfy_prompt_id = NULL,
       claim_token = NULL, owner = NULL, lease_expires_at = NULL, queued_at = NULL, updated_at = :now
 WHERE id = :id AND status = 'queued' AND comfy_prompt_id = :comfy_prompt_id
"""
DELETE_ATTEMPT = "DELETE FROM attempt WHERE prompt_id = :id AND comfy_prompt_id = :comfy_prompt_id"

# Back to pending for another attempt (user retry, or recovery while attempts remain).
REQUEUE_PROMPT = f"""
UPDATE prompt SET status = 'pending', max_attempts = MAX(max_attempts, attempt + :budget),
       comfy_prompt_id = NULL, claim_token = NULL, owner = NULL, lease_expires_at = NULL,
       queued_at = NULL, started_at = NULL, finished_at = NULL, cancel_reason = NULL, updated_at = :now
 WHERE id = :id AND status IN ({_in_list(ALLOWED_FROM[P.PENDING] - {P.QUEUED})})
"""

SELECT_PROMPT = "SELECT * FROM prompt WHERE id = ?"
SELECT_PROMPT_BY_COMFY_ID = "SELECT * FROM prompt WHERE comfy_prompt_id = ?"
SELECT_PROMPT_GRAPH = "SELECT graph_json FROM prompt WHERE id = ?"
SELECT_JOB_PROMPTS = "SELECT * FROM prompt WHERE job_id = ? ORDER BY idx"
SELECT_PROMPTS_IN = "SELECT * FROM prompt WHERE status IN ({statuses}) ORDER BY id"
SELECT_ATTEMPTS = "SELECT * FROM attempt WHERE prompt_id IN ({ids}) ORDER BY prompt_id, attempt"
SELECT_JOB = "SELECT * FROM job WHERE id = ?"
SELECT_JOB_STATUS_COUNTS = "SELECT status, COUNT(*) AS n FROM prompt WHERE job_id = ? GROUP BY status"
SELECT_PROMPT_COUNTS_FOR_JOBS = (
    "SELECT job_id, status, COUNT(*) AS n FROM prompt WHERE job_id IN ({ids}) GROUP BY job_id, status"
)
SELECT_AVG_DURATIONS = (
    "SELECT job_id, AVG(finished_at - started_at) AS seconds FROM prompt"
    " WHERE job_id IN ({ids}) AND status = 'succeeded' AND started_at IS NOT NULL GROUP BY job_id"
)
SELECT_PROMPT_TOTALS = "SELECT status, COUNT(*) AS n FROM prompt GROUP BY status"
SELECT_JOB_TOTALS = "SELECT status, COUNT(*) AS n FROM job GROUP BY status"
SELECT_MAX_ACTIVE_PRIORITY = (
    "SELECT MAX(priority) FROM job WHERE status IN ('pending', 'running') AND id != ?"
)

# Re-derived job status, with the time it started and finished.
UPDATE_JOB_STATUS = """
UPDATE job SET status = :status, status_rank = :rank, updated_at = :now,
       started_at = CASE WHEN :status = 'pending' THEN NULL ELSE started_at END,
       finished_at = CASE WHEN :finished THEN COALESCE(finished_at, :now) ELSE NULL END
 WHERE id = :id
"""
# A job starts when its first prompt is claimed (a job canceled unstarted never started).
MARK_JOB_STARTED = "UPDATE job SET started_at = COALESCE(started_at, :now) WHERE id = :id"
UPDATE_JOB_PRIORITY = "UPDATE job SET priority = :priority, updated_at = :now WHERE id = :id"

INSERT_LOG = """
INSERT INTO job_log (job_id, prompt_id, at, level, event, message)
VALUES (:job_id, :prompt_id, :at, :level, :event, :message)
"""
SELECT_LOG = "SELECT * FROM job_log WHERE job_id = ? AND id > ? ORDER BY id LIMIT ?"

SELECT_SETTING = "SELECT value FROM setting WHERE key = ?"
UPSERT_SETTING = """
INSERT INTO setting (key, value) VALUES (:key, :value)
ON CONFLICT (key) DO UPDATE SET value = excluded.value
"""

_JOB_SORTS = {
    "actionable": "status_rank, created_at DESC, id DESC",
    "created": "created_at, id",
    "-created": "created_at DESC, id DESC",
    "priority": "priority DESC, created_at, id",
}
JOB_SORTS = tuple(_JOB_SORTS)
SELECT_JOBS = "SELECT * FROM job {where} ORDER BY {order} LIMIT ? OFFSET ?"
COUNT_JOBS = "SELECT COUNT(*) FROM job {where}"

# --- staging references ---

# Per staged name: is a prompt using it live, is any job using it unfinished, when did the last finish.
SELECT_STAGED_REFERENCES = f"""
SELECT p.staged_name AS name,
       MAX(p.status IN ({_in_list(ACTIVE)})) AS live,
       MAX(j.finished_at IS NULL) AS unfinished,
       MAX(j.finished_at) AS last_finished
  FROM prompt p JOIN job j ON j.id = p.job_id
 WHERE p.staged_name IS NOT NULL
 GROUP BY p.staged_name
"""
INSERT_AUDIT = """
INSERT INTO staging_audit (at, action, path, bytes, result, detail)
VALUES (:at, :action, :path, :bytes, :result, :detail)
"""
# Newest first.
SELECT_AUDIT = "SELECT * FROM staging_audit ORDER BY id DESC LIMIT ?"


# --- the store -------------------------------------------------------------------


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

    def create_job(self, job: NewJob, prompts: Sequence[NewPrompt], now: float) -> int:
        """Persist a job and all its prompts (and the log line saying so) in one
        transaction; returns the job id."""
        if not prompts:
            raise ValueError("a job needs at least one prompt")
        with self._tx() as conn:
            source_folder = (job.source or {}).get("folder") or ""
            cur = conn.execute(
                INSERT_JOB,
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
                INSERT_PROMPT,
                (
                    {
                        "job_id": job_id,
                        "idx": index,
                        "max_attempts": p.max_attempts,
                        "seed": p.seed,
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
            conn.execute(INSERT_LOG, {"job_id": job_id, "prompt_id": None, "at": now, "level": "info",
                                      "event": "submitted", "message": f"submitted with {len(prompts)} prompt(s)"})
        return job_id

    def get_job(self, job_id: int) -> JobRecord | None:
        with self._lock:
            row = self._conn.execute(SELECT_JOB, (job_id,)).fetchone()
        return _job(row) if row else None

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
        clauses: list[str] = []
        args: list[Any] = []
        if statuses:
            clauses.append(f"status IN ({_in_list(statuses)})")
        if search.strip():
            term = search.strip().lower()
            escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            clause = "search_text LIKE ? ESCAPE '\\'"
            args.append(f"%{escaped}%")
            if term.lstrip("#").isascii() and term.lstrip("#").isdigit():
                clause = f"({clause} OR id = ?)"
                args.append(int(term.lstrip("#")))
            clauses.append(clause)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        with self._lock:
            total = self._conn.execute(COUNT_JOBS.format(where=where), args).fetchone()[0]
            rows = self._conn.execute(
                SELECT_JOBS.format(where=where, order=_JOB_SORTS[sort]), [*args, limit, offset]
            ).fetchall()
        return [_job(row) for row in rows], int(total)

    def job_totals(self) -> dict[JobStatus, int]:
        with self._lock:
            rows = self._conn.execute(SELECT_JOB_TOTALS).fetchall()
        return {JobStatus(r["status"]): r["n"] for r in rows}

    def set_priority(self, job_id: int, priority: int, now: float) -> bool:
        with self._tx() as conn:
            return conn.execute(UPDATE_JOB_PRIORITY, {"id": job_id, "priority": priority, "now": now}).rowcount == 1

    def max_active_priority(self, excluding_job: int) -> int | None:
        with self._lock:
            value = self._conn.execute(SELECT_MAX_ACTIVE_PRIORITY, (excluding_job,)).fetchone()[0]
        return None if value is None else int(value)

    # --- prompts -------------------------------------------------------------------

    def get_prompt(self, prompt_id: int) -> PromptRecord | None:
        with self._lock:
            row = self._conn.execute(SELECT_PROMPT, (prompt_id,)).fetchone()
        return _prompt(row) if row else None

    def find_by_comfy_id(self, comfy_prompt_id: str) -> PromptRecord | None:
        with self._lock:
            row = self._conn.execute(SELECT_PROMPT_BY_COMFY_ID, (comfy_prompt_id,)).fetchone()
        return _prompt(row) if row else None

    def get_graph(self, prompt_id: int) -> dict[str, Any] | None:
        with self._lock:
            row = self._conn.execute(SELECT_PROMPT_GRAPH, (prompt_id,)).fetchone()
        return json.loads(row[0]) if row else None

    def job_prompts(self, job_id: int) -> list[PromptRecord]:
        with self._lock:
            rows = self._conn.execute(SELECT_JOB_PROMPTS, (job_id,)).fetchall()
        return [_prompt(r) for r in rows]

    def prompts_in(self, statuses: Iterable[PromptStatus]) -> list[PromptRecord]:
        with self._lock:
            rows = self._conn.execute(SELECT_PROMPTS_IN.format(statuses=_in_list(statuses))).fetchall()
        return [_prompt(r) for r in rows]

    def attempts(self, prompt_ids: Sequence[int]) -> dict[int, list[AttemptRecord]]:
        found: dict[int, list[AttemptRecord]] = {pid: [] for pid in prompt_ids}
        if not prompt_ids:
            return found
        ids = ", ".join(str(int(pid)) for pid in prompt_ids)
        with self._lock:
            rows = self._conn.execute(SELECT_ATTEMPTS.format(ids=ids)).fetchall()
        for r in rows:
            found[r["prompt_id"]].append(
                AttemptRecord(
                    prompt_id=r["prompt_id"],
                    attempt=r["attempt"],
                    comfy_prompt_id=r["comfy_prompt_id"],
                    status=PromptStatus(r["status"]),
                    queued_at=r["queued_at"],
                    started_at=r["started_at"],
                    finished_at=r["finished_at"],
                    error=_error(r["error_json"]),
                )
            )
        return found

    def prompt_counts(self, job_ids: Sequence[int]) -> dict[int, dict[PromptStatus, int]]:
        counts: dict[int, dict[PromptStatus, int]] = {jid: {} for jid in job_ids}
        if not job_ids:
            return counts
        ids = ", ".join(str(int(jid)) for jid in job_ids)
        with self._lock:
            rows = self._conn.execute(SELECT_PROMPT_COUNTS_FOR_JOBS.format(ids=ids)).fetchall()
        for r in rows:
            counts[r["job_id"]][PromptStatus(r["status"])] = r["n"]
        return counts

    def average_seconds(self, job_ids: Sequence[int]) -> dict[int, float]:
        """Mean run time of each job's succeeded prompts (jobs with none are absent)."""
        if not job_ids:
            return {}
        ids = ", ".join(str(int(jid)) for jid in job_ids)
        with self._lock:
            rows = self._conn.execute(SELECT_AVG_DURATIONS.format(ids=ids)).fetchall()
        return {r["job_id"]: float(r["seconds"]) for r in rows}

    def prompt_totals(self) -> dict[PromptStatus, int]:
        with self._lock:
            rows = self._conn.execute(SELECT_PROMPT_TOTALS).fetchall()
        return {PromptStatus(r["status"]): r["n"] for r in rows}

    def claim_next(self, *, owner: str, now: float, lease_seconds: float) -> PromptRecord | None:
        """Atomically claim the next pending prompt (pending -> queued) or return None.
        The returned prompt carries a fresh uuid4 ``comfy_prompt_id`` to submit under;
        the job log says so in the same transaction."""
        with self._tx() as conn:
            row = conn.execute(SELECT_NEXT_PENDING).fetchone()
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
            if conn.execute(CLAIM_PROMPT, params).rowcount != 1:
                return None
            conn.execute(INSERT_ATTEMPT, params)
            prompt = _prompt(conn.execute(SELECT_PROMPT, (row["id"],)).fetchone())
            job_before, job_after = self._refresh_job(conn, prompt.job_id, now)
            conn.execute(MARK_JOB_STARTED, {"id": prompt.job_id, "now": now})
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
        if to not in TRANSITION:
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
            before = conn.execute(SELECT_PROMPT, (prompt_id,)).fetchone()
            if before is None or conn.execute(TRANSITION[to], params).rowcount != 1:
                return None
            conn.execute(UPDATE_ATTEMPT, params)
            return self._finish_transition(conn, prompt_id, before, now, log)

    def requeue(self, prompt_id: int, now: float, *, budget: int, log: LogLine | None = None) -> Transition | None:
        """failed / canceled / interrupted -> pending, for a new attempt; ``budget`` is how
        many more attempts it may take before an interruption counts as final."""
        with self._tx() as conn:
            before = conn.execute(SELECT_PROMPT, (prompt_id,)).fetchone()
            params = {"id": prompt_id, "now": now, "budget": budget}
            if before is None or conn.execute(REQUEUE_PROMPT, params).rowcount != 1:
                return None
            return self._finish_transition(conn, prompt_id, before, now, log)

    def pull_back(
        self, prompt_id: int, comfy_prompt_id: str, now: float, *, log: LogLine | None = None
    ) -> Transition | None:
        """queued -> pending after vq removed it from ComfyUI's queue unstarted."""
        params = {"id": prompt_id, "comfy_prompt_id": comfy_prompt_id, "now": now}
        with self._tx() as conn:
            before = conn.execute(SELECT_PROMPT, (prompt_id,)).fetchone()
            if before is None or conn.execute(PULL_BACK_PROMPT, params).rowcount != 1:
                return None
            conn.execute(DELETE_ATTEMPT, params)
            return self._finish_transition(conn, prompt_id, before, now, log)

    def _finish_transition(
        self, conn: sqlite3.Connection, prompt_id: int, before: sqlite3.Row, now: float, log: LogLine | None
    ) -> Transition:
        prompt = _prompt(conn.execute(SELECT_PROMPT, (prompt_id,)).fetchone())
        job_before, job_after = self._refresh_job(conn, prompt.job_id, now)
        self._log_change(conn, prompt, log, job_before, job_after, now)
        return Transition(prompt, PromptStatus(before["status"]), job_before, job_after)

    def _log_change(
        self, conn: sqlite3.Connection, prompt: PromptRecord, log: LogLine | None,
        job_before: JobStatus, job_after: JobStatus, now: float,
    ) -> None:
        if log is not None:
            conn.execute(INSERT_LOG, {"job_id": prompt.job_id, "prompt_id": prompt.id, "at": now, "level": log.level,
                                      "event": log.event, "message": f"prompt #{prompt.index} {log.message}"})
        if job_before != job_after:
            conn.execute(INSERT_LOG, {"job_id": prompt.job_id, "prompt_id": None, "at": now, "level": "info",
                                      "event": "job", "message": f"job is now {job_after.value}"})

    def _refresh_job(self, conn: sqlite3.Connection, job_id: int, now: float) -> tuple[JobStatus, JobStatus]:
        before = JobStatus(conn.execute("SELECT status FROM job WHERE id = ?", (job_id,)).fetchone()[0])
        counts = {PromptStatus(r["status"]): r["n"] for r in conn.execute(SELECT_JOB_STATUS_COUNTS, (job_id,))}
        after = derive_job_status(counts)
        conn.execute(
            UPDATE_JOB_STATUS,
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
                INSERT_LOG,
                {"job_id": job_id, "prompt_id": prompt_id, "at": now, "level": level, "event": event, "message": message},
            )

    def read_log(self, job_id: int, *, after: int = 0, limit: int = 500) -> list[LogEntry]:
        with self._lock:
            rows = self._conn.execute(SELECT_LOG, (job_id, after, limit)).fetchall()
        return [
            LogEntry(r["id"], r["job_id"], r["prompt_id"], r["at"], r["level"], r["event"], r["message"])
            for r in rows
        ]

    # --- settings --------------------------------------------------------------------

    def get_setting(self, key: str, default: Any = None) -> Any:
        with self._lock:
            row = self._conn.execute(SELECT_SETTING, (key,)).fetchone()
        return json.loads(row[0]) if row else default

    def set_setting(self, key: str, value: Any) -> None:
        with self._tx() as conn:
            conn.execute(UPSERT_SETTING, {"key": key, "value": json.dumps(value)})


    # --- staging references ----------------------------------------------------------

    def staged_references(self) -> dict[str, StagedUse]:
        """Every staged name a prompt holds, with whether it is still needed (retention)."""
        with self._lock:
            rows = self._conn.execute(SELECT_STAGED_REFERENCES).fetchall()
        return {r["name"]: StagedUse(bool(r["live"]), bool(r["unfinished"]), r["last_finished"]) for r in rows}

    def write_audit(self, entries: Sequence[AuditEntry]) -> None:
        """Append staging audit entries (their ``id`` is ignored) in one transaction."""
        with self._tx() as conn:
            conn.executemany(INSERT_AUDIT, (
                {"at": e.at, "action": e.action, "path": e.path, "bytes": e.bytes, "result": e.result,
                 "detail": e.detail} for e in entries))

    def read_audit(self, limit: int = 100) -> list[AuditEntry]:
        """The newest ``limit`` audit entries, newest first."""
        with self._lock:
            rows = self._conn.execute(SELECT_AUDIT, (limit,)).fetchall()
        return [AuditEntry(r["at"], r["action"], r["path"], r["bytes"], r["result"], r["detail"], r["id"])
                for r in rows]


@dataclass(frozen=True)
class StagedUse:
    """What the queue says about one staged input name."""

    live: bool  # a prompt naming it is pending, queued, running, canceling or interrupted
    unfinished: bool  # a job with a prompt naming it has not finished
    last_finished: float | None  # newest finished_at of those jobs


@dataclass(frozen=True)
class AuditEntry:
    at: float
    action: str
    path: str
    bytes: int | None
    result: str
    detail: str | None
    id: int | None = None


# --- row mapping -------------------------------------------------------------------


def _error(raw: str | None) -> PromptError | None:
    return PromptError.from_dict(json.loads(raw)) if raw else None


def _job(row: sqlite3.Row) -> JobRecord:
    return JobRecord(
        id=row["id"],
        name=row["name"],
        status=JobStatus(row["status"]),
        priority=row["priority"],
        workflow=row["workflow"],
        mode=row["mode"],
        params=json.loads(row["params_json"]),
        options=json.loads(row["options_json"]),
        source=json.loads(row["source_json"]) if row["source_json"] else None,
        workspace=row["workspace"],
        created_at=row["created_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        updated_at=row["updated_at"],
    )


def _prompt(row: sqlite3.Row) -> PromptRecord:
    return PromptRecord(
        id=row["id"],
        job_id=row["job_id"],
        index=row["idx"],
        status=PromptStatus(row["status"]),
        attempt=row["attempt"],
        max_attempts=row["max_attempts"],
        seed=row["seed"],
        input_file=row["input_file"],
        staged_name=row["staged_name"],
        try_index=row["try_index"],
        params=json.loads(row["params_json"]) if row["params_json"] else None,
        comfy_prompt_id=row["comfy_prompt_id"],
        claim_token=row["claim_token"],
        owner=row["owner"],
        cancel_reason=row["cancel_reason"],
        error=_error(row["error_json"]),
        outputs=json.loads(row["outputs_json"] or "[]"),
        created_at=row["created_at"],
        queued_at=row["queued_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        updated_at=row["updated_at"],
    )
