"""Unreadable paths are a 400 with a reason, never a 500 (issue 10, item 14): a
/proc/<pid>/cwd of another user cannot be read, so realpath and stat raise."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest

from vq_extension.config import Settings
from vq_extension.errors import InvalidRequest
from vq_extension.files.paths import AllowedRoots, PathInvalid
from vq_extension.files.service import FilesService
from vq_extension.files.work import FileWork


class NoCatalog:
    def get(self, name: str) -> Any:
        raise AssertionError("not used")


def deny(monkeypatch: pytest.MonkeyPatch, name: str, blocked: str) -> None:
    real = getattr(os, name)

    def fake(path: Any, *args: Any, **kwargs: Any) -> Any:
        if os.fspath(path).startswith(blocked):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(os, name, fake)


def test_an_unreadable_link_is_path_invalid(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "cwd").symlink_to(tmp_path)
    deny(monkeypatch, "readlink", str(tmp_path / "cwd"))
    with pytest.raises(PathInvalid, match="cannot be read"):
        AllowedRoots([tmp_path]).resolve(str(tmp_path / "cwd"))


def test_normalize_of_an_unreadable_path_is_400(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "locked").mkdir()
    files = FilesService(roots=lambda: AllowedRoots([tmp_path]), input_dir=tmp_path, uploads_dir=tmp_path / "up",
                         settings=Settings(), catalog=NoCatalog(),  # type: ignore[arg-type]
                         work=FileWork())
    deny(monkeypatch, "stat", str(tmp_path / "locked"))
    with pytest.raises(InvalidRequest, match="cannot be read"):
        asyncio.run(files.normalize(str(tmp_path / "locked"), None))
