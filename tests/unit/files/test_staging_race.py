"""Dedupe vs. cleanup: a submit that reuses an existing staged file must not lose it to a
cleanup that surveyed the file as old and unreferenced a moment earlier."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.helpers import REPO
from vq_extension.files.retention import DAY, Retention
from vq_extension.files.staging import Stager

MONTH_LATER = 30 * DAY  # a file's ctime cannot be set back: move the clock forward instead


def later() -> float:
    return time.time() + MONTH_LATER


def _old_staged_file(tmp_path: Path, stager: Stager) -> tuple[Path, Path]:
    src = tmp_path / "src" / "frame.png"
    src.parent.mkdir()
    src.write_bytes(b"same content, staged long ago")
    [staged] = Stager(stager.input_dir).stage([src], prefer_link=False)  # staged "a month ago"
    return src, staged.path


def test_reusing_a_staged_file_refreshes_its_age_so_a_concurrent_cleanup_keeps_it(tmp_path: Path) -> None:
    stager = Stager(tmp_path / "input", clock=later)
    retention = Retention(stager, tmp_path / "input" / "vq" / "uploads", retention_seconds=7 * DAY)
    src, path = _old_staged_file(tmp_path, stager)
    survey = retention.survey({}, later())  # the cleanup: unreferenced and a month old
    assert [c.path for c in survey.candidates] == [path]

    [again] = stager.stage([src], prefer_link=False)  # a new submit dedupes onto it
    assert again.method == "existing" and again.path == path

    # The job row is not written yet, so the cleanup's fresh look at the queue has no reference.
    [outcome] = retention.remove(survey.candidates, {}, later())
    assert outcome.result == "kept", outcome
    assert path.exists()


def test_cleanup_waits_while_a_submit_holds_the_file_it_reuses(tmp_path: Path) -> None:
    stager = Stager(tmp_path / "input", clock=later)
    retention = Retention(stager, tmp_path / "input" / "vq" / "uploads", retention_seconds=7 * DAY)
    src, path = _old_staged_file(tmp_path, stager)
    survey = retention.survey({}, later())
    with stager.holding():  # a submit between "it is there" and refreshing it
        remover = threading.Thread(target=lambda: outcomes.extend(retention.remove(survey.candidates, {}, later())))
        outcomes: list = []
        remover.start()
        remover.join(timeout=0.2)
        assert path.exists(), "the cleanup deleted a file a submit was reusing"
        os.utime(path, (later(), later()))  # what the submit does while holding it
    remover.join()
    assert [o.result for o in outcomes] == ["kept"]


REMOVER = """
import sys, time
from pathlib import Path
from vq_extension.files.retention import DAY, Retention
from vq_extension.files.staging import Stager
later = lambda: time.time() + 30 * DAY
stager = Stager(Path(sys.argv[1]), clock=later)
retention = Retention(stager, Path(sys.argv[1]) / "vq" / "uploads", retention_seconds=7 * DAY)
survey = retention.survey({}, later())
print("ready", len(survey.candidates), flush=True)
print(*[o.result for o in retention.remove(survey.candidates, {}, later())], flush=True)
"""


def blocked_on_a_file_lock(pid: int) -> bool:
    """Is process ``pid`` waiting for a flock? (Linux lists waiters in /proc/locks as "->".)"""
    return any(line.split()[1:3] == ["->", "FLOCK"] and line.split()[5] == str(pid)
               for line in Path("/proc/locks").read_text().splitlines())


@pytest.mark.skipif(not Path("/proc/locks").exists(), reason="waiters are seen in Linux's /proc/locks")
def test_another_comfyui_process_cleaning_the_same_folder_waits_too(tmp_path: Path) -> None:
    """Two ComfyUI processes on one install share the staging folder: the lock is the OS's."""
    stager = Stager(tmp_path / "input", clock=later)
    src, path = _old_staged_file(tmp_path, stager)
    with stager.holding():  # this process's submit is reusing the file
        remover = subprocess.Popen([sys.executable, "-c", REMOVER, str(stager.input_dir)], cwd=REPO,
                                   stdout=subprocess.PIPE, text=True)
        assert remover.stdout is not None
        assert remover.stdout.readline().split() == ["ready", "1"]  # surveyed it as old and unreferenced
        deadline = time.monotonic() + 60
        while not blocked_on_a_file_lock(remover.pid):  # old code: it deletes the file instead
            assert remover.poll() is None and path.exists(), "another process's cleanup did not wait"
            assert time.monotonic() < deadline, "the other process never reached the lock"
            time.sleep(0.01)
        os.utime(path, (later(), later()))  # what the submit does while holding it
    out, _ = remover.communicate(timeout=60)
    assert out.split() == ["kept"] and path.exists()
