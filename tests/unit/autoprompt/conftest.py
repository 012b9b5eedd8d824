"""Fixtures for auto-prompt unit tests: the fake LM Studio on a loopback port, a client
of it, and small solid-colour images whose colour the fake reports back."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from PIL import Image

from tests.fixtures.fake_lmstudio import FakeLmStudio
from vq_extension.autoprompt.cache import MemoryCacheStore, PromptCache
from vq_extension.autoprompt.client import LmStudioClient
from vq_extension.autoprompt.generator import Generator, GeneratorConfig
from vq_extension.config import Settings


@pytest.fixture
def fake() -> FakeLmStudio:
    return FakeLmStudio()


@pytest.fixture
async def lm_url(fake: FakeLmStudio, aiohttp_server) -> AsyncIterator[str]:  # type: ignore[no-untyped-def]
    server = await aiohttp_server(fake.app())
    yield str(server.make_url("")).rstrip("/")
    fake.release.set()  # a request held for a timeout test must not outlive the test


@pytest.fixture
async def client(lm_url: str) -> AsyncIterator[LmStudioClient]:
    c = LmStudioClient(lm_url, timeout=10)
    yield c
    await c.close()


@pytest.fixture
def store() -> MemoryCacheStore:
    return MemoryCacheStore()


@pytest.fixture
def generator(client: LmStudioClient, store: MemoryCacheStore) -> Generator:
    return Generator(client, PromptCache(store), GeneratorConfig.from_settings(Settings()))


ImageMaker = Callable[..., Path]


@pytest.fixture
def make_image(tmp_path: Path) -> ImageMaker:
    def make(name: str, color: tuple[int, ...] = (255, 0, 0), size: tuple[int, int] = (64, 48),
             mode: str = "RGB", fmt: str | None = None) -> Path:
        path = tmp_path / name
        Image.new(mode, size, color).save(path, fmt)
        return path

    return make
