"""`_processed`: after a job fully succeeds, its source files move out of the way into
``<source folder>/_processed/`` so the next folder submit does not pick them up again.
Never overwrites: a name already taken there gets ``__2``, ``__3``, ... Blocking: call
through ``asyncio.to_thread``."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..media import PROCESSED_DIR

MAX_SUFFIX = 10_000


@dataclass(frozen=True)
class Moved:
    source: Path
    target: Path | None  # None when it could not be moved
    problem: str | None = None


def move_to_processed(sources: Iterable[Path]) -> list[Moved]:
    return [_move(Path(source)) for source in dict.fromkeys(sources)]


def _move(source: Path) -> Moved:
    if not source.is_file():
        return Moved(source, None, "it is no longer there (moved or deleted after submit)")
    folder = source.parent / PROCESSED_DIR
    try:
        folder.mkdir(exist_ok=True)
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
