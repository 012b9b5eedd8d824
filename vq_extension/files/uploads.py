"""Streaming uploads: sanitized names, content sniffing, unique names, never overwrite.

An upload is written to a hidden temp file in the target folder, checked by its first
bytes (the extension proves nothing), then hard-linked under its final name. `os.link`
fails if the name exists, so taking a name is atomic: two concurrent uploads of
`clip.png` end up as `clip.png` and `clip__2.png`, and no existing file is ever replaced.
A file of the same name family with identical content (sha256) is reused instead.
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
import os
import re
import stat
import unicodedata
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from ..errors import StagingUnwritable
from ..media import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS
from .work import Runner

T = TypeVar("T")

SNIFF_BYTES = 64  # enough for every signature below, including the EBML doctype
WRITE_BATCH = 1 << 20  # bytes gathered before one write in a worker thread
MAX_NAME_BYTES = 200  # leaves room for `__NNNN` and a sniffed extension under NAME_MAX

_WINDOWS_RESERVED = re.compile(r"^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])(\..*)?$", re.I)
# Characters Windows refuses (the input dir is often on /mnt/c under WSL) and separators.
_UNSAFE_CHARS = re.compile(r'[<>:"/\\|?*]')
# Bidi overrides can make `gnp.exe` display as `exe.png`; zero-width joiners in emoji stay.
_BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)

# Extensions that are fine for each sniffed kind; anything else gets the sniffed one added.
_KIND_EXTENSIONS = {"image": IMAGE_EXTENSIONS, "video": VIDEO_EXTENSIONS}
# ISO-BMFF brands that are not videos ComfyUI's loaders read.
_FTYP_NOT_VIDEO = {
    b"avif": "AVIF image", b"avis": "AVIF image sequence", b"mif1": "HEIF image",
    b"msf1": "HEIF image sequence", b"heic": "HEIC image", b"heix": "HEIC image",
    b"heim": "HEIC image", b"heis": "HEIC image",
    b"M4A ": "M4A audio", b"M4B ": "M4B audio", b"M4P ": "M4P audio",
}  # fmt: skip
_BMP_DIB_SIZES = {12, 40, 52, 56, 64, 108, 124}
# Common things people drop by mistake, named in the refusal message.
_OTHER_MAGIC = (
    (b"%PDF", "a PDF"), (b"PK\x03\x04", "a ZIP archive"), (b"\x7fELF", "a program"),
    (b"MZ", "a Windows program"), (b"ID3", "an MP3"), (b"OggS", "an Ogg file"),
    (b"fLaC", "a FLAC file"),
)  # fmt: skip


def unwritable(directory: Path, exc: OSError) -> StagingUnwritable:
    """The uploads folder refuses files: the user's error to see, with what to do."""
    return StagingUnwritable(directory, exc, hint=(
        "dropped files are saved there before they are queued: make that folder writable for "
        "ComfyUI, or queue a folder path instead"))


class UploadTooLarge(Exception):
    """The upload exceeded `max_bytes` (maps to HTTP 413)."""

    def __init__(self, limit: int):
        self.limit = limit
        super().__init__(f"the upload is larger than the limit of {limit} bytes")


class UnsupportedMedia(Exception):
    """The content is not an image or video vq accepts (maps to HTTP 415)."""

    def __init__(self, detected: str):
        self.detected = detected
        super().__init__(
            f"only images (PNG, JPEG, WebP, GIF, BMP, TIFF) and videos (MP4, MOV, WebM, MKV, "
            f"AVI) are accepted; this file looks like {detected}"
        )


@dataclass(frozen=True)
class SavedUpload:
    name: str  # final file name inside `path.parent`
    original_filename: str  # as the client sent it, for display
    subfolder: str  # folder relative to `base_dir`, forward slashes ("" when not given)
    path: Path
    sha256: str
    size: int
    reused: bool  # an identical file of the same name family was kept instead


def sanitize_filename(name: str) -> str:
    """A safe single file name that keeps the user's (unicode) name recognisable."""
    name = unicodedata.normalize("NFC", name)  # macOS browsers send decomposed accents
    name = re.split(r"[/\\]", name)[-1]  # `C:\fakepath\x.png`, `../../x.png`
    name = "".join(
        c for c in name if unicodedata.category(c) != "Cc" and c not in _BIDI_CONTROLS
    )
    name = _UNSAFE_CHARS.sub("_", name)
    # Leading dots would hide the file; trailing dots and spaces are invalid on Windows.
    name = name.strip().lstrip(".").rstrip(". ")
    if not name:
        return "upload"
    if _WINDOWS_RESERVED.match(name):
        name = "_" + name
    return _truncate(name)


def _truncate(name: str) -> str:
    stem, ext = os.path.splitext(name)
    if len(ext.encode()) > 16:  # not a real extension; keep it as part of the stem
        stem, ext = name, ""
    budget = MAX_NAME_BYTES - len(ext.encode())
    encoded = stem.encode()
    if len(encoded) > budget:
        stem = encoded[:budget].decode(errors="ignore").rstrip(". ") or "upload"
    return stem + ext


def sniff_media(head: bytes) -> str | None:
    """`image`, `video` or None from the first bytes of a file."""
    found = _sniff(head)
    return found[0] if found else None


def _sniff(head: bytes) -> tuple[str, str] | None:
    """(kind, canonical extension) for the formats ComfyUI's loaders read."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image", ".png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image", ".jpg"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image", ".gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image", ".webp"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "video", ".avi"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "image", ".tiff"
    # "BM" alone is any text starting with BM; the DIB header size pins it down.
    if head[:2] == b"BM" and int.from_bytes(head[14:18], "little") in _BMP_DIB_SIZES:
        return "image", ".bmp"
    if head[4:8] == b"ftyp" and head[8:12] not in _FTYP_NOT_VIDEO:
        return "video", ".mov" if head[8:12] == b"qt  " else ".mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3"):  # EBML: Matroska or WebM
        return "video", ".webm" if b"webm" in head else ".mkv"
    return None


def _describe(head: bytes) -> str:
    """What a refused upload seems to be, for the error message."""
    if not head:
        return "an empty file"
    if head[4:8] == b"ftyp" and head[8:12] in _FTYP_NOT_VIDEO:
        return f"an {_FTYP_NOT_VIDEO[head[8:12]]}"
    for magic, label in _OTHER_MAGIC:
        if head.startswith(magic):
            return label
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "a WAV file"
    if head.lstrip().startswith(b"<"):
        return "HTML, XML or SVG text"
    return "unknown data (first bytes " + head[:8].hex(" ") + ")"


async def save_upload(
    stream: AsyncIterator[bytes],
    directory: Path,
    filename: str,
    *,
    max_bytes: int,
    base_dir: Path | None = None,
    file_work: Runner = asyncio.to_thread,
) -> SavedUpload:
    """Stream an upload into `directory` under a unique, sanitized name.

    Raises UploadTooLarge as soon as `max_bytes` is passed and UnsupportedMedia as soon as
    the first bytes are known; either way, and on cancellation, the temp file is removed.
    StagingUnwritable when `directory` refuses the file.
    Blocking steps go to ``file_work`` (the app passes vq's own file executor).
    """
    tmp = directory / f".vq-upload-{uuid.uuid4().hex}.part"
    try:
        await _in_thread(file_work, directory.mkdir, parents=True, exist_ok=True)
        fd = await _in_thread(file_work, os.open, tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except OSError as exc:
        raise unwritable(directory, exc) from exc
    try:
        try:
            sha, size, head = await _receive(stream, fd, max_bytes, file_work)
            await _in_thread(file_work, os.fsync, fd)  # the final name must never point at a half file
        finally:
            os.close(fd)
        sniffed = _sniff(head)
        if sniffed is None:
            raise UnsupportedMedia(_describe(head))
        name = _with_extension(sanitize_filename(filename), *sniffed)
        final, reused = await _in_thread(file_work, _place, tmp, directory, name, sha, size)
    finally:
        await _in_thread(file_work, _unlink_quietly, tmp)
    subfolder = ""
    if base_dir is not None:
        subfolder = directory.relative_to(base_dir).as_posix()
        subfolder = "" if subfolder == "." else subfolder
    return SavedUpload(final.name, filename, subfolder, final, sha, size, reused)


async def _in_thread(run: Runner, fn: Callable[..., T], *args: object, **kwargs: object) -> T:
    """``run`` (vq's file executor), except that a cancelled caller still waits for the thread.

    A thread cannot be stopped; returning early would let `os.close(fd)` run while a
    write is still in flight, and the fd number could already belong to another file.
    """
    future = asyncio.ensure_future(run(fn, *args, **kwargs))
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        await asyncio.wait([future])
        raise


async def _receive(stream: AsyncIterator[bytes], fd: int, max_bytes: int, run: Runner) -> tuple[str, int, bytes]:
    digest = hashlib.sha256()
    head = b""
    size = 0
    pending: list[bytes] = []
    pending_size = 0
    async for chunk in stream:
        if not chunk:
            continue
        size += len(chunk)
        if size > max_bytes:
            raise UploadTooLarge(max_bytes)
        if len(head) < SNIFF_BYTES:
            head += chunk[: SNIFF_BYTES - len(head)]
            # Refuse as early as possible instead of storing gigabytes of the wrong thing.
            if len(head) >= SNIFF_BYTES and _sniff(head) is None:
                raise UnsupportedMedia(_describe(head))
        pending.append(chunk)
        pending_size += len(chunk)
        if pending_size >= WRITE_BATCH:
            await _in_thread(run, _write_all, fd, digest, pending)
            pending, pending_size = [], 0
    await _in_thread(run, _write_all, fd, digest, pending)
    return digest.hexdigest(), size, head


def _write_all(fd: int, digest: hashlib._Hash, chunks: list[bytes]) -> None:
    for chunk in chunks:
        digest.update(chunk)
        view = memoryview(chunk)
        while view:
            view = view[os.write(fd, view) :]


def _with_extension(name: str, kind: str, sniffed_ext: str) -> str:
    # `photo` or `clip.txt` holding a PNG become `photo.png` / `clip.txt.png`, so everything
    # downstream that goes by extension (thumbnails, /view content types) sees the truth.
    if os.path.splitext(name)[1].lower() in _KIND_EXTENSIONS[kind]:
        return name
    return name + sniffed_ext


def _place(tmp: Path, directory: Path, name: str, sha: str, size: int) -> tuple[Path, bool]:
    """Link `tmp` under the first free name of the family, or reuse an identical file."""
    stem, ext = os.path.splitext(name)
    family = re.compile(re.escape(stem) + r"(?:__(\d+))?" + re.escape(ext))
    taken: dict[int, Path] = {}
    with os.scandir(directory) as it:
        for entry in it:
            match = family.fullmatch(entry.name)
            if match and entry.is_file(follow_symlinks=False):
                taken[int(match.group(1) or 1)] = Path(entry.path)
    for path in taken.values():
        if _same_content(path, sha, size):
            return path, True
    number = 1
    while True:
        if number not in taken:
            candidate = directory / (name if number == 1 else f"{stem}__{number}{ext}")
            try:
                _link_exclusive(tmp, candidate)
                return candidate, False
            except FileExistsError:
                # Taken since the scan, by a concurrent upload that finished first.
                if _same_content(candidate, sha, size):
                    return candidate, True
        number += 1


def _link_exclusive(tmp: Path, final: Path) -> None:
    try:
        os.link(tmp, final)
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP):
            raise
        # No hard links here (FAT, some network mounts): reserve the name with an exclusive
        # create, then rename over our own placeholder. Still never replaces a foreign file.
        os.close(os.open(final, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
        os.replace(tmp, final)


def _same_content(path: Path, sha: str, size: int) -> bool:
    try:
        st = os.stat(path, follow_symlinks=False)
        # A symlink is never "the same file": reusing it could hand out a path outside.
        if not stat.S_ISREG(st.st_mode) or st.st_size != size:
            return False
        return file_sha256(path) == sha
    except OSError:
        return False


def file_sha256(path: Path, chunk_size: int = WRITE_BATCH) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def _unlink_quietly(path: Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
