"""Content-addressed staging: link vs copy, dedupe, all-or-nothing, verify."""

from __future__ import annotations

import errno
import hashlib
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.helpers import read_only
from vq_extension.errors import StagingUnwritable
from vq_extension.files import staging
from vq_extension.files.retention import DAY, Retention
from vq_extension.files.staging import Stager, StagingError


@pytest.fixture
def input_dir(tmp_path: Path) -> Path:
    d = tmp_path / "input"
    d.mkdir()
    return d


@pytest.fixture
def src(tmp_path: Path) -> Path:
    d = tmp_path / "src"
    d.mkdir()
    return d


def make(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def staged_files(input_dir: Path) -> list[Path]:
    root = input_dir / "vq" / "staged"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_copy_is_content_addressed(input_dir, src):
    source = make(src, "Frame 01.PNG", b"png-bytes")
    [f] = Stager(input_dir).stage([source], prefer_link=False)
    digest = sha(b"png-bytes")
    assert f.name_for_comfy == f"vq/staged/{digest[:2]}/{digest}.png"
    assert f.path == input_dir / f.name_for_comfy
    assert (f.source, f.sha256, f.size, f.method) == (source, digest, 9, "copy")
    assert f.path.read_bytes() == b"png-bytes"
    assert f.path.stat().st_ino != source.stat().st_ino
    assert not [p for p in f.path.parent.parent.iterdir() if p.name.startswith(".tmp")]


def test_link_when_preferred_and_same_filesystem(input_dir, src):
    source = make(src, "upload.png", b"owned by vq")
    [f] = Stager(input_dir).stage([source], prefer_link=True)
    assert f.method == "link"
    assert f.path.stat().st_ino == source.stat().st_ino


@pytest.mark.parametrize("code", [errno.EXDEV, errno.EPERM, errno.EMLINK])
def test_link_refused_falls_back_to_copy(input_dir, src, monkeypatch, code):
    source = make(src, "upload.png", b"data")
    real_link = os.link

    def link(a, b, **kw):
        if Path(a) == source:
            raise OSError(code, os.strerror(code))
        return real_link(a, b, **kw)

    monkeypatch.setattr(os, "link", link)
    [f] = Stager(input_dir).stage([source], prefer_link=True)
    assert f.method == "copy"
    assert f.path.read_bytes() == b"data"


def test_extension_rules(input_dir, src):
    files = [make(src, "noext", b"1"), make(src, "x.JPEG", b"2"), make(src, "y.p ng", b"3")]
    names = [f.name_for_comfy for f in Stager(input_dir).stage(files, prefer_link=False)]
    assert names[0].endswith(sha(b"1"))
    assert names[1].endswith(sha(b"2") + ".jpeg")
    assert names[2].endswith(sha(b"3"))  # not a usable extension


def test_dedupe_within_and_across_calls(input_dir, src):
    a = make(src, "a.png", b"same")
    b = make(src, "b.png", b"same")
    first = Stager(input_dir).stage([a, b], prefer_link=False)
    assert [f.method for f in first] == ["copy", "existing"]
    assert first[0].path == first[1].path
    again = Stager(input_dir).stage([b], prefer_link=False)
    assert again[0].method == "existing" and again[0].path == first[0].path
    assert len(staged_files(input_dir)) == 1


def test_custom_subdir(input_dir, src):
    [f] = Stager(input_dir, subdir="vq/other").stage([make(src, "a.png", b"x")], prefer_link=False)
    assert f.name_for_comfy.startswith("vq/other/")
    with pytest.raises(ValueError):
        Stager(input_dir, subdir="../escape")


def test_bad_sources_are_all_reported_and_nothing_is_staged(input_dir, src):
    good = make(src, "good.png", b"ok")
    sources = [good, src / "missing.png", src, make(src, "good2.png", b"ok2")]
    with pytest.raises(StagingError) as info:
        Stager(input_dir).stage(sources, prefer_link=False)
    reasons = dict(info.value.problems)
    assert set(reasons) == {src / "missing.png", src}
    assert "does not exist" in reasons[src / "missing.png"]
    assert "folder" in reasons[src]
    assert "missing.png" in str(info.value)
    assert staged_files(input_dir) == []


def test_read_failure_midway_removes_everything_this_call_made(input_dir, src, monkeypatch):
    pre = make(src, "pre.png", b"staged before")
    [before] = Stager(input_dir).stage([pre], prefer_link=False)
    a, broken, c = (make(src, n, n.encode()) for n in ("a.png", "broken.png", "c.png"))
    real_hash = staging._hash_stream

    def flaky(f):
        if f.name == str(broken):
            raise OSError(errno.EIO, "Input/output error")
        return real_hash(f)

    monkeypatch.setattr(staging, "_hash_stream", flaky)
    with pytest.raises(StagingError) as info:
        Stager(input_dir).stage([a, pre, broken, c], prefer_link=False)
    assert info.value.problems == [(broken, "cannot be read (Input/output error)")]
    assert staged_files(input_dir) == [before.path]  # no orphans, no temp files


def test_failure_while_placing_rolls_back_created_names(input_dir, src, monkeypatch):
    pre = make(src, "pre.png", b"staged before")
    [before] = Stager(input_dir).stage([pre], prefer_link=False)
    a, b, c = (make(src, n, n.encode()) for n in ("a.png", "b.png", "c.png"))
    real_link = os.link

    def link(x, y, **kw):
        if Path(y).name.startswith(sha(b"c.png")):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_link(x, y, **kw)

    monkeypatch.setattr(os, "link", link)
    with pytest.raises(StagingError, match="No space left"):
        Stager(input_dir).stage([a, pre, b, c], prefer_link=False)
    assert staged_files(input_dir) == [before.path]


def test_source_changed_between_hash_and_copy_is_refused(input_dir, src, monkeypatch):
    source = make(src, "growing.png", b"final content")
    monkeypatch.setattr(staging, "_hash_stream", lambda f: (sha(b"earlier content"), 13))
    with pytest.raises(StagingError, match="changed while it was being staged"):
        Stager(input_dir).stage([source], prefer_link=False)
    assert staged_files(input_dir) == []


@pytest.mark.parametrize("how", ["delete", "rename", "overwrite_in_place", "replace_file"])
def test_copied_input_survives_changes_to_the_source(input_dir, src, how):
    source = make(src, "user.png", b"original")
    stager = Stager(input_dir)
    [f] = stager.stage([source], prefer_link=False)  # folder sources: the copy policy
    if how == "delete":
        source.unlink()
    elif how == "rename":
        (src / "_processed").mkdir()
        source.rename(src / "_processed" / "user.png")
    elif how == "overwrite_in_place":
        with open(source, "r+b") as fh:  # same inode, new bytes
            fh.write(b"EDITED!!")
    else:  # an editor's save: new file renamed over the old name
        make(src, "tmp.png", b"new version").replace(source)
    assert f.path.read_bytes() == b"original"
    assert stager.verify(f.name_for_comfy, expected_size=f.size, full_hash=True) is None


def test_linked_input_shares_in_place_edits_which_is_why_only_uploads_link(input_dir, src):
    source = make(src, "upload.png", b"original")
    stager = Stager(input_dir)
    [f] = stager.stage([source], prefer_link=True)
    with open(source, "r+b") as fh:
        fh.write(b"EDITED!!")
    assert f.path.read_bytes() == b"EDITED!!"  # the hazard the copy policy avoids
    assert stager.verify(f.name_for_comfy, expected_size=f.size) is None  # same size
    problem = stager.verify(f.name_for_comfy, expected_size=f.size, full_hash=True)
    assert problem and "no longer matches its hash" in problem


def test_damaged_linked_file_is_repaired_on_next_staging(input_dir, src):
    upload = make(src, "upload.png", b"original")
    stager = Stager(input_dir)
    [f] = stager.stage([upload], prefer_link=True)
    with open(upload, "r+b") as fh:  # corrupts the staged file through the shared inode
        fh.write(b"CORRUPT!")
    fresh = make(src, "fresh.png", b"original")
    [g] = stager.stage([fresh], prefer_link=False)
    assert g.path == f.path and g.method == "copy"  # re-hashed because nlink > 1
    assert g.path.read_bytes() == b"original"
    assert upload.read_bytes() == b"CORRUPT!"  # the old link was replaced, not written into


def test_verify_reports_actionable_problems(input_dir, src):
    stager = Stager(input_dir)
    [f] = stager.stage([make(src, "a.png", b"abc")], prefer_link=False)
    assert stager.verify(f.name_for_comfy) is None
    assert stager.verify(f.name_for_comfy, expected_size=3, full_hash=True) is None
    assert "expected 4" in stager.verify(f.name_for_comfy, expected_size=4)
    f.path.unlink()
    missing = stager.verify(f.name_for_comfy)
    assert "is missing" in missing and "resubmit" in missing and f.name_for_comfy in missing
    for bad in ("vq/staged/../../etc/passwd", "other/ab/x.png", f"vq/staged/00/{f.sha256}.png"):
        assert "not a vq staged name" in stager.verify(bad)


def test_concurrent_staging_of_the_same_content(input_dir, src):
    sources = [make(src, f"s{i}.png", b"shared content") for i in range(16)]
    stager = Stager(input_dir)
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda s: stager.stage([s], prefer_link=False)[0], sources))
    assert {r.path for r in results} == {results[0].path}
    assert results[0].path.read_bytes() == b"shared content"
    assert len(staged_files(input_dir)) == 1


@pytest.mark.parametrize("folder", ["vq", "vq/staged"], ids=["lock folder", "staging folder"])
def test_an_unwritable_staging_folder_is_named_with_what_to_do(input_dir, src, folder):
    (input_dir / "vq" / "staged").mkdir(parents=True, exist_ok=True)
    source = make(src, "a.png", b"A")
    with read_only(input_dir / folder), pytest.raises(StagingUnwritable) as raised:
        Stager(input_dir).stage([source], prefer_link=False)
    err = raised.value
    assert (err.status, err.code) == (503, "staging_unwritable")
    assert str(input_dir / folder) in err.message and "cannot be written" in err.message
    assert "stage: false" in (err.hint or "")
    assert staged_files(input_dir) == []


def test_cleanup_of_an_unwritable_staging_folder_reports_each_file_failed(input_dir, src):
    stager = Stager(input_dir, clock=lambda: time.time() + 30 * DAY)
    [staged_file] = Stager(input_dir).stage([make(src, "a.png", b"A")], prefer_link=False)
    retention = Retention(stager, input_dir / "vq" / "uploads", retention_seconds=7 * DAY)
    survey = retention.survey({}, time.time() + 30 * DAY)
    assert [c.path for c in survey.candidates] == [staged_file.path]
    (input_dir / "vq" / ".staging.lock").unlink()  # made by the staging above
    with read_only(input_dir / "vq"):
        [outcome] = retention.remove(survey.candidates, {}, time.time() + 30 * DAY)
    assert outcome.result == "failed" and "cannot be written" in outcome.detail
    assert staged_file.path.exists()
