"""ComfyUI restarts mid-run: vq recovers what it had handed over, from its own database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from tests.fixtures.fakecomfy import FakeComfy
from tests.helpers import REPO
from tests.integration.helpers import submit, upscale, wait_job, wait_prompt


@asynccontextmanager
async def comfyui(base: Path, profile: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[Any, Any]]:
    """One ComfyUI process lifetime: fresh server, queue and plugin instance on ``base``."""
    host = FakeComfy(base, profile=profile)
    host.install(monkeypatch)
    assert host.load_custom_node(REPO)
    host.add_routes()
    host.start_worker()
    host.make_image("vq_smoke.png")
    client = TestClient(TestServer(host.app))
    await client.start_server()
    try:
        yield host, client
    finally:
        await client.close()
        host.stop()


async def test_restart_requeues_running_prompt_and_finishes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, profile: str, fast_settings: None
) -> None:
    base = tmp_path / "comfy"
    async with comfyui(base, profile, monkeypatch) as (host, client):
        host.behavior.hold("ImageScaleBy")  # running until ComfyUI goes away
        created = await submit(client, [upscale(1.1), upscale(1.2), upscale(1.3)])
        await wait_prompt(client, created["prompts"][0]["id"], {"running"})
    # ComfyUI is gone; its in-memory queue with it. A new process starts on the same files.
    async with comfyui(base, profile, monkeypatch) as (host, client):
        done = await wait_job(client, created["id"], {"succeeded", "failed"}, timeout=15)
        assert done["status"] == "succeeded"
        first, second, third = done["prompts"]
        assert [a["status"] for a in first["attempts"]] == ["interrupted", "succeeded"]
        assert second["attempt"] == 2 and third["attempt"] == 1
        log = await (await client.get(f"/api/vq/v1/jobs/{created['id']}/log")).json()
        assert any("ComfyUI restarted" in e["message"] for e in log["entries"])


@pytest.mark.parametrize("profile", ["0.8.0"], indirect=True)
async def test_prompt_that_keeps_dying_fails_as_interrupted_repeatedly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, profile: str, fast_settings: None
) -> None:
    base = tmp_path / "comfy"
    for _ in range(2):  # max_attempts defaults to 2: each "crash" costs one
        async with comfyui(base, profile, monkeypatch) as (host, client):
            host.behavior.hold("ImageScaleBy")  # running until ComfyUI goes away
            if _ == 0:
                created = await submit(client, [upscale(1.1)])
            await wait_prompt(client, created["prompts"][0]["id"], {"running"})
    async with comfyui(base, profile, monkeypatch) as (host, client):
        done = await wait_job(client, created["id"], {"failed"}, timeout=5)
        error = done["prompts"][0]["error"]
        assert error["type"] == "interrupted_repeatedly" and "2 of 2" in error["message"]


async def test_pause_survives_a_restart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, profile: str, fast_settings: None
) -> None:
    base = tmp_path / "comfy"
    async with comfyui(base, profile, monkeypatch) as (host, client):
        await client.post("/api/vq/v1/queue/pause")
    async with comfyui(base, profile, monkeypatch) as (host, client):
        state = await (await client.get("/api/vq/v1/queue")).json()
        assert state["paused"] is True
