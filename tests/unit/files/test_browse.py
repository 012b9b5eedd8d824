"""The server-side folder browser over allowed roots."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from vq_extension.files import browse as browse_mod
from vq_extension.files.browse import FolderNotFound, browse
from vq_extension.files.paths import AllowedRoots, PathNotAllowed

IMAGES = {".png", "JPG", "webp"}


def thumb(path: Path) -> str:
    return f"/thumb?p={path.name}"


@pytest.fixture
def tree(tmp_path: Path) -> dict[str, Path]:
    base = Path(os.path.realpath(tmp_path))
    inp, outside = base / "input", base / "outside"
    for d in ("Batch", "alpha", ".hidden", "_processed", "empty"):
        (inp / d).mkdir(parents=True)
    outside.mkdir()
    (inp / "Batch" / "1.png").write_bytes(b"x" * 10)
    (inp / "Batch" / "2.JPG").write_bytes(b"x")
    (inp / "Batch" / "notes.txt").write_text("n")
    (inp / "_processed" / "old.png").write_bytes(b"x")
    (inp / "b.png").write_bytes(b"12345")
    (inp / "A.webp").write_bytes(b"1")
    (inp / "c.mp4").write_bytes(b"1")
    (inp / "readme.txt").write_text("r")
    (inp / "escape").symlink_to(outside)
    (inp / "escape.png").symlink_to(outside / "secret.png")
    (outside / "secret.png").write_bytes(b"s")
    (inp / "inside.png").symlink_to(inp / "b.png")
    return {"input": inp, "outside": outside, "base": base}


def run(tree, raw, **kw):
    roots = AllowedRoots([tree["input"]])
    args = {"default": tree["input"], "extensions": IMAGES, "thumb_url": thumb} | kw
    return browse(roots, raw, **args)


def test_default_starts_at_input_dir(tree):
    for raw in (None, "", "  \n"):
        result = run(tree, raw)
        assert result["path"] == str(tree["input"])
        assert result["root"] == str(tree["input"])
        assert result["parent"] is None


def test_folders_are_sorted_case_insensitively_and_marked(tree):
    folders = run(tree, None)["folders"]
    assert [f["name"] for f in folders] == [".hidden", "_processed", "alpha", "Batch", "empty"]
    by_name = {f["name"]: f for f in folders}
    assert by_name[".hidden"]["hidden"] and not by_name["alpha"]["hidden"]
    assert by_name["_processed"]["processed"] and not by_name["Batch"]["processed"]
    assert by_name["Batch"]["file_count"] == 2  # 1.png and 2.JPG, not notes.txt
    assert by_name["empty"]["file_count"] == 0
    assert by_name["Batch"]["path"] == str(tree["input"] / "Batch")


def test_files_are_filtered_with_size_mtime_kind_and_thumbnail(tree):
    files = run(tree, None)["files"]
    assert [f["name"] for f in files] == ["A.webp", "b.png", "inside.png"]
    b = files[1]
    assert b["size"] == 5
    assert b["mtime"] == pytest.approx((tree["input"] / "b.png").stat().st_mtime)
    assert b["kind"] == "image"
    assert b["thumbnail_url"] == "/thumb?p=b.png"
    assert b["path"] == str(tree["input"] / "b.png")


def test_no_extension_filter_lists_everything_and_videos_get_no_thumbnail(tree):
    files = {f["name"]: f for f in run(tree, None, extensions=None)["files"]}
    assert set(files) == {"A.webp", "b.png", "c.mp4", "inside.png", "readme.txt"}
    assert files["c.mp4"]["kind"] == "video" and files["c.mp4"]["thumbnail_url"] is None
    assert files["readme.txt"]["kind"] is None


def test_symlinks_leaving_the_roots_are_not_listed(tree):
    result = run(tree, None, extensions=None)
    names = [f["name"] for f in result["folders"] + result["files"]]
    assert "escape" not in names and "escape.png" not in names


def test_parent_navigation_stops_at_root(tree):
    sub = run(tree, str(tree["input"] / "Batch"))
    assert sub["parent"] == str(tree["input"])
    assert run(tree, sub["parent"])["parent"] is None


def test_outside_roots_is_refused(tree):
    with pytest.raises(PathNotAllowed):
        run(tree, str(tree["outside"]))
    with pytest.raises(PathNotAllowed):
        run(tree, str(tree["input"] / "escape"))
    with pytest.raises(PathNotAllowed):
        run(tree, str(tree["input"]) + "/..")


def test_file_path_lists_its_folder(tree):
    result = run(tree, str(tree["input"] / "Batch" / "1.png"))
    assert result["path"] == str(tree["input"] / "Batch")


def test_missing_folder(tree):
    with pytest.raises(FolderNotFound, match="does not exist"):
        run(tree, str(tree["input"] / "nope"))


def test_unreadable_folder(tree, monkeypatch):
    # chmod 0 does not stop root (CI runs as root), so refuse the read the way the OS would.
    locked = str(tree["input"] / "alpha")
    real_scandir = os.scandir

    def scandir(path):
        if os.fspath(path) == locked:
            raise PermissionError(13, "Permission denied", locked)
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    with pytest.raises(FolderNotFound, match="permission"):
        run(tree, locked)
    assert {f["name"]: f for f in run(tree, None)["folders"]}["alpha"]["file_count"] is None


def test_listing_is_bounded(tree):
    many = tree["input"] / "many"
    many.mkdir()
    for i in range(30):
        (many / f"f{i:02}.png").write_bytes(b"x")
    (many / "zz").mkdir()
    result = run(tree, str(many), limit=10)
    assert result["truncated"] is True
    assert [f["name"] for f in result["folders"]] == ["zz"]  # folders are listed first
    assert [f["name"] for f in result["files"]] == [f"f{i:02}.png" for i in range(9)]
    assert run(tree, str(many), limit=31)["truncated"] is False


def test_scan_cap_marks_truncated(tree, monkeypatch):
    monkeypatch.setattr(browse_mod, "MAX_SCAN", 3)
    assert run(tree, None)["truncated"] is True


def test_windows_style_input_works_via_normalize(tree):
    quoted = f'"{tree["input"] / "Batch"}"\n'
    assert run(tree, quoted)["path"] == str(tree["input"] / "Batch")
