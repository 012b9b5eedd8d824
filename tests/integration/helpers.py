"""Helpers for driving the plugin over HTTP in integration tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from tests.fixtures.fakecomfy import FakeComfy
from tests.helpers import REPO, comfy_graph


class ComfyTestServer(TestServer):
    """aiohttp's TestServer cancels a handler when its client disconnects; ComfyUI's
    AppRunner does not (handler_cancellation off), so a slow submit finishes anyway."""

    async def _make_runner(self, handler_cancellation: bool = False, **kwargs: Any) -> Any:
        return await super()._make_runner(handler_cancellation=False, **kwargs)


@asynccontextmanager
async def comfyui_process(base: Path, profile: str, monkeypatch: pytest.MonkeyPatch, *,
                          port: int | None = None) -> AsyncIterator[tuple[FakeComfy, Any]]:
    """One ComfyUI process lifetime on ``base``: a fresh server, queue and plugin instance,
    and the input the ``upscale`` graphs load. ``port`` is what its ``--port`` says (set
    before the plugin loads: the instance id is made of it); two processes alive at once on
    one base need two ports, as two real ComfyUIs on one install would."""
    host = FakeComfy(base, profile=profile)
    host.install(monkeypatch)
    if port is not None:
        host.server.port = port
    assert host.load_custom_node(REPO)
    host.add_routes()
    host.start_worker()
    image = Path(host.paths.get_input_directory()) / "vq_smoke.png"
    if not image.exists():  # made once per base: another process alive on it may be reading it
        host.make_image(image.name)
    client = TestClient(ComfyTestServer(host.app))
    await client.start_server()
    try:
        yield host, client
    finally:
        await client.close()
        host.stop()


def upscale(scale: float = 1.5, image: str = "vq_smoke.png", prefix: str = "vq_test/up") -> dict[str, Any]:
    """The captured upscale graph with its knobs changed (a new scale defeats ComfyUI's cache)."""
    graph = comfy_graph("upscale")
    graph["1"]["inputs"]["image"] = image
    graph["2"]["inputs"]["scale_by"] = scale
    graph["3"]["inputs"]["filename_prefix"] = prefix
    return graph


async def submit(client: Any, graphs: list[dict[str, Any]], **body: Any) -> dict[str, Any]:
    resp = await client.post("/api/vq/v1/jobs", json={"graphs": graphs, **body})
    assert resp.status == 201, await resp.text()
    return await resp.json()


async def job(client: Any, job_id: int) -> dict[str, Any]:
    resp = await client.get(f"/api/vq/v1/jobs/{job_id}")
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def wait_for(check: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    """Poll an async or sync check until it returns something truthy."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if asyncio.iscoroutine(last):
            last = await last
        if last:
            return last
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}; last value: {last!r}")


async def wait_job(client: Any, job_id: int, statuses: set[str], timeout: float = 10.0) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        detail = await job(client, job_id)
        return detail if detail["status"] in statuses else None

    return await wait_for(check, timeout, f"job {job_id} to reach {statuses}")


async def wait_prompt(client: Any, prompt_id: int, statuses: set[str], timeout: float = 10.0) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        resp = await client.get(f"/api/vq/v1/prompts/{prompt_id}")
        detail = await resp.json()
        return detail if detail["status"] in statuses else None

    return await wait_for(check, timeout, f"prompt {prompt_id} to reach {statuses}")
