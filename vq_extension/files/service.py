"""Files: path checks, the folder browser, thumbnails, uploads, staging usage and cleanup.

The one service behind the files routes. Every path a request names goes through the
allowed roots first (ComfyUI has no authentication, so that check is all that stands
between a browser on the LAN and the rest of the disk). Blocking work (scans, hashing,
image decoding, deleting) runs in worker threads; store calls go through ``DbExecutor.run``.
No aiohttp here: the routes turn requests into these calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import os
import time
import unicodedata
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from PIL import Image, ImageOps, UnidentifiedImageError
from pydantic import Field, field_validator

from ..config import Settings
from . import uploads
from .browse import IMAGE_EXTENSIONS, MAX_SCAN, VIDEO_EXTENSIONS, FolderNotFound, browse, media_kind
from ..queue.executor import DbExecutor
from ..errors import Conflict, InvalidRequest, NotFound, PathForbidden, TooLarge, UnsupportedMedia
from .paths import AllowedRoots, PathInvalid, PathNotAllowed
from .retention import DAY, Candidate, Outcome, Retention, Survey, Tally
from .staging import Stager
from ..queue.store import AuditEntry, SqliteQueueStore
from ..api.views import iso
from ..api.requests import Body
from ..workflows import Catalog, InputError, LoadedWorkflow, WorkflowNotFound, discover_inputs

log = logging.getLogger("vq.files")

MULTIPART_SLACK = 64 * 1024  # boundaries and part headers around the file in a declared length
MAX_SUBFOLDER_DEPTH = 8
THUMB_PIXELS = 100_000_000  # refuse to decode larger images just for a thumbnail
THUMB_WORKERS = 2  # a folder grid asks for hundreds at once; decode a few at a time
FIRST_SWEEP_SECONDS = 600.0  # after start-up, so a ComfyUI restarted daily still sweeps


# --- request models (the routes validate these; they are this service's inputs) -------


class NormalizePath(Body):
    path: str = Field(..., max_length=8192, description="a path as pasted: Linux, Windows, WSL share, file:// URI")
    workflow: str | None = Field(None, max_length=200, description="count the files this workflow would take")


class BrowseQuery(Body):
    path: str | None = Field(None, max_length=8192, description="folder to list; default: ComfyUI's input folder")
    workflow: str | None = Field(None, max_length=200, description="list and count the files this workflow takes")
    extensions: list[str] | None = Field(None, description="comma-separated, e.g. png,jpg; default: images+videos")
    limit: int = Field(1000, ge=1, le=1000, description="folders + files returned")

    @field_validator("extensions", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value


class ThumbnailQuery(Body):
    path: str = Field(..., max_length=8192, description="an image inside the allowed roots")
    size: int = Field(256, ge=32, le=512, description="longest side in pixels")
    v: str | None = Field(None, max_length=100, description="cache key (the browse listing sets it); ignored")


class UploadQuery(Body):
    subfolder: str = Field("", max_length=1000, description="folder inside input/vq/uploads, e.g. batch1")


class StagingQuery(Body):
    audit: int = Field(20, ge=0, le=500, description="newest cleanup audit entries to include")


class CleanupBody(Body):
    dry_run: bool | None = Field(None, description="list what would be removed (the default)")
    apply: bool | None = Field(None, description="the same switch, inverted (what `vq cleanup --apply` sends)")

    @property
    def is_dry_run(self) -> bool:
        if self.dry_run is not None and self.apply is not None and self.dry_run == self.apply:
            raise InvalidRequest("dry_run and apply contradict each other; give one of them", {"param": "dry_run"})
        if self.dry_run is not None:
            return self.dry_run
        return not self.apply


@dataclass(frozen=True)
class Thumbnail:
    etag: str
    data: bytes | None  # None: the client's copy (If-None-Match) is current


class FilesService:
    def __init__(
        self,
        *,
        roots: Callable[[], AllowedRoots],
        input_dir: Path,
        uploads_dir: Path,
        stager: Stager,
        settings: Settings,
        catalog: Catalog,
        store: SqliteQueueStore,
        db: DbExecutor,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.roots, self.input_dir, self.uploads_dir, self.stager = roots, input_dir, uploads_dir, stager
        self.settings, self.catalog, self.store, self.db, self.clock = settings, catalog, store, db, clock
        self.retention = Retention(stager, uploads_dir, retention_seconds=settings.staging_retention_days * DAY)
        self._cleanup_lock = asyncio.Lock()
        self._thumbs = asyncio.Semaphore(THUMB_WORKERS)
        self._sweeper: asyncio.Task[None] | None = None
        self.last_sweep: dict[str, Any] | None = None

    # --- paths ---------------------------------------------------------------------------

    async def normalize(self, body: NormalizePath) -> dict[str, Any]:
        """The path as vq reads it, inside the roots (else 403), and what it holds."""
        wf = self._workflow(body.workflow)
        return await asyncio.to_thread(self._normalize_sync, body.path, wf)

    def _normalize_sync(self, raw: str, wf: LoadedWorkflow | None) -> dict[str, Any]:
        roots = self.roots()
        path = _checked(roots, raw)
        kind = "folder" if path.is_dir() else "file" if path.is_file() else None
        wanted = _wanted(wf, None)
        return {
            "input": raw,
            "path": str(path),
            "allowed": True,
            "exists": path.exists(),
            "kind": kind,
            "root": str(roots.root_of(path)),
            "workflow": wf.name if wf else None,
            "extensions": sorted(wanted),
            "matching_files": self._matching(roots, path, kind, wf, wanted),
        }

    def _matching(self, roots: AllowedRoots, path: Path, kind: str | None, wf: LoadedWorkflow | None,
                  wanted: frozenset[str]) -> int | None:
        if kind == "file":
            return int(path.suffix.lower() in wanted)
        if kind != "folder":
            return None
        try:
            if wf is not None:
                return sum(1 for f in discover_inputs(wf, path) if _inside_roots(roots, f))
            count = 0
            with os.scandir(path) as it:
                for scanned, entry in enumerate(it):
                    if scanned >= MAX_SCAN:
                        break
                    if os.path.splitext(entry.name)[1].lower() in wanted and entry.is_file() \
                            and _inside_roots(roots, Path(entry.path)):
                        count += 1
            return count
        except InputError:  # none matching
            return 0
        except OSError:  # unreadable: say "unknown" rather than 0
            return None

    # --- browsing --------------------------------------------------------------------------

    async def browse(self, query: BrowseQuery) -> dict[str, Any]:
        wf = self._workflow(query.workflow)
        if wf is not None and query.extensions:
            raise InvalidRequest("give workflow or extensions, not both", {"param": "extensions"})
        wanted = _wanted(wf, query.extensions)
        return await asyncio.to_thread(self._browse_sync, query.path, wanted, query.limit)

    def _browse_sync(self, raw: str | None, wanted: frozenset[str], limit: int) -> dict[str, Any]:
        roots = self.roots()
        try:
            listing = browse(roots, raw, default=self.input_dir, extensions=set(wanted),
                             thumb_url=_thumb_url, limit=limit)
        except PathNotAllowed as exc:
            raise _forbidden(exc) from None
        except PathInvalid as exc:
            raise InvalidRequest(str(exc), {"param": "path"}) from None
        except FolderNotFound as exc:
            raise NotFound(f"{exc}; pick another folder", {"param": "path"}) from None
        for item in listing["files"]:
            item["mtime"] = iso(item["mtime"])
        return {**listing, "roots": [str(r) for r in roots.roots], "extensions": sorted(wanted)}

    async def thumbnail(self, query: ThumbnailQuery, if_none_match: str | None) -> Thumbnail:
        """A small WebP of an image in the allowed roots (ComfyUI's /view serves only its
        own folders, and its previews are full-size re-encodes)."""
        path, etag = await asyncio.to_thread(self._thumb_target, query)
        if if_none_match == etag:
            return Thumbnail(etag, None)
        async with self._thumbs:
            return Thumbnail(etag, await asyncio.to_thread(_render_thumbnail, path, query.size))

    def _thumb_target(self, query: ThumbnailQuery) -> tuple[Path, str]:
        path = _checked(self.roots(), query.path)
        try:
            st = path.stat()
        except OSError:
            st = None
        if st is None or not path.is_file():
            raise NotFound(f"{path} is not a file")
        if media_kind(path.name) != "image":
            raise UnsupportedMedia(f"{path.name}: thumbnails are made for images only "
                                   f"({', '.join(sorted(IMAGE_EXTENSIONS))})")
        return path, f'"{st.st_mtime_ns:x}-{st.st_size:x}-{query.size}"'

    # --- uploads ---------------------------------------------------------------------------

    def refuse_if_too_large(self, declared_bytes: int | None) -> None:
        """Refuse at once when the request says it is larger than the limit."""
        if declared_bytes is not None and declared_bytes > self.settings.upload_max_bytes + MULTIPART_SLACK:
            raise _too_large(self.settings.upload_max_bytes)

    async def upload(self, chunks: AsyncIterator[bytes], filename: str, subfolder: str) -> dict[str, Any]:
        """Stream one upload into input/vq/uploads[/subfolder] under a unique, sanitized name."""
        directory = await asyncio.to_thread(self._upload_dir, subfolder)
        limit = self.settings.upload_max_bytes
        try:
            saved = await uploads.save_upload(chunks, directory, filename, max_bytes=limit, base_dir=self.input_dir)
        except uploads.UploadTooLarge:
            raise _too_large(limit) from None
        except uploads.UnsupportedMedia as exc:
            raise UnsupportedMedia(f"{filename or 'the upload'}: {exc}", {"detected": exc.detected}) from None
        return {
            "name": saved.name,
            "original_filename": saved.original_filename,
            "subfolder": saved.subfolder,
            "type": "input",
            "path": str(saved.path),
            "size": saved.size,
            "reused": saved.reused,
        }

    async def discard_upload(self, answer: dict[str, Any]) -> None:
        """Undo an upload the request turned out to be wrong about (never a reused file)."""
        if not answer["reused"]:
            await asyncio.to_thread(Path(answer["path"]).unlink, missing_ok=True)

    def _upload_dir(self, subfolder: str) -> Path:
        text = subfolder.strip().replace("\\", "/").strip("/")
        parts = [unicodedata.normalize("NFC", p) for p in text.split("/")] if text else []
        where = f"subfolder {subfolder!r}"
        if len(parts) > MAX_SUBFOLDER_DEPTH:
            raise InvalidRequest(f"{where} is {len(parts)} folders deep; the limit is {MAX_SUBFOLDER_DEPTH}",
                                 {"param": "subfolder"})
        for part in parts:
            if part in ("", ".", "..") or uploads.sanitize_filename(part) != part:
                raise InvalidRequest(
                    f"{where}: {part!r} cannot be a folder name; give plain names separated by '/' "
                    "(relative to vq's uploads folder: no '..', no leading dot, none of <>:\"\\|?*)",
                    {"param": "subfolder"})
        target = self.uploads_dir.joinpath(*parts)
        base, real = os.path.realpath(self.uploads_dir), os.path.realpath(target)
        if os.path.commonpath([base, real]) != base:
            raise PathForbidden(f"{where} leads out of vq's uploads folder {self.uploads_dir} through a "
                                "symbolic link; pick another subfolder", {"path": real})
        _checked_path(self.roots(), target)
        target.mkdir(parents=True, exist_ok=True)
        return target

    # --- staging ---------------------------------------------------------------------------

    async def staging_usage(self, query: StagingQuery) -> dict[str, Any]:
        survey = await self._survey()
        audit = await self.db.run(self.store.read_audit, query.audit) if query.audit else []
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

    # --- helpers -----------------------------------------------------------------------------

    def _workflow(self, name: str | None) -> LoadedWorkflow | None:
        if name is None:
            return None
        try:
            return self.catalog.get(name)
        except WorkflowNotFound as exc:
            known = ", ".join(exc.known) or "none"
            raise NotFound(f"no workflow named {name!r}; known workflows: {known}", {"known": exc.known}) from None


def _checked(roots: AllowedRoots, raw: str) -> Path:
    try:
        return roots.resolve(raw)
    except PathNotAllowed as exc:
        raise _forbidden(exc) from None
    except PathInvalid as exc:
        raise InvalidRequest(str(exc), {"param": "path"}) from None


def _checked_path(roots: AllowedRoots, path: Path) -> Path:
    try:
        return roots.check(path)
    except PathNotAllowed as exc:
        raise _forbidden(exc) from None


def _forbidden(exc: PathNotAllowed) -> PathForbidden:
    return PathForbidden(str(exc), {"path": str(exc.path), "allowed": False, "roots": [str(r) for r in exc.roots]})


def _inside_roots(roots: AllowedRoots, path: Path) -> bool:
    try:
        roots.check(path)
    except (PathNotAllowed, PathInvalid):
        return False
    return True


def _wanted(wf: LoadedWorkflow | None, extensions: list[str] | None) -> frozenset[str]:
    if wf is not None:
        return frozenset(wf.definition.input.suffixes)
    if extensions:
        return frozenset("." + e.lower().lstrip(".") for e in extensions)
    return IMAGE_EXTENSIONS | VIDEO_EXTENSIONS


def _thumb_url(path: Path) -> str:
    """Relative to the API base, like ComfyUI's own /view URLs (the UI adds /api)."""
    try:
        st = path.stat()
        version = f"{st.st_mtime_ns:x}-{st.st_size:x}"
    except OSError:
        version = "0"
    return "/vq/v1/thumbnail?" + urlencode({"path": str(path), "v": version})


def _render_thumbnail(path: Path, size: int) -> bytes:
    try:
        with Image.open(path) as img:
            width, height = img.size
            if width * height > THUMB_PIXELS:
                raise UnsupportedMedia(f"{path.name} is {width}x{height} pixels, too large to make a thumbnail of")
            img.draft("RGB", (size, size))  # JPEG: decode at a fraction of the size
            small = ImageOps.exif_transpose(img) or img
            small.thumbnail((size, size))
            if small.mode not in ("RGB", "RGBA"):
                alpha = "A" in small.getbands() or "transparency" in small.info
                small = small.convert("RGBA" if alpha else "RGB")
            out = io.BytesIO()
            small.save(out, "WEBP", quality=80)
            return out.getvalue()
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError, SyntaxError) as exc:
        raise UnsupportedMedia(f"{path.name} cannot be read as an image ({exc})") from None


def _too_large(limit: int) -> TooLarge:
    return TooLarge(
        f"the upload is larger than vq's limit of {_human(limit)} ({limit} bytes); raise upload_max_bytes in "
        "vq.yaml (or the VQ_UPLOAD_MAX_BYTES environment variable) and restart ComfyUI to allow larger files",
        {"limit": limit, "setting": "upload_max_bytes"})


def _human(size: int) -> str:
    if size < 1024:
        return f"{size} bytes"
    value = float(size)
    for unit in ("KiB", "MiB", "GiB"):
        value /= 1024
        if value < 1024 or unit == "GiB":
            break
    return f"{value:.1f} {unit}"


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
