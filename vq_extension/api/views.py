"""Records -> the JSON shapes of docs/api.md. Pure functions; no I/O."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..queue.models import TERMINAL, JobStatus, PromptStatus
from ..queue.progress import LiveProgress
from ..queue.records import AttemptRecord, JobRecord, LogEntry, PromptRecord
from ..timestamps import iso

P = PromptStatus




STUCK_FACTOR = 3.0  # a prompt running this many times its workflow's average is shown as "stuck?"


def stuck_prompts(running: list[dict[str, Any]], now: float) -> list[dict[str, Any]]:
    """Running prompts that took over STUCK_FACTOR x their workflow's average: maybe hung
    (prompt_timeout_seconds is off by default), so the UI offers the interrupt."""
    out = []
    for r in running:
        avg, elapsed = r["average"], now - r["started_at"]
        if avg is not None and avg > 0 and elapsed > STUCK_FACTOR * avg:
            out.append({"prompt_id": r["id"], "job_id": r["job_id"], "index": r["idx"], "workflow": r["workflow"],
                        "running_seconds": round(elapsed, 1), "average_seconds": round(avg, 1)})
    return out


def job_summary(
    job: JobRecord,
    counts: Mapping[PromptStatus, int],
    live: LiveProgress,
    avg_seconds: float | None,
    now: float,
) -> dict[str, Any]:
    current = live.for_job(job.id)
    return {
        "id": job.id,
        "name": job.name,
        "workflow": job.workflow,
        "mode": job.mode,
        "status": job.status.value,
        "priority": job.priority,
        "workspace": job.workspace,
        "created_at": iso(job.created_at),
        "started_at": iso(job.started_at),
        "finished_at": iso(job.finished_at),
        "total": sum(counts.values()),
        "done": sum(counts.get(s, 0) for s in TERMINAL),
        "counts": {s.value: n for s, n in counts.items() if n},
        "current": {"prompt_id": current.prompt_id, **current.to_dict()} if current else None,
        "eta_seconds": _eta(job, counts, avg_seconds, current, now),
    }


def _eta(job: JobRecord, counts: Mapping[PromptStatus, int], avg: float | None, current: Any, now: float) -> float | None:
    if avg is None or job.status not in (JobStatus.PENDING, JobStatus.RUNNING):
        return None
    waiting = sum(counts.get(s, 0) for s in (P.PENDING, P.QUEUED, P.INTERRUPTED))
    running = counts.get(P.RUNNING, 0) + counts.get(P.CANCELING, 0)
    eta = avg * waiting
    if running and current is not None and current.max:
        eta += avg * max(0.0, 1 - current.value / current.max)
    elif running:
        eta += avg / 2
    return round(eta, 1)


def prompt_brief(prompt: PromptRecord, live: LiveProgress) -> dict[str, Any]:
    """What a vq.prompt event carries."""
    progress = live.get(prompt.id)
    return {
        "id": prompt.id,
        "job_id": prompt.job_id,
        "index": prompt.index,
        "status": prompt.status.value,
        "attempt": prompt.attempt,
        "comfy_prompt_id": prompt.comfy_prompt_id,
        "progress": progress.to_dict() if progress else None,
        "error": prompt.error.to_dict() if prompt.error else None,
    }


def prompt_detail(prompt: PromptRecord, attempts: Sequence[AttemptRecord], live: LiveProgress) -> dict[str, Any]:
    return {
        **prompt_brief(prompt, live),
        "max_attempts": prompt.max_attempts,
        "seed": prompt.seed,
        "input_file": prompt.input_file,
        "staged_name": prompt.staged_name,
        "try_index": prompt.try_index,
        "params": prompt.params,
        "outputs": prompt.outputs,
        "created_at": iso(prompt.created_at),
        "queued_at": iso(prompt.queued_at),
        "started_at": iso(prompt.started_at),
        "finished_at": iso(prompt.finished_at),
        "attempts": [
            {
                "attempt": a.attempt,
                "comfy_prompt_id": a.comfy_prompt_id,
                "status": a.status.value,
                "queued_at": iso(a.queued_at),
                "started_at": iso(a.started_at),
                "finished_at": iso(a.finished_at),
                "error": a.error.to_dict() if a.error else None,
            }
            for a in attempts
        ],
    }


def log_entry(entry: LogEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "at": iso(entry.at),
        "level": entry.level,
        "event": entry.event,
        "message": entry.message,
        "prompt_id": entry.prompt_id,
    }
