"""`_processed`: after a job fully succeeds, its source files move out of the way into
``<source folder>/_processed/`` so the next folder submit does not pick them up again.
Never overwrites: a name already taken there gets ``__2``, ``__3``, ... Blocking: call
through vq's file executor (``FileWork.run``)."""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from ..media import PROCESSED_DIR
from .paths import AllowedRoots, PathInvalid, PathNotAllowed

MAX_SUFFIX = 10_000


@dataclass(frozen=True)
class Moved:
    source: Path
    target: Path | None  # None when it could not be moved
    problem: str | None = None


def move_to_processed(sources: Iterable[Path], roots: Callable[[], AllowedRoots]) -> list[Moved]:
    """The roots are checked again now, not at submit: the folder may have changed since
    (a job can wait days), and a symlinked ``_processed`` would lead the move elsewhere."""
    allowed = roots()
    return [_move(Path(source), allowed) for source in dict.fromkeys(sources)]


def _move(source: Path, roots: AllowedRoots) -> Moved:
    if not source.is_file():
        return Moved(source, None, "it is no longer there (moved or deleted after submit)")
    folder = source.parent / PROCESSED_DIR
    try:
        roots.check(source)
        roots.check(source.parent)
    except (PathNotAllowed, PathInvalid):
        return Moved(source, None, "its folder is no longer inside the allowed folders")
    if folder.is_symlink():
        return Moved(source, None, f"{folder} is a symbolic link; vq moves files only into a real folder")
    try:
        folder.mkdir(exist_ok=True)
        if folder.is_symlink() or not folder.is_dir():  # replaced between the check and mkdir
            return Moved(source, None, f"{folder} is not a plain folder")
        roots.check(folder)
        for n in range(1, MAX_SUFFIX):
            target = folder / (source.name if n == 1 else f"{source.stem}__{n}{source.suffix}")
            if _place(source, target):
                return Moved(source, target)
    except OSError as exc:
        return Moved(source, None, f"{exc.strerror or exc}")
    return Moved(source, None, f"{folder} already holds {MAX_SUFFIX} files named like it")


def _place(source: Path, target: Path) -> bool:
    """Move without ever replacing an existing target; False if the name is taken."""
    try:
        os.link(source, target)  # fails if target exists: no overwrite, even under a race
    except FileExistsError:
        return False
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
            raise
        if target.exists():  # filesystems without hard links: check, then rename
            return False
        os.rename(source, target)
        return True
    source.unlink()
    return True
