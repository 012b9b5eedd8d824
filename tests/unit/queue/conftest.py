"""Fixtures for the queue unit tests (tests/unit/queue).

``shared_dir`` (session) -> Path
    The project's shared reference folder: ``$VQ_SHARED_DIR`` when set, else
    ``<repo>/../shared``. Tests that need recorded ComfyUI data skip when it is absent.

Test modules cannot reliably import from a conftest.py (pytest imports every conftest as
the module "conftest"), so everything here is a fixture.

No ``__init__.py`` in this folder on purpose: it would make ``tests/unit/queue`` the
top-level package ``queue`` and shadow the standard library module of that name.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]


def _shared_dir() -> Path:
    configured = os.environ.get("VQ_SHARED_DIR")
    return Path(configured).expanduser() if configured else REPO.parent / "shared"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    path = _shared_dir()
    if not path.is_dir():
        pytest.skip(f"shared reference folder not found at {path} (set VQ_SHARED_DIR)")
    return path
