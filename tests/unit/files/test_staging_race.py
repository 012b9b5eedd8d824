"""Dedupe vs. cleanup: a submit that reuses an existing staged file must not lose it to a
cleanup that surveyed the file as old and unreferenced a moment earlier."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

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
