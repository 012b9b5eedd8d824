"""Files: path checks, the folder browser, thumbnails and uploads (staging usage and
cleanup are ``cleanup.StagingCleanup``). Every path a request names goes through the
allowed roots first (ComfyUI has no authentication, so that check is all that stands
between a browser on the LAN and the rest of the disk). Blocking work (scans, hashing,
image decoding, deleting) runs in worker threads;
No aiohttp here: the routes turn requests into these calls.
"""

from __future__ import annotations

import asyncio
import logging
import os
import stat
import unicodedata
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from ..config import Settings
from ..errors import InvalidRequest, NotFound, PathForbidden, TooLarge, UnsupportedMedia
from ..media import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, media_kind
from ..timestamps import iso
from ..workflows import (
    Catalog,
    InputError,
    LoadedWorkflow,
    WorkflowNotFound,
    discover_inputs,
)
from . import uploads
from .browse import MAX_SCAN, FolderNotFound, browse, refuse_huge_folder
from .paths import AllowedRoots, PathInvalid, PathNotAllowed
from .thumbnails import Thumbnail, render_thumbnail, thumb_url
from .work import FileWork

log = logging.getLogger("vq.files")

MULTIPART_SLACK = 64 * 1024  # boundaries and part headers around the file in a declared length
MAX_SUBFOLDER_DEPTH = 8
THUMB_WORKERS = 2  # a folder grid asks for hundreds at once; decode a few at a time


class FilesService:
    def __init__(
        self,
        *,
        roots: Callable[[], AllowedRoots],
        input_dir: Path,
        uploads_dir: Path,
        settings: Settings,
        catalog: Catalog,
        work: FileWork,
    ) -> None:
        self.work = work
        self.roots, self.input_dir, self.uploads_dir = roots, input_dir, uploads_dir
        self.settings, self.catalog = settings, catalog
        self._thumbs = asyncio.Semaphore(THUMB_WORKERS)

    # --- paths ---------------------------------------------------------------------------

    async def normalize(self, raw: str, workflow: str | None) -> dict[str, Any]:
        """The path as vq reads it, inside the roots (else 403), and what it holds."""
        wf = self._workflow(workflow)
        return await self.work.run(self._normalize_sync, raw, wf)

    def _normalize_sync(self, raw: str, wf: LoadedWorkflow | None) -> dict[str, Any]:
        roots = self.roots()
        path = checked(roots, raw)
        try:
            st = path.stat()
        except FileNotFoundError:
            st = None
        except OSError as exc:  # unreadable: /proc/1/cwd, a folder without x permission above it
            raise InvalidRequest(f"{raw.strip()} cannot be read ({exc.strerror or exc}); give a folder vq can read",
                                 {"param": "path"}) from None
        kind = None if st is None else "folder" if stat.S_ISDIR(st.st_mode) else \
            "file" if stat.S_ISREG(st.st_mode) else None
        wanted = _wanted(wf, None)
        return {
            "input": raw,
            "path": str(path),
            "allowed": True,
            "exists": st is not None,
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
        refuse_huge_folder(path, self.settings.max_folder_files)
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

    async def browse(self, raw: str | None, workflow: str | None, extensions: list[str] | None,
                     limit: int) -> dict[str, Any]:
        wf = self._workflow(workflow)
        if wf is not None and extensions:
            raise InvalidRequest("give workflow or extensions, not both", {"param": "extensions"})
        wanted = _wanted(wf, extensions)
        return await self.work.run(self._browse_sync, raw, wanted, limit)

    def _browse_sync(self, raw: str | None, wanted: frozenset[str], limit: int) -> dict[str, Any]:
        roots = self.roots()
        if raw is not None:
            try:
                refuse_huge_folder(roots.resolve(raw), self.settings.max_folder_files)
            except (PathNotAllowed, PathInvalid):
                pass  # browse() answers those with the right message
        try:
            listing = browse(roots, raw, default=self.input_dir, extensions=set(wanted),
                             thumb_url=thumb_url, limit=limit)
        except PathNotAllowed as exc:
            raise _forbidden(exc) from None
        except PathInvalid as exc:
            raise InvalidRequest(str(exc), {"param": "path"}) from None
        except FolderNotFound as exc:
            raise NotFound(f"{exc}; pick another folder", {"param": "path"}) from None
        for item in listing["files"]:
            item["mtime"] = iso(item["mtime"])
        return {**listing, "roots": [str(r) for r in roots.roots], "extensions": sorted(wanted)}

    async def thumbnail(self, raw: str, size: int, if_none_match: str | None) -> Thumbnail:
        """A small WebP of an image in the allowed roots (ComfyUI's /view serves only its
        own folders, and its previews are full-size re-encodes)."""
        path, etag = await self.work.run(self._thumb_target, raw, size)
        if if_none_match == etag:
            return Thumbnail(etag, None)
        async with self._thumbs:
            return Thumbnail(etag, await self.work.run(render_thumbnail, path, size))

    def _thumb_target(self, raw: str, size: int) -> tuple[Path, str]:
        path = checked(self.roots(), raw)
        try:
            st = path.stat()
        except OSError:
            st = None
        if st is None or not path.is_file():
            raise NotFound(f"{path} is not a file")
        if media_kind(path.name) != "image":
            raise UnsupportedMedia(f"{path.name}: thumbnails are made for images only "
                                   f"({', '.join(sorted(IMAGE_EXTENSIONS))})")
        return path, f'"{st.st_mtime_ns:x}-{st.st_size:x}-{size}"'

    # --- uploads ---------------------------------------------------------------------------

    def refuse_if_too_large(self, declared_bytes: int | None) -> None:
        """Refuse at once when the request says it is larger than the limit."""
        if declared_bytes is not None and declared_bytes > self.settings.upload_max_bytes + MULTIPART_SLACK:
            raise _too_large(self.settings.upload_max_bytes)

    async def upload(self, chunks: AsyncIterator[bytes], filename: str, subfolder: str) -> dict[str, Any]:
        """Stream one upload into input/vq/uploads[/subfolder] under a unique, sanitized name."""
        directory = await self.work.run(self._upload_dir, subfolder)
        limit = self.settings.upload_max_bytes
        try:
            saved = await uploads.save_upload(chunks, directory, filename, max_bytes=limit, base_dir=self.input_dir,
                                              file_work=self.work.run)
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
            await self.work.run(Path(answer["path"]).unlink, missing_ok=True)

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
        try:
            target.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise InvalidRequest(f"{where}: {target.relative_to(self.uploads_dir)} (or a folder above it) is a "
                                 "file, not a folder; pick another subfolder", {"param": "subfolder"}) from None
        except OSError as exc:
            raise uploads.unwritable(target, exc) from exc
        return target

    # --- helpers -----------------------------------------------------------------------------

    def _workflow(self, name: str | None) -> LoadedWorkflow | None:
        if name is None:
            return None
        try:
            return self.catalog.get(name)
        except WorkflowNotFound as exc:
            known = ", ".join(exc.known) or "none"
            raise NotFound(f"no workflow named {name!r}; known workflows: {known}", {"known": exc.known}) from None


def checked(roots: AllowedRoots, raw: str, param: str = "path") -> Path:
    """A path a user sent, normalized and inside the roots; else 403 (outside) or 400
    (not a usable path, naming the request field ``param``)."""
    try:
        return roots.resolve(raw)
    except PathNotAllowed as exc:
        raise _forbidden(exc) from None
    except PathInvalid as exc:
        raise InvalidRequest(f"{param}: {exc}" if param != "path" else str(exc), {"param": param}) from None


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
