"""`_processed` moves check the allowed roots at move time and refuse a symlinked
`_processed` (issue 10, item 12)."""

from __future__ import annotations

from pathlib import Path

from vq_extension.files.paths import AllowedRoots
from vq_extension.files.processed import move_to_processed


def roots_of(*folders: Path):  # type: ignore[no-untyped-def]
    return lambda: AllowedRoots(list(folders))


def test_moves_into_a_real_processed_folder(tmp_path: Path) -> None:
    (tmp_path / "a.png").write_bytes(b"a")
    [moved] = move_to_processed([tmp_path / "a.png"], roots_of(tmp_path))
    assert moved.target == tmp_path / "_processed" / "a.png" and moved.target.read_bytes() == b"a"


def test_a_symlinked_processed_folder_is_refused(tmp_path: Path) -> None:
    inside, outside = tmp_path / "in", tmp_path / "elsewhere"
    inside.mkdir(), outside.mkdir()
    (inside / "a.png").write_bytes(b"a")
    (inside / "_processed").symlink_to(outside)
    [moved] = move_to_processed([inside / "a.png"], roots_of(inside))
    assert moved.target is None and "symbolic link" in (moved.problem or "")
    assert (inside / "a.png").exists() and list(outside.iterdir()) == []


def test_roots_are_checked_at_move_time(tmp_path: Path) -> None:
    folder = tmp_path / "batch"
    folder.mkdir()
    (folder / "a.png").write_bytes(b"a")
    other = tmp_path / "other"
    other.mkdir()
    [moved] = move_to_processed([folder / "a.png"], roots_of(other))  # the root was removed since submit
    assert moved.target is None and "allowed folders" in (moved.problem or "")
    assert (folder / "a.png").exists() and not (folder / "_processed").exists()
