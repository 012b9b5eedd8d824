"""Staging usage and cleanup: what retention would remove, removing it with an audit
entry per file, and the optional periodic sweep. Store calls go through the queue's
database runner; the store is reached through the small protocol below."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol, TypeVar

from ..config import Settings
from ..errors import Conflict
from ..timestamps import iso
from .paths import AllowedRoots, PathNotAllowed
from .records import AuditEntry, StagedUse
from .retention import DAY, Candidate, Outcome, Retention, Survey, Tally
from .staging import Stager
from .work import FileWork

log = logging.getLogger("vq.files")
FIRST_SWEEP_SECONDS = 600.0  # after start-up, so a ComfyUI restarted daily still sweeps
JOB_SWEEP_HOURS = 24.0  # how often old jobs are deleted when the staging sweep is off
T = TypeVar("T")


class StagingRecords(Protocol):
    """The store's part in cleanup (``queue.store.SqliteQueueStore``)."""

    def staged_references(self) -> Mapping[str, StagedUse]: ...

    def read_audit(self, limit: int) -> list[AuditEntry]: ...

    def write_audit(self, entries: list[AuditEntry]) -> None: ...

    def delete_finished_before(self, cutoff: float, *, limit: int = 500) -> list[int]: ...


class DbRunner(Protocol):
    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T: ...


class StagingCleanup:
    def __init__(
        self,
        *,
        roots: Callable[[], AllowedRoots],
        uploads_dir: Path,
        stager: Stager,
        settings: Settings,
        store: StagingRecords,
        db: DbRunner,
        work: FileWork,
        on_jobs_deleted: Callable[[list[int]], None],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.work = work
        self.on_jobs_deleted = on_jobs_deleted  # the sweep's deletions reach every sidebar
        self.roots, self.uploads_dir, self.stager = roots, uploads_dir, stager
        self.settings, self.store, self.db, self.clock = settings, store, db, clock
        self.retention = Retention(stager, uploads_dir, retention_seconds=settings.staging_retention_days * DAY)
        self._cleanup_lock = asyncio.Lock()
        self._sweeper: asyncio.Task[None] | None = None
        self.last_sweep: dict[str, Any] | None = None

    async def usage(self, audit_entries: int) -> dict[str, Any]:
        survey = await self._survey()
        audit = await self.db.run(self.store.read_audit, audit_entries) if audit_entries else []
        return {
            "root": str(self.stager.root),
            **_tally(survey.staged),
            "referenced": _tally(survey.referenced),
            "waiting": _tally(survey.waiting),
            "reclaimable": _tally(survey.reclaimable),
            "leftovers": _tally(survey.leftovers),
            "retention_days": self.settings.staging_retention_days,
            "sweep_hours": self.settings.staging_sweep_hours,
            "job_retention_days": self.settings.job_retention_days,
            "stage_on_submit": self.settings.stage_on_submit,
            "last_sweep": self.last_sweep,
            "audit": [_audit(e) for e in audit],
        }

    async def cleanup(self, dry_run: bool, *, trigger: str = "api") -> dict[str, Any]:
        """Dry run: what retention would remove now. Apply: remove it, one audit entry per file."""
        if self._cleanup_lock.locked():
            raise Conflict("a staging cleanup is already running; try again when it has finished")
        async with self._cleanup_lock:
            survey = await self._survey()
            answer: dict[str, Any] = {
                "dry_run": dry_run,
                "retention_days": self.settings.staging_retention_days,
                "referenced": _tally(survey.referenced),
                "waiting": _tally(survey.waiting),
            }
            if dry_run:
                return {**answer, **_files(survey.candidates), "failed": [], "skipped": []}
            # The survey took a while; judge each file again against the queue as it is now.
            refs = await self.db.run(self.store.staged_references)
            outcomes = await self.work.run(self.retention.remove, survey.candidates, refs, self.clock())
            now = self.clock()
            await self.db.run(self.store.write_audit, [_audit_entry(o, now, trigger) for o in outcomes])
            removed = [o.candidate for o in outcomes if o.result in ("deleted", "gone")]
            failed = [o for o in outcomes if o.result == "failed"]
            if failed:
                log.warning("vq: staging cleanup could not remove %d file(s), e.g. %s: %s",
                            len(failed), failed[0].candidate.path, failed[0].detail)
            return {
                **answer,
                **_files(removed),
                "failed": [{**_file(o.candidate), "error": o.detail} for o in failed],
                "skipped": [{**_file(o.candidate), "reason": o.detail} for o in outcomes if o.result == "kept"],
            }

    async def _survey(self) -> Survey:
        await self.work.run(self._check_staging_roots)
        refs = await self.db.run(self.store.staged_references)
        try:
            return await self.work.run(self.retention.survey, refs, self.clock())
        except OSError as exc:
            raise Conflict(f"the staging folder cannot be read ({exc.strerror or exc}); check the "
                           f"permissions of {self.stager.root} and {self.uploads_dir}") from None

    def _check_staging_roots(self) -> None:
        # Retention deletes files: never in a folder that resolves outside the allowed roots.
        roots = self.roots()
        for folder in (self.stager.root, self.uploads_dir):
            try:
                roots.check(folder)
            except PathNotAllowed as exc:
                raise Conflict(f"{folder} resolves outside the allowed roots, so vq will not "
                               "delete files there; add that folder to allowed_roots or remove the link",
                               {"path": str(exc.path)}) from None

    # --- periodic sweep ----------------------------------------------------------------------

    def start_sweeps(self) -> None:
        """One periodic sweep: old finished jobs (job_retention_days) and, when
        staging_sweep_hours is set, staged inputs; jobs first, so the staged inputs only
        they referenced become reclaimable in the same sweep."""
        hours = self.settings.staging_sweep_hours or (JOB_SWEEP_HOURS if self.settings.job_retention_days else 0)
        if hours > 0 and self._sweeper is None:
            self._sweeper = asyncio.get_running_loop().create_task(self._sweep_forever(hours * 3600))

    async def stop_sweeps(self) -> None:
        task, self._sweeper = self._sweeper, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def sweep_once(self) -> dict[str, Any]:
        now = self.clock()
        sweep: dict[str, Any] = {"at": iso(now), "jobs_deleted": 0, "removed": 0, "freed_bytes": 0, "failed": 0,
                                 "error": None}
        try:
            if self.settings.job_retention_days > 0:
                cutoff = now - self.settings.job_retention_days * DAY
                while deleted := await self.db.run(self.store.delete_finished_before, cutoff):
                    sweep["jobs_deleted"] += len(deleted)
                    self.on_jobs_deleted(deleted)
                if sweep["jobs_deleted"]:
                    log.info("vq: deleted %d job(s) finished over %g day(s) ago (job_retention_days)",
                             sweep["jobs_deleted"], self.settings.job_retention_days)
            if self.settings.staging_sweep_hours > 0:
                done = await self.cleanup(dry_run=False, trigger="sweep")
                sweep.update(removed=len(done["files"]), freed_bytes=done["freed_bytes"], failed=len(done["failed"]))
        except Conflict as exc:  # a manual cleanup is running, or the folder is refused
            sweep["error"] = exc.message
        except Exception as exc:
            log.exception("vq: sweep failed; next try at the next interval")
            sweep["error"] = f"internal error: {exc}"
        self.last_sweep = sweep
        return sweep

    async def _sweep_forever(self, interval: float) -> None:
        delay = min(interval, FIRST_SWEEP_SECONDS)
        while True:
            await asyncio.sleep(delay)
            delay = interval
            await self.sweep_once()


def _tally(tally: Tally) -> dict[str, int]:
    return {"files": tally.files, "bytes": tally.bytes}


def _file(cand: Candidate) -> dict[str, Any]:
    return {"path": str(cand.path), "name": cand.name, "kind": cand.kind, "bytes": cand.bytes,
            "shared": cand.shared, "reason": cand.reason}


def _files(cands: list[Candidate]) -> dict[str, Any]:
    return {
        "files": [_file(c) for c in cands],
        "bytes": sum(c.bytes for c in cands),
        "freed_bytes": sum(c.bytes for c in cands if not c.shared),
    }


def _audit_entry(outcome: Outcome, now: float, trigger: str) -> AuditEntry:
    cand = outcome.candidate
    return AuditEntry(now, f"delete_{cand.kind}", str(cand.path), cand.bytes, outcome.result,
                      f"{trigger}: {outcome.detail}")


def _audit(entry: AuditEntry) -> dict[str, Any]:
    return {"id": entry.id, "at": iso(entry.at), "action": entry.action, "path": entry.path,
            "bytes": entry.bytes, "result": entry.result, "detail": entry.detail}
