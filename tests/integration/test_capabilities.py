"""Queue-item arity by capability, not by version string: builds between upstream's
6-tuple commit and the 0.3.68 tag report "0.3.67" but need 6-tuples; a wrong arity kills
ComfyUI's worker thread. The fakes below have one shape and report the other's version."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.fakecomfy import FakeComfy
from tests.fixtures.fakecomfy.profiles import PROFILES
from tests.helpers import REPO
from tests.integration.helpers import submit, upscale, wait_job
from tests.integration.test_fallback_submit import without_post_prompt

LYING = {
    # 6-tuple queue (task_done takes process_item), version string from before the tag
    "six-tuple-says-0.3.67": dataclasses.replace(PROFILES["0.8.0"], name="six-tuple-says-0.3.67", version="0.3.67"),
    # 5-tuple queue (0.3.64 shapes), but a version string that says 0.8.0 (a backport fork)
    "five-tuple-says-0.8.0": dataclasses.replace(PROFILES["0.3.64"], name="five-tuple-says-0.8.0", version="0.8.0"),
}


@pytest.fixture(params=sorted(LYING))
async def lying_host(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                     fast_settings: None, aiohttp_client: Any) -> AsyncIterator[tuple[FakeComfy, Any]]:
    for name, profile in LYING.items():
        monkeypatch.setitem(PROFILES, name, profile)
    host = FakeComfy(tmp_path / "comfy", profile=request.param)
    host.install(monkeypatch)
    without_post_prompt(host)  # the fallback path is the one that builds queue items itself
    assert host.load_custom_node(REPO)
    host.add_routes()
    host.start_worker()
    host.make_image("vq_smoke.png")
    yield host, await aiohttp_client(host.app)
    host.stop()


async def test_fallback_tuple_shape_follows_the_queue_not_the_version(lying_host: tuple[FakeComfy, Any]) -> None:
    host, client = lying_host
    health = await (await client.get("/api/vq/v1/health")).json()
    expected = 6 if host.profile.six_tuple_items else 5
    assert health["strategies"]["queue_item_arity"] == expected
    assert health["strategies"]["submit"] == "validate_and_put"
    created = await submit(client, [upscale(1.1), upscale(1.2)])
    done = await wait_job(client, created["id"], {"succeeded", "failed"})
    assert done["status"] == "succeeded", done
    assert host.worker.alive and host.worker.error is None, "a wrong queue item arity killed ComfyUI's worker"
