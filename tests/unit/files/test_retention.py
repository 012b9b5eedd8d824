"""Retention of staged inputs: which files are kept and why, removal, leftovers, and the
store queries it reads (staged references, audit)."""

from __future__ import annotations

import errno
import os
import time
import uuid
from pathlib import Path

import pytest

from vq_extension.files.records import AuditEntry, StagedUse
from vq_extension.files.retention import DAY, Retention
from vq_extension.files.staging import Stager
from vq_extension.queue.models import PromptStatus
from vq_extension.queue.records import NewJob, NewPrompt
from vq_extension.queue.store import SqliteQueueStore

P = PromptStatus
WEEK = 7 * DAY
LIVE = StagedUse(live=True, unfinished=True, last_finished=None)
UNFINISHED = StagedUse(live=False, unfinished=True, last_finished=None)


def finished(at: float) -> StagedUse:
    return StagedUse(live=False, unfinished=False, last_finished=at)


@pytest.fixture
def input_dir(tmp_path: Path) -> Path:
    d = tmp_path / "input"
    d.mkdir()
    return d


@pytest.fixture
def stager(input_dir: Path) -> Stager:
    return Stager(input_dir)


@pytest.fixture
def uploads(input_dir: Path) -> Path:
    d = input_dir / "vq" / "uploads"
    d.mkdir(parents=True)
    return d


@pytest.fixture
def retention(stager: Stager, uploads: Path) -> Retention:
    return Retention(stager, uploads, retention_seconds=WEEK)


def stage(stager: Stager, tmp_path: Path, data: bytes, name: str = "src.png") -> str:
    src = tmp_path / "src" / f"{uuid.uuid4().hex}-{name}"
    src.parent.mkdir(exist_ok=True)
    src.write_bytes(data)
    [staged] = stager.stage([src], prefer_link=False)
    return staged.name_for_comfy


def names(survey_or_list) -> set[str]:
    items = survey_or_list.candidates if hasattr(survey_or_list, "candidates") else survey_or_list
    return {c.name for c in items}


# --- judging --------------------------------------------------------------------------------


def test_each_staged_file_is_judged_by_its_references(retention, stager, tmp_path):
    now = time.time()
    live = stage(stager, tmp_path, b"live")
    running_job = stage(stager, tmp_path, b"job not finished")
    recent = stage(stager, tmp_path, b"finished yesterday")
    old = stage(stager, tmp_path, b"finished ten days ago")
    refs = {live: LIVE, running_job: UNFINISHED, recent: finished(now - DAY), old: finished(now - 10 * DAY)}
    survey = retention.survey(refs, now + 2 * 3600)  # past the grace of freshly staged files
    assert names(survey) == {old}
    assert (survey.referenced.files, survey.waiting.files, survey.reclaimable.files) == (2, 1, 1)
    assert survey.staged.files == 4 and survey.staged.bytes == sum(len(d) for d in (
        b"live", b"job not finished", b"finished yesterday", b"finished ten days ago"))
    [cand] = survey.candidates
    assert cand.kind == "staged" and cand.bytes == len(b"finished ten days ago") and not cand.shared
    assert "last job finished" in cand.reason


def test_live_references_win_at_any_age(retention, stager, tmp_path):
    name = stage(stager, tmp_path, b"x")
    assert not retention.survey({name: LIVE}, time.time() + 365 * DAY).candidates
    assert not retention.survey({name: UNFINISHED}, time.time() + 365 * DAY).candidates


def test_unreferenced_files_age_from_when_they_were_staged(retention, stager, tmp_path):
    name = stage(stager, tmp_path, b"orphan")
    now = time.time()
    assert not retention.survey({}, now + 6 * DAY).candidates
    [cand] = retention.survey({}, now + 8 * DAY).candidates
    assert cand.name == name and "no prompt references it" in cand.reason


def test_nothing_younger_than_the_grace_is_taken_even_with_zero_retention(stager, uploads, tmp_path):
    keep_nothing = Retention(stager, uploads, retention_seconds=0)
    name = stage(stager, tmp_path, b"just staged by a submit in flight")
    now = time.time()
    survey = keep_nothing.survey({name: finished(now - DAY)}, now)
    assert not survey.candidates and survey.waiting.files == 1
    assert names(keep_nothing.survey({}, now + 3601)) == {name}


def test_a_hard_linked_upload_counts_from_the_link_not_the_upload(stager, uploads, tmp_path):
    upload = uploads / "clip.png"
    upload.write_bytes(b"uploaded long ago")
    os.utime(upload, (time.time() - 30 * DAY, time.time() - 30 * DAY))
    [staged] = stager.stage([upload], prefer_link=True)
    assert staged.method == "link"
    ret = Retention(stager, uploads, retention_seconds=0)
    assert not ret.survey({}, time.time()).candidates, "the link was made just now (ctime)"
    [cand] = ret.survey({}, time.time() + 2 * 3600).candidates
    assert cand.shared, "the upload keeps the data: removing the staged name frees nothing"


def test_foreign_names_symlinks_and_wrong_shards_are_never_touched(retention, stager, tmp_path, input_dir):
    name = stage(stager, tmp_path, b"real")
    shard = (input_dir / name).parent
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "secret.png"
    secret.write_bytes(b"not vq's")
    other_sha = "ab" + "0" * 62
    (shard / "notes.txt").write_text("mine")
    (shard / f"{other_sha}.png").write_bytes(b"right shape, wrong shard")
    (stager.root / "ab").mkdir(exist_ok=True)
    (stager.root / "ab" / f"{other_sha}.png").symlink_to(secret)
    (stager.root / "cd").symlink_to(outside, target_is_directory=True)
    (outside / ("cd" + "1" * 62 + ".png")).write_bytes(b"behind a symlinked shard")
    survey = retention.survey({}, time.time() + 30 * DAY)
    assert names(survey) == {name}
    retention.remove(survey.candidates, {}, time.time() + 30 * DAY)
    assert secret.read_bytes() == b"not vq's" and (shard / "notes.txt").exists()
    assert (outside / ("cd" + "1" * 62 + ".png")).exists() and (shard / f"{other_sha}.png").exists()


# --- leftovers ------------------------------------------------------------------------------


def test_leftover_temp_and_partial_uploads_go_after_an_hour(retention, stager, uploads):
    stager.root.mkdir(parents=True)
    tmp = stager.root / f".tmp-{uuid.uuid4().hex}"
    tmp.write_bytes(b"t" * 10)
    (uploads / "batch").mkdir()
    part = uploads / "batch" / f".vq-upload-{uuid.uuid4().hex}.part"
    part.write_bytes(b"p" * 20)
    (uploads / ".vq-upload-notahexname.part").write_bytes(b"not ours")
    (stager.root / ".tmp-keep").write_bytes(b"not ours either")
    now = time.time()
    assert not retention.survey({}, now + 60).candidates
    survey = retention.survey({}, now + 3601)
    assert {(c.kind, c.path) for c in survey.candidates} == {("temp", tmp), ("partial_upload", part)}
    assert survey.leftovers.files == 2 and survey.leftovers.bytes == 30
    assert survey.staged.files == 0, "leftovers are not staged files"


def test_partial_uploads_behind_a_symlinked_folder_are_not_followed(retention, uploads, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / f".vq-upload-{uuid.uuid4().hex}.part").write_bytes(b"x")
    (uploads / "link").symlink_to(outside, target_is_directory=True)
    assert not retention.survey({}, time.time() + DAY).candidates


# --- removing -------------------------------------------------------------------------------


def test_remove_judges_again_with_fresh_references(retention, stager, tmp_path, input_dir):
    now = time.time() + 30 * DAY
    taken, revived, vanished = (stage(stager, tmp_path, d) for d in (b"a", b"b", b"c"))
    survey = retention.survey({}, now)
    assert names(survey) == {taken, revived, vanished}
    (input_dir / vanished).unlink()
    outcomes = {o.candidate.name: o for o in retention.remove(survey.candidates, {revived: LIVE}, now)}
    assert outcomes[taken].result == "deleted" and not (input_dir / taken).exists()
    assert outcomes[revived].result == "kept" and "live prompt" in outcomes[revived].detail
    assert (input_dir / revived).exists()
    assert outcomes[vanished].result == "gone"


def test_a_failed_deletion_is_reported_and_a_rerun_finishes(stager, uploads, tmp_path, input_dir):
    now = time.time() + 30 * DAY
    stuck, fine = stage(stager, tmp_path, b"stuck"), stage(stager, tmp_path, b"fine")

    def unlink(path: Path) -> None:
        if path == input_dir / stuck:
            raise PermissionError(errno.EACCES, "Permission denied")
        os.unlink(path)

    flaky = Retention(stager, uploads, retention_seconds=WEEK, unlink=unlink)
    outcomes = {o.candidate.name: o for o in flaky.remove(flaky.survey({}, now).candidates, {}, now)}
    assert outcomes[fine].result == "deleted"
    assert outcomes[stuck].result == "failed" and outcomes[stuck].detail == "Permission denied"
    again = Retention(stager, uploads, retention_seconds=WEEK)
    survey = again.survey({}, now)
    assert names(survey) == {stuck}
    assert [o.result for o in again.remove(survey.candidates, {}, now)] == ["deleted"]
    assert again.survey({}, now).staged.files == 0


def test_a_temp_file_written_to_again_is_kept(retention, stager):
    stager.root.mkdir(parents=True)
    tmp = stager.root / f".tmp-{uuid.uuid4().hex}"
    tmp.write_bytes(b"t")
    now = time.time() + 3601
    survey = retention.survey({}, now)
    later = retention.remove(survey.candidates, {}, time.time() + 10)  # "now" moved back: just written
    assert [o.result for o in later] == ["kept"] and tmp.exists()


# --- the store's side -----------------------------------------------------------------------


def test_staged_references_follow_prompt_and_job_status(tmp_path):
    store = SqliteQueueStore(tmp_path / "vq.sqlite3")
    try:
        def job(*staged: str) -> int:
            prompts = [NewPrompt(graph={"1": {"class_type": "X", "inputs": {}}}, staged_name=s) for s in staged]
            return store.create_job(NewJob(name="j"), prompts, 1000.0)

        a, b, shared = "vq/staged/aa/a.png", "vq/staged/bb/b.png", "vq/staged/cc/c.png"
        first = job(a, shared, None)
        second = job(b, shared)
        refs = store.staged_references()
        assert set(refs) == {a, b, shared} and all(r.live and r.unfinished for r in refs.values())
        for p in store.job_prompts(first):
            store.transition(p.id, P.CANCELED, 2000.0)
        refs = store.staged_references()
        assert refs[a] == StagedUse(False, False, 2000.0)
        assert refs[shared].live, "the second job still uses it"
        for p in store.job_prompts(second):
            store.transition(p.id, P.CANCELED, 3000.0)
        assert store.staged_references()[shared] == StagedUse(False, False, 3000.0)
    finally:
        store.close()


def test_audit_entries_are_kept_newest_first(tmp_path):
    store = SqliteQueueStore(tmp_path / "vq.sqlite3")
    try:
        store.write_audit([AuditEntry(1.0, "delete_staged", "/x/a", 3, "deleted", "api: old"),
                           AuditEntry(2.0, "delete_temp", "/x/b", None, "failed", "api: Permission denied")])
        newest = store.read_audit(1)
        assert [(e.id, e.path, e.result) for e in newest] == [(2, "/x/b", "failed")]
        assert [e.at for e in store.read_audit(10)] == [2.0, 1.0]
    finally:
        store.close()
