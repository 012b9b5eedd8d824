"""Content-addressed staging of job inputs under ComfyUI's input directory.

Each input is placed at `<input>/vq/staged/<sha256[:2]>/<sha256>.<ext>` and the rendered
graph names it relative to the input dir, so LoadImage-style nodes resolve it, and the job
keeps working after the user moves, renames or edits the original.

Link or copy: a hard link shares the inode, so writing into the source IN PLACE would
change the staged input too. The caller therefore passes `prefer_link=True` only for files
vq owns and never rewrites (uploads); folder sources belong to the user and are copied.
Even then vq links only when source and staging share a device, and falls back to a copy
when the filesystem refuses links.

Dedupe: the name is the hash, so an existing file with the expected size is reused
without reading it again, because vq only ever creates these names from verified content
via temp file + link. The exception is a staged file with other hard links (an upload
staged by link): its content could have changed through the other name, so it is re-hashed.
Reusing a file refreshes its mtime (retention's "age") while holding ``holding()``, which
retention also holds from its last look at a file to its deletion: a cleanup that surveyed
the file as old and unreferenced cannot delete it under a submit that just picked it, in
this process or in another ComfyUI sharing the folder (a lock on ``.staging.lock`` beside
the staging root, so the root holds staged files only).

All-or-nothing: every source is hashed and copied or linked to a temp name first; only when
all succeeded are the temps linked under their final names. A failure before that point
touches no final name; a failure while placing removes the final names this call created.
Blocking: call `stage` and `verify` through vq's file executor (`FileWork.run`).
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import stat
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Literal

from ..errors import StagingUnwritable
from .locks import file_lock
from .uploads import file_sha256

CHUNK = 1 << 20
LOCK_FILE = ".staging.lock"  # beside the staging root: reuse vs. retention, across processes
# Errors meaning "this filesystem or this pair of paths cannot hard-link": copy instead.
_NO_LINK = {errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP, errno.EOPNOTSUPP}

Method = Literal["link", "copy", "existing"]
_WAIT = "try again once it is fully written"


@dataclass(frozen=True)
class StagedFile:
    source: Path  # as given, kept for display and for `_processed` moves
    path: Path  # absolute path of the staged file
    name_for_comfy: str  # relative to the input dir, forward slashes: vq/staged/ab/ab….png
    sha256: str
    size: int
    method: Method


class StagingError(Exception):
    """One or more sources could not be staged; nothing this call created is left behind."""

    def __init__(self, problems: Sequence[tuple[Path, str]]):
        self.problems = list(problems)
        listing = "; ".join(f"{path}: {reason}" for path, reason in self.problems)
        super().__init__(f"{len(self.problems)} input file(s) could not be staged: {listing}")


class _SourceProblem(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass
class _Prepared:
    source: Path
    sha256: str
    size: int
    final: Path
    tmp: Path | None  # None: the final name already holds this content
    method: Method


class Stager:
    def __init__(self, input_dir: Path, subdir: str = "vq/staged", *, clock: Callable[[], float] = time.time):
        sub = PurePosixPath(subdir)
        if sub.is_absolute() or ".." in sub.parts or not sub.parts:
            raise ValueError(f"staging subdir must be relative, inside the input dir: {subdir!r}")
        self.input_dir = Path(input_dir)
        self.subdir = sub.as_posix()
        self.root = self.input_dir / self.subdir
        self.clock = clock
        self._hold = threading.Lock()  # reuse (refresh) vs. retention's final check + delete
        self._name_re = re.compile(
            re.escape(self.subdir) + r"/([0-9a-f]{2})/(\1[0-9a-f]{62})(\.[a-z0-9]{1,10})?"
        )

    # -- public API ---------------------------------------------------------------------

    def stage(self, sources: Sequence[Path], *, prefer_link: bool) -> list[StagedFile]:
        """Stage every source, or none: raises StagingError listing each bad source."""
        # Cheap checks first, so a typo in file 900 fails before 899 files were hashed.
        problems = [(s, reason) for s in sources if (reason := _quick_problem(s))]
        if problems:
            raise StagingError(problems)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _unwritable(self.root, exc) from exc
        root_dev = os.stat(self.root).st_dev
        prepared: list[_Prepared] = []
        try:
            for source in sources:
                try:
                    prepared.append(self._prepare(source, prefer_link, root_dev, prepared))
                except _SourceProblem as exc:
                    problems.append((source, exc.reason))
            if problems:
                raise StagingError(problems)
            return self._commit(prepared)
        finally:
            for item in prepared:
                if item.tmp is not None:
                    _unlink_quietly(item.tmp)

    def verify(
        self, name_for_comfy: str, *, expected_size: int | None = None, full_hash: bool = False
    ) -> str | None:
        """None if the staged input is usable, else a problem the user can act on.

        The size check is cheap; `full_hash` also re-reads the file and compares it with
        the hash in its name (catches edits made through a hard-linked source).
        """
        match = self._name_re.fullmatch(name_for_comfy)
        if not match:
            return f"{name_for_comfy!r} is not a vq staged name ({self.subdir}/xx/<sha256>.<ext>)"
        path = self.input_dir / name_for_comfy
        again = "resubmit the job so its source is staged again"
        unreadable = f"staged input {name_for_comfy} cannot be read ({{}}); check {path}"
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return (
                f"staged input {name_for_comfy} is missing (it was deleted after submit); "
                f"{again}, or restore the file at {path}"
            )
        except OSError as exc:
            return unreadable.format(exc.strerror)
        if not stat.S_ISREG(st.st_mode):
            return f"staged input {name_for_comfy} is not a regular file any more; {again}"
        if expected_size is not None and st.st_size != expected_size:
            return (
                f"staged input {name_for_comfy} changed after submit ({st.st_size} bytes, "
                f"expected {expected_size}); {again}"
            )
        if full_hash:
            try:
                actual = file_sha256(path)
            except OSError as exc:
                return unreadable.format(exc.strerror)
            if actual != match.group(2):
                return (
                    f"staged input {name_for_comfy} changed after submit (its content no "
                    f"longer matches its hash); {again}"
                )
        return None

    @contextmanager
    def holding(self) -> Iterator[None]:
        """No staged file is reused (and refreshed) while this is held: retention holds it
        from its last look at a file to deleting it. Held across threads and processes
        (another ComfyUI on the same install shares this folder). StagingUnwritable when the
        lock file cannot be made."""
        with self._hold, ExitStack() as held:
            try:
                self.root.parent.mkdir(parents=True, exist_ok=True)
                held.enter_context(file_lock(self.root.parent / LOCK_FILE))
            except OSError as exc:
                raise _unwritable(self.root.parent, exc) from exc
            yield

    def _reuse(self, final: Path, sha: str, size: int) -> bool:
        """Does `final` hold this content? If so, mark it used now (its age restarts)."""
        with self.holding():
            if not self._holds(final, sha, size):
                return False
            now = self.clock()
            try:
                os.utime(final, (now, now), follow_symlinks=False)
            except OSError:  # not ours to touch (read-only share): stage a fresh copy instead
                return False
            return True

    def name_for(self, sha256: str, extension: str) -> str:
        """The staged name (relative to the input dir) for content `sha256`."""
        return f"{self.subdir}/{sha256[:2]}/{sha256}{extension}"

    # -- preparing (temp files only) ----------------------------------------------------

    def _prepare(
        self, source: Path, prefer_link: bool, root_dev: int, so_far: list[_Prepared]
    ) -> _Prepared:
        try:
            with open(source, "rb") as f:
                before = os.fstat(f.fileno())
                sha, size = _hash_stream(f)
        except OSError as exc:
            raise _SourceProblem(_describe_os_error("cannot be read", exc)) from exc
        if size != before.st_size:
            raise _SourceProblem(f"changed while it was being read; {_WAIT}")
        final = self.input_dir / self.name_for(sha, _extension(source))
        if any(p.final == final for p in so_far) or self._reuse(final, sha, size):
            return _Prepared(source, sha, size, final, None, "existing")
        tmp = self.root / f".tmp-{uuid.uuid4().hex}"
        if prefer_link and before.st_dev == root_dev and self._link_unchanged(source, tmp, before):
            return _Prepared(source, sha, size, final, tmp, "link")
        _copy_verified(source, tmp, sha)
        return _Prepared(source, sha, size, final, tmp, "copy")

    def _link_unchanged(self, source: Path, tmp: Path, before: os.stat_result) -> bool:
        """Hard-link `source` to `tmp`; False (and no tmp) if a copy must be made instead."""
        try:
            os.link(source, tmp)
        except OSError as exc:
            if exc.errno in _NO_LINK:
                return False
            raise _SourceProblem(_describe_os_error("cannot be linked", exc)) from exc
        after = os.stat(tmp)
        identity = (before.st_ino, before.st_size, before.st_mtime_ns)
        same = (after.st_ino, after.st_size, after.st_mtime_ns) == identity
        if not same:  # replaced or rewritten since it was hashed; the copy path re-verifies
            _unlink_quietly(tmp)
        return same

    def _holds(self, final: Path, sha: str, size: int) -> bool:
        """Does `final` already hold this content? (See the module docstring on trust.)"""
        try:
            st = os.stat(final, follow_symlinks=False)
            if not stat.S_ISREG(st.st_mode) or st.st_size != size:
                return False
            return st.st_nlink == 1 or file_sha256(final) == sha
        except OSError:  # missing or unreadable: stage it again (an unreadable one is replaced)
            return False

    # -- committing (final names) -------------------------------------------------------

    def _commit(self, prepared: list[_Prepared]) -> list[StagedFile]:
        created: list[Path] = []
        staged: list[StagedFile] = []
        try:
            for item in prepared:
                method = item.method
                if item.tmp is not None:
                    outcome = self._install(item)
                    if outcome == "created":
                        created.append(item.final)
                    elif outcome == "existing":  # a concurrent call staged it first
                        method = "existing"
                name = item.final.relative_to(self.input_dir).as_posix()
                staged.append(
                    StagedFile(item.source, item.final, name, item.sha256, item.size, method)
                )
            for parent in {p.parent for p in created}:
                _fsync_dir(parent)
        except OSError as exc:
            for path in created:
                _unlink_quietly(path)
            reason = _describe_os_error("could not be placed in staging", exc)
            raise StagingError([(item.source, reason)]) from exc
        return staged

    def _install(self, item: _Prepared) -> Literal["created", "existing", "repaired"]:
        assert item.tmp is not None
        item.final.parent.mkdir(exist_ok=True)
        try:
            # link() never replaces: if another call created the name meanwhile, we see it.
            os.link(item.tmp, item.final)
            return "created"
        except FileExistsError:
            if self._reuse(item.final, item.sha256, item.size):
                return "existing"
            # A damaged file sits under a content name; replace it atomically. It is not
            # "created" by this call, so a rollback leaves the (now correct) file alone.
            os.replace(item.tmp, item.final)
            return "repaired"
        except OSError as exc:
            if exc.errno not in _NO_LINK:
                raise
            if self._reuse(item.final, item.sha256, item.size):
                return "existing"
            os.replace(item.tmp, item.final)  # no hard links here; same content either way
            return "created"


def _unwritable(folder: Path, exc: OSError) -> StagingUnwritable:
    return StagingUnwritable(folder, exc, hint=(
        "vq copies inputs there for ComfyUI to load: make that folder writable for ComfyUI, or "
        "submit with staging off (stage: false), which only works for files inside ComfyUI's input folder"))


def _quick_problem(source: Path) -> str | None:
    try:
        st = os.stat(source)
    except FileNotFoundError:
        return "does not exist (moved or deleted?)"
    except OSError as exc:
        return _describe_os_error("cannot be read", exc)
    if stat.S_ISDIR(st.st_mode):
        return "is a folder, not a file"
    if not stat.S_ISREG(st.st_mode):
        return "is not a regular file"
    if not os.access(source, os.R_OK):
        return "cannot be read (permission denied)"
    return None


def _hash_stream(f: BinaryIO) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    while chunk := f.read(CHUNK):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def _copy_verified(source: Path, tmp: Path, sha: str) -> None:
    """Copy while hashing; refuse if the bytes copied are not the bytes hashed earlier.
    StagingUnwritable when the staging folder refuses the new file."""
    try:
        digest = hashlib.sha256()
        with open(source, "rb") as src, _create(tmp) as dst:
            while chunk := src.read(CHUNK):
                digest.update(chunk)
                dst.write(chunk)
            dst.flush()
            os.fsync(dst.fileno())  # a crash must not leave a short file under a hash name
    except BaseException as exc:
        _unlink_quietly(tmp)
        if isinstance(exc, OSError):
            raise _SourceProblem(_describe_os_error("could not be copied", exc)) from exc
        raise
    if digest.hexdigest() != sha:
        _unlink_quietly(tmp)
        raise _SourceProblem(f"changed while it was being staged; {_WAIT}")


def _create(tmp: Path) -> BinaryIO:
    try:
        return open(tmp, "xb")
    except OSError as exc:  # the folder's fault, not the source's: say which folder
        raise _unwritable(tmp.parent, exc) from exc


def _extension(source: Path) -> str:
    ext = source.suffix.lower()
    return ext if re.fullmatch(r"\.[a-z0-9]{1,10}", ext) else ""


def _describe_os_error(what: str, exc: OSError) -> str:
    return f"{what} ({exc.strerror or exc})"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _unlink_quietly(path: Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
