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

log = logging.getLogger("vq.files")
FIRST_SWEEP_SECONDS = 600.0  # after start-up, so a ComfyUI restarted daily still sweeps
T = TypeVar("T")


class StagingRecords(Protocol):
    """The store's part in cleanup (``queue.store.SqliteQueueStore``)."""

    def staged_references(self) -> Mapping[str, StagedUse]: ...

    def read_audit(self, limit: int) -> list[AuditEntry]: ...

    def write_audit(self, entries: list[AuditEntry]) -> None: ...


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
        clock: Callable[[], float] = time.time,
    ) -> None:
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
            outcomes = await asyncio.to_thread(self.retention.remove, survey.candidates, refs, self.clock())
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
        await asyncio.to_thread(self._check_staging_roots)
        refs = await self.db.run(self.store.staged_references)
        try:
            return await asyncio.to_thread(self.retention.survey, refs, self.clock())
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
                raise Conflict(f"{folder} resolves to {exc.path}, outside the allowed roots, so vq will not "
                               "delete files there; add that folder to allowed_roots or remove the link",
                               {"path": str(exc.path)}) from None

    # --- periodic sweep ----------------------------------------------------------------------

    def start_sweeps(self) -> None:
        hours = self.settings.staging_sweep_hours
        if hours > 0 and self._sweeper is None:
            self._sweeper = asyncio.get_running_loop().create_task(self._sweep_forever(hours * 3600))

    async def stop_sweeps(self) -> None:
        task, self._sweeper = self._sweeper, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _sweep_forever(self, interval: float) -> None:
        delay = min(interval, FIRST_SWEEP_SECONDS)
        while True:
            await asyncio.sleep(delay)
            delay = interval
            try:
                done = await self.cleanup(dry_run=False, trigger="sweep")
                self.last_sweep = {"at": iso(self.clock()), "removed": len(done["files"]),
                                   "freed_bytes": done["freed_bytes"], "failed": len(done["failed"]), "error": None}
            except Conflict as exc:  # a manual cleanup is running, or the folder is refused
                self.last_sweep = {"at": iso(self.clock()), "removed": 0, "freed_bytes": 0, "failed": 0,
                                   "error": exc.message}
            except Exception as exc:
                log.exception("vq: staging sweep failed; next try in %g hour(s)", interval / 3600)
                self.last_sweep = {"at": iso(self.clock()), "removed": 0, "freed_bytes": 0, "failed": 0,
                                   "error": f"internal error: {exc}"}


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
