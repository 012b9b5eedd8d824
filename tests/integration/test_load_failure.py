"""When vq cannot start, ComfyUI still does, and vq's health route says why."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.fakecomfy import FakeComfy
from tests.helpers import REPO


@pytest.mark.parametrize("profile", ["0.8.0"])
async def test_a_database_from_a_newer_vq_is_reported_not_crashed_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, profile: str, aiohttp_client: Any
) -> None:
    host = FakeComfy(tmp_path / "comfy", profile=profile)
    host.install(monkeypatch)
    data_dir = tmp_path / "comfy" / "user" / "__video_queue"
    data_dir.mkdir(parents=True)
    with sqlite3.connect(data_dir / "vq.sqlite3") as conn:
        conn.execute("PRAGMA user_version = 99")
    assert host.load_custom_node(REPO), "ComfyUI must still count the package as loaded"
    host.load_custom_node(REPO)  # a second import stays quiet (no duplicate route)
    host.add_routes()
    client = await aiohttp_client(host.app)
    resp = await client.get("/api/vq/v1/health")
    error = (await resp.json())["error"]
    assert resp.status == 503 and error["code"] == "unavailable"
    assert "newer vq" in error["message"] and "schema version 99" in error["message"]
    assert (await client.get("/system_stats")).status == 200  # ComfyUI itself is fine
    host.stop()
