"""The auto-prompt cache: a caption per (image bytes, stage-1 model, stage-1 prompts,
params), motion prompts per (caption, stage-2 model, stage-2 system prompt, timing, clip
count). Keys are hashes of exactly those, so changing any of them misses and nothing
needs invalidating; a stage-2-only rerun keys on caption text and never opens an image.

Storage is a ``CacheStore`` (the SQLite one lives in the queue store, the only place that
writes SQL); store calls are synchronous and run through ``run`` off the event loop.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from typing import Any, Protocol

from ..files.work import Runner
from .timing import ClipTiming

KEY_VERSION = 1  # bump when the meaning of a cached value changes, so old entries miss

CAPTION = "caption"
MOTION = "motion"


class CacheStore(Protocol):
    def cache_get(self, kind: str, key: str) -> str | None: ...

    def cache_put(self, kind: str, key: str, value: str) -> None: ...


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _key(parts: dict[str, Any]) -> str:
    return text_hash(json.dumps({"v": KEY_VERSION, **parts}, sort_keys=True, separators=(",", ":")))


def caption_key(image_hash: str, model: str, prompts: tuple[str, ...], params: dict[str, Any]) -> str:
    """``prompts``: every instruction text the vision model gets (system and user)."""
    return _key({"image": image_hash, "model": model, "prompts": text_hash("\0".join(prompts)), "params": params})


def motion_key(caption: str, model: str, system_prompt: str, timing: ClipTiming) -> str:
    return _key({"caption": text_hash(caption), "model": model, "system": text_hash(system_prompt),
                 "timing": timing.key()})


class PromptCache:
    def __init__(self, store: CacheStore, run: Runner = asyncio.to_thread) -> None:
        self.store = store
        self.run = run

    async def caption(self, key: str) -> str | None:
        return await self.run(self.store.cache_get, CAPTION, key)

    async def put_caption(self, key: str, caption: str) -> None:
        await self.run(self.store.cache_put, CAPTION, key, caption)

    async def motion(self, key: str) -> list[str] | None:
        raw = await self.run(self.store.cache_get, MOTION, key)
        if raw is None:
            return None
        value = json.loads(raw)
        return value if isinstance(value, list) and all(isinstance(v, str) for v in value) else None

    async def put_motion(self, key: str, prompts: list[str]) -> None:
        await self.run(self.store.cache_put, MOTION, key, json.dumps(prompts, ensure_ascii=False))


class MemoryCacheStore:
    """A CacheStore in a dict: for the benchmark and tests, which need no database."""

    def __init__(self) -> None:
        self.entries: dict[tuple[str, str], str] = {}

    def cache_get(self, kind: str, key: str) -> str | None:
        return self.entries.get((kind, key))

    def cache_put(self, kind: str, key: str, value: str) -> None:
        self.entries[(kind, key)] = value
