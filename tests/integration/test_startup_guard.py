"""Nothing vq does at start-up stops ComfyUI from starting: a locked database or a
read-only data folder is logged, answered as 503 on /vq/v1/health with the reason, and
retried in the background until vq starts."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.fakecomfy import FakeComfy
from tests.helpers import REPO, read_only
from tests.integration.helpers import submit, upscale, wait_for, wait_job

pytestmark = pytest.mark.parametrize("profile", ["0.8.0"])


async def health(client: Any) -> tuple[int, dict[str, Any]]:
    resp = await client.get("/api/vq/v1/health")
    return resp.status, await resp.json()


async def started(client: Any) -> bool:
    return (await health(client))[0] == 200


def comfy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, profile: str) -> FakeComfy:
    host = FakeComfy(tmp_path / "comfy", profile=profile)
    host.install(monkeypatch)
    return host


async def test_a_locked_database_at_start_up_does_not_stop_comfyui_and_vq_starts_once_free(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, profile: str, fast_settings: None, aiohttp_client: Any
) -> None:
    host = comfy(tmp_path, monkeypatch, profile)
    assert host.load_custom_node(REPO)
    host.add_routes()
    host.start_worker()
    host.make_image("vq_smoke.png")
    plugin = host.server._vq_plugin
    locker = sqlite3.connect(plugin.store.path, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")  # another process holds the write lock while ComfyUI starts
    try:
        client = await aiohttp_client(host.app)  # runs on_startup: before the fix it raised here
        assert (await client.get("/system_stats")).status == 200
        status, body = await health(client)
        assert status == 503 and body["error"]["code"] == "unavailable"
        assert "database is locked" in body["error"]["message"]
        assert (await client.get("/api/vq/v1/jobs")).status == 503
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    plugin.retry_now()
    await wait_for(lambda: started(client), timeout=30, what="vq to start once the lock is gone")
    created = await submit(client, [upscale(1.2)])
    assert (await wait_job(client, created["id"], {"succeeded", "failed"}))["status"] == "succeeded"
    host.stop()


async def test_a_read_only_data_folder_does_not_stop_comfyui_and_vq_starts_once_writable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, profile: str, fast_settings: None, aiohttp_client: Any
) -> None:
    host = comfy(tmp_path, monkeypatch, profile)
    data_dir = tmp_path / "comfy" / "user" / "__video_queue"
    data_dir.mkdir(parents=True)
    with read_only(data_dir):
        assert host.load_custom_node(REPO), "ComfyUI must still count the package as loaded"
        host.add_routes()
        host.start_worker()
        client = await aiohttp_client(host.app)
        assert (await client.get("/system_stats")).status == 200
        status, body = await health(client)
        assert status == 503 and "unable to open database file" in body["error"]["message"], body
    host.server._vq_plugin.retry_now()
    await wait_for(lambda: started(client), timeout=30, what="vq to start once the folder is writable")
    assert (data_dir / "vq.sqlite3").exists()
    host.stop()
