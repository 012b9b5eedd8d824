"""Server-side folder browser over the allowed roots (the folder picker of the sidebar).

It runs on the server so it works from a remote browser too, and it never shows anything
outside the allowed roots: entries that are symlinks resolving outside every root are left
out rather than shown as dead ends. Listings are bounded, because a folder of 100k frames
must not stall the request. Blocking: call it through vq's file executor (`FileWork.run`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import InvalidRequest
from ..media import PROCESSED_DIR, media_kind
from .paths import AllowedRoots, PathNotAllowed

MAX_ENTRIES = 1000  # folders + files returned per listing
MAX_SCAN = 50_000  # directory entries looked at per listing (and per folder count)


class FolderNotFound(LookupError):
    """The folder does not exist, is not a folder, or cannot be read (maps to HTTP 404)."""


def browse(
    roots: AllowedRoots,
    raw_path: str | None,
    *,
    default: Path,
    extensions: set[str] | None,
    thumb_url: Callable[[Path], str | None],
    limit: int = MAX_ENTRIES,
) -> dict[str, Any]:
    """List the sub-folders and matching files of one folder inside the allowed roots.

    Folders come first and files fill the rest of `limit`; both are sorted by name,
    case-insensitively. `truncated` says that entries were left out.

    `raw_path` is user text (normalized like any path); None or blank starts at `default`
    (ComfyUI's input directory). A path naming a file lists the folder that holds it.
    `extensions` filters files (".png" or "png", any case); None lists every file.
    """
    if raw_path is None or not raw_path.strip():
        folder = roots.check(default)
    else:
        folder = roots.resolve(raw_path)
    if folder.is_file():
        folder = roots.check(folder.parent)
    wanted = _normalize_extensions(extensions)
    entries, truncated = _scan(folder)
    root = roots.root_of(folder)

    dirs = [e for e in entries if _is_dir(e) and _stays_inside(roots, e)]
    folders = [_folder_item(e, wanted) for e in dirs[:limit]]
    files: list[dict[str, Any]] = []
    truncated = truncated or len(dirs) > limit
    for entry in (e for e in entries if not _is_dir(e)):
        if not _matches(entry.name, wanted) or not _stays_inside(roots, entry):
            continue
        if len(folders) + len(files) >= limit:
            truncated = True
            break
        item = _file_item(entry, thumb_url)
        if item is not None:
            files.append(item)
    return {
        "path": str(folder),
        "root": str(root),
        "parent": None if folder == root else str(folder.parent),
        "folders": folders,
        "files": files,
        "truncated": truncated,
    }


def _normalize_extensions(extensions: set[str] | None) -> frozenset[str] | None:
    if extensions is None:
        return None
    return frozenset("." + e.lower().lstrip(".") for e in extensions)


def _scan(folder: Path) -> tuple[list[os.DirEntry[str]], bool]:
    """Up to MAX_SCAN entries, sorted case-insensitively (ties broken by exact name)."""
    entries: list[os.DirEntry[str]] = []
    truncated = False
    try:
        with os.scandir(folder) as it:
            for entry in it:
                if len(entries) >= MAX_SCAN:
                    truncated = True
                    break
                entries.append(entry)
    except FileNotFoundError:
        raise FolderNotFound(f"{folder} does not exist") from None
    except NotADirectoryError:
        raise FolderNotFound(f"{folder} is not a folder") from None
    except PermissionError:
        raise FolderNotFound(f"{folder} cannot be read (permission denied)") from None
    entries.sort(key=lambda e: (e.name.casefold(), e.name))
    return entries, truncated


def _stays_inside(roots: AllowedRoots, entry: os.DirEntry[str]) -> bool:
    if not entry.is_symlink():
        return True  # a plain entry of a folder inside a root is inside that root
    try:
        roots.check(Path(entry.path))
    except PathNotAllowed:
        return False
    return True


def _is_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False


def _folder_item(entry: os.DirEntry[str], wanted: frozenset[str] | None) -> dict[str, Any]:
    return {
        "name": entry.name,
        "path": entry.path,
        "hidden": entry.name.startswith("."),
        "processed": entry.name == PROCESSED_DIR,
        "file_count": _count_files(entry.path, wanted),
    }


def _file_item(
    entry: os.DirEntry[str], thumb_url: Callable[[Path], str | None]
) -> dict[str, Any] | None:
    try:
        if not entry.is_file():
            return None  # sockets, fifos, dangling symlinks
        st = entry.stat()
    except OSError:
        return None
    kind = media_kind(entry.name)
    return {
        "name": entry.name,
        "path": entry.path,
        "size": st.st_size,
        "mtime": st.st_mtime,
        "kind": kind,
        "thumbnail_url": thumb_url(Path(entry.path)) if kind == "image" else None,
    }


def _matches(name: str, wanted: frozenset[str] | None) -> bool:
    return wanted is None or os.path.splitext(name)[1].lower() in wanted


def _count_files(path: str, wanted: frozenset[str] | None) -> int | None:
    """Matching files directly inside `path` (capped at MAX_SCAN); None if unreadable."""
    count = 0
    try:
        with os.scandir(path) as it:
            for scanned, entry in enumerate(it):
                if scanned >= MAX_SCAN:
                    break
                if _matches(entry.name, wanted) and entry.is_file():
                    count += 1
    except OSError:
        return None
    return count


def refuse_huge_folder(folder: Path, limit: int, *, param: str = "path") -> None:
    """A folder of more than ``limit`` (``max_folder_files``) entries is refused before it
    is scanned: listing, counting and planning 100k files ties up threads and the loop for
    seconds. Counting stops at the first entry over the limit. ``param``: the request field
    that named the folder. Blocking."""
    try:
        with os.scandir(folder) as it:
            for n, _entry in enumerate(it, 1):
                if n > limit:
                    raise InvalidRequest(
                        f"{folder} holds more than {limit:,} entries, more than vq scans "
                        f"(max_folder_files); split it into subfolders of fewer files, or raise "
                        "max_folder_files in vq.yaml (VQ_MAX_FOLDER_FILES) and restart ComfyUI",
                        {"param": param, "limit": limit, "setting": "max_folder_files"})
    except (NotADirectoryError, FileNotFoundError, PermissionError):
        return
