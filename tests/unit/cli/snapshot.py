"""Plain-file snapshots: ``tests/unit/cli/snapshots/<name>``. A missing snapshot, or any
with ``VQ_UPDATE_SNAPSHOTS=1``, is (re)written and the test fails so the new file is
reviewed before it counts."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

DIR = Path(__file__).resolve().parent / "snapshots"


def check(name: str, actual: str) -> None:
    path = DIR / name
    if os.environ.get("VQ_UPDATE_SNAPSHOTS") == "1" or not path.exists():
        DIR.mkdir(exist_ok=True)
        path.write_text(actual, encoding="utf-8")
        pytest.fail(f"snapshot {name} written; review it and run again")
    expected = path.read_text(encoding="utf-8")
    assert actual == expected, f"output differs from snapshot {name} (VQ_UPDATE_SNAPSHOTS=1 rewrites it)"
