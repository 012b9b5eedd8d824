"""Fixtures shared by every suite."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import REPO


@pytest.fixture
def repo_dir() -> Path:
    return REPO
