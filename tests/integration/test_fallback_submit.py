"""Strategy B: when ComfyUI's POST /prompt handler cannot be used in-process, vq validates
and puts the queue item itself, shaped for the running version (5- or 6-tuple). The fake
0.8.0 worker dies on a wrong arity, exactly like the real one, so these tests would catch it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tests.fixtures.fakecomfy import FakeComfy
from tests.helpers import REPO, comfy_graph
from tests.integration.helpers import submit, upscale, wait_job


def without_post_prompt(host: FakeComfy) -> None:
    routes = host.server.routes
    routes._items[:] = [r for r in routes if not (isinstance(r, web.RouteDef) and r.method == "POST"
                                                  and r.path == "/prompt")]


@pytest.fixture
async def fallback_client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, profile: str, fast_settings: None,
                          aiohttp_client: Any) -> AsyncIterator[tuple[FakeComfy, Any]]:
    host = FakeComfy(tmp_path / "comfy", profile=profile)
    host.install(monkeypatch)
    without_post_prompt(host)
    assert host.load_custom_node(REPO)
    host.add_routes()
    host.start_worker()
    host.make_image("vq_smoke.png")
    yield host, await aiohttp_client(host.app)
    host.stop()


async def test_validate_and_put_runs_jobs_on_every_version(fallback_client: tuple[FakeComfy, Any],
                                                           profile: str) -> None:
    host, client = fallback_client
    health = await (await client.get("/api/vq/v1/health")).json()
    assert health["strategies"]["submit"] == "validate_and_put"
    created = await submit(client, [upscale(1.1), upscale(1.2), comfy_graph("invalid_missing_image")])
    done = await wait_job(client, created["id"], {"succeeded", "failed"})
    assert [p["status"] for p in done["prompts"]] == ["succeeded", "succeeded", "failed"]
    assert "Custom validation failed" in done["prompts"][2]["error"]["message"]
    assert host.worker.alive and host.worker.error is None, "a wrong queue item arity kills ComfyUI's worker"
    running, pending = host.queue.get_current_queue()
    items = [h["prompt"] for h in host.queue.get_history().values()]
    assert all(len(item) == 5 for item in items)  # history strips `sensitive` on every version


@pytest.mark.parametrize("profile", ["0.8.0"], indirect=True)
async def test_a_handler_that_breaks_in_process_switches_to_the_fallback(comfy: Any, client: Any) -> None:
    plugin = comfy.server._vq_plugin

    async def broken_handler(request: Any) -> Any:
        raise AttributeError("'_InProcessRequest' object has no attribute 'transport'")

    plugin.host._post_prompt = broken_handler
    created = await submit(client, [upscale(1.3)])
    done = await wait_job(client, created["id"], {"succeeded", "failed"})
    assert done["status"] == "succeeded"
    health = await (await client.get("/api/vq/v1/health")).json()
    assert health["strategies"]["submit"] == "validate_and_put"
