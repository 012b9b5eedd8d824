"""The store's other half (``JobQueries``, mixed into ``store.SqliteQueueStore``): reads
of jobs, prompts, counts and the log; instances and idempotency keys; settings, the
auto-prompt cache, staging references and the audit trail; the set-based bulk actions and
deleting finished jobs.
Job creation, prompt transitions, claims, the tick's ``apply`` and the counters are in
``store.py``; both run ``sql.py``'s statements on the one connection ``store.py`` opens."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from typing import Any

from ..files.records import AuditEntry, StagedUse
from . import rows as rowmap
from . import sql as Q
from .models import IN_COMFY, JobStatus, PromptStatus
from .records import (
    AttemptRecord,
    BulkResult,
    InstanceRecord,
    JobRecord,
    LogEntry,
    PromptRecord,
    Replayed,
)

IDEMPOTENCY_SECONDS = 24 * 3600.0  # how long POST /jobs remembers an Idempotency-Key
INSTANCE_FORGET_SECONDS = 24 * 3600.0  # an instance silent this long is dropped from the table
P = PromptStatus


class JobQueries:
    _lock: threading.RLock
    _conn: sqlite3.Connection

    def _tx(self) -> AbstractContextManager[sqlite3.Connection]:  # provided by the store
        raise NotImplementedError

    def _journal(self, conn: sqlite3.Connection, now: float, moved: list[Any]) -> list[Any]:  # provided by the store
        raise NotImplementedError

    # --- jobs ----------------------------------------------------------------------

    def get_job(self, job_id: int) -> JobRecord | None:
        with self._lock:
            row = self._conn.execute(Q.SELECT_JOB, (job_id,)).fetchone()
        return rowmap.job(row) if row else None

    def get_jobs(self, job_ids: Sequence[int]) -> list[JobRecord]:
        """The jobs that exist among ``job_ids``, in that order."""
        if not job_ids:
            return []
        ids = ", ".join(str(int(jid)) for jid in job_ids)
        with self._lock:
            found = {r["id"]: rowmap.job(r) for r in self._conn.execute(Q.SELECT_JOBS_BY_ID.format(ids=ids))}
        return [found[jid] for jid in job_ids if jid in found]

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
        where, args = job_filter(statuses, search)
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

    # --- instances and idempotency keys (ownership) -----------------------------------

    def heartbeat(self, instance: InstanceRecord, now: float, lease_seconds: float) -> int:
        """The instance is alive: renew its row and the leases of its prompts in ComfyUI
        (returns how many); forget instances silent for a day. The dispatcher's tick does
        the same inside its one transaction (``store.apply(heartbeat=...)``)."""
        with self._tx() as conn:
            return self._heartbeat(conn, instance, now, lease_seconds)

    @staticmethod
    def _heartbeat(conn: sqlite3.Connection, instance: InstanceRecord, now: float, lease_seconds: float) -> int:
        lease = now + lease_seconds
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

    # --- counts ----------------------------------------------------------------------

    def average_seconds(self, job_ids: Sequence[int]) -> dict[int, float]:
        """Mean run time of each job's succeeded prompts (jobs with none are absent)."""
        return {j.id: avg for j in self.get_jobs(job_ids) if (avg := j.average_seconds) is not None}

    def prompt_totals(self) -> dict[PromptStatus, int]:
        """Prompts by status over the whole queue (kept incrementally: O(1))."""
        with self._lock:
            found = self._conn.execute(Q.SELECT_PROMPT_TOTALS).fetchall()
        return {PromptStatus(r["status"]): r["n"] for r in found if r["n"]}

    def running_with_average(self) -> list[dict[str, Any]]:
        """Running prompts: id, job_id, idx, started_at, workflow, average (their workflow's
        mean run time, None before any succeeded)."""
        with self._lock:
            return [dict(r) for r in self._conn.execute(Q.SELECT_RUNNING_WITH_AVERAGE).fetchall()]

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

    # --- bulk actions (set-based) ------------------------------------------------------

    def cancel_pending(self, job_id: int | None, now: float, *, why: str = "",
                       expected_total: int | None = None, counted: Sequence[PromptStatus] = ()) -> BulkResult | int:
        """Cancel every pending prompt of a job (or of the whole queue: ``job_id`` None) in
        one transaction: one log line per job, one UPDATE of the prompts (counters and job
        statuses follow by trigger), the jobs' status changes logged. Returns how many it canceled and
        the prompts of that job (or queue) still in ComfyUI, for the caller to cancel there.
        With ``expected_total``: first checks that the queue holds that many prompts in the
        ``counted`` statuses and, if not, changes nothing and returns the actual count."""
        args = {"job_id": job_id, "now": now, "why": why}
        with self._tx() as conn:
            if expected_total is not None:
                totals = {PromptStatus(r["status"]): r["n"] for r in conn.execute(Q.SELECT_PROMPT_TOTALS)}
                actual = sum(totals.get(s, 0) for s in counted)
                if actual != expected_total:
                    return actual
            jobs = [r[0] for r in conn.execute(Q.LOG_CANCEL_PENDING, args).fetchall()]
            moved = conn.execute(Q.CANCEL_PENDING, args).rowcount
            self._journal(conn, now, [])
            if job_id is None:
                found = conn.execute(Q.SELECT_PROMPTS_IN.format(statuses=Q.in_list(IN_COMFY))).fetchall()
            else:
                found = conn.execute(Q.SELECT_IN_COMFY_OF_JOB, (job_id,)).fetchall()
        return BulkResult(moved, [rowmap.prompt(r) for r in found], jobs)

    def retry_job(self, job_id: int, now: float, *, budget: int) -> int:
        """Every failed / canceled / interrupted prompt of the job back to pending, in one
        transaction (set-based, like ``cancel_pending``); returns how many."""
        with self._tx() as conn:
            moved = conn.execute(Q.RETRY_JOB_PROMPTS, {"job_id": job_id, "now": now, "budget": budget}).rowcount
            if not moved:
                return 0
            conn.execute(Q.INSERT_LOG, {"job_id": job_id, "prompt_id": None, "at": now, "level": "info",
                                      "event": "retry", "message": f"retried {moved} prompt(s)"})
            self._journal(conn, now, [])
        return moved

    # --- deleting jobs -------------------------------------------------------------------

    def delete_job(self, job_id: int) -> bool:
        """Delete a finished job with its prompts, attempts and log; False if it is not
        finished (or does not exist). ``prompt_total`` loses its prompts by trigger."""
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


__all__ = ["JobQueries"]


def job_filter(statuses: Sequence[JobStatus], search: str) -> tuple[str, list[Any]]:
    """The WHERE clause (and its arguments) of a job listing: status list, and a search
    that matches name, workflow or input folder as a literal substring, or a job id."""
    clauses: list[str] = []
    args: list[Any] = []
    if statuses:
        clauses.append(f"status IN ({Q.in_list(statuses)})")
    term = search.strip().lower()
    if term:
        escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        clause = "search_text LIKE ? ESCAPE '\\'"
        args.append(f"%{escaped}%")
        number = term.lstrip("#")
        if number.isascii() and number.isdigit():
            clause = f"({clause} OR id = ?)"
            args.append(int(number))
        clauses.append(clause)
    return (f"WHERE {' AND '.join(clauses)}" if clauses else ""), args
