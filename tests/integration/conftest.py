"""The plugin loaded into the fake ComfyUI the way ComfyUI loads it, on every profile."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.fakecomfy import FakeComfy
from tests.helpers import REPO
from tests.integration.helpers import ComfyTestServer

PROFILES = ["0.3.64", "0.8.0", "newer"]

FAST_SETTINGS = {
    "VQ_POLL_SECONDS": "0.05",
    "VQ_IDLE_POLL_SECONDS": "0.05",
    "VQ_LOST_GRACE_SECONDS": "0.2",
    "VQ_REINTERRUPT_SECONDS": "0.3",
}


@pytest.fixture(params=PROFILES)
def profile(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def fast_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in FAST_SETTINGS.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
async def comfy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, profile: str, fast_settings: None
                ) -> AsyncIterator[FakeComfy]:
    host = FakeComfy(tmp_path / "comfy", profile=profile)
    host.install(monkeypatch)
    assert host.load_custom_node(REPO), "the plugin failed to load"
    host.add_routes()
    host.start_worker()
    host.make_image("vq_smoke.png")
    yield host
    host.stop()


@pytest.fixture
async def client(comfy: FakeComfy, aiohttp_client: Any) -> Any:
    return await aiohttp_client(ComfyTestServer(comfy.app))


@pytest.fixture
def plugin(comfy: FakeComfy) -> Any:
    return comfy.server._vq_plugin
