"""The two-stage pipeline: captions (vision model, one per image), then motion prompts
(text model, one per image, or one per clip for split workflows).

A batch runs stage by stage, not image by image: LM Studio auto-evicts the previous
JIT-loaded model when another is requested, so alternating would reload a multi-GB model
twice per image. Requests go one at a time; LM Studio serves one at a time anyway.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import re
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from ..config import Settings
from ..files.work import Runner
from . import prompts
from .cache import PromptCache, caption_key, motion_key
from .client import (
    ChatClient,
    ChatRequest,
    assistant_message,
    system_message,
    user_message,
)
from .errors import (
    AutopromptError,
    AutopromptOutputError,
    AutopromptTimeout,
    AutopromptUnavailable,
)
from .images import content_hash, image_data_url
from .probe import ModelLister, probe
from .timing import ClipTiming

Stage = Literal["caption", "motion", "both"]
Models = tuple[str | None, str | None]  # stage-1 and stage-2 model ids as LM Studio lists them
# (stage, path, i, total): called after image i of total (1-based) finished that stage.
Progress = Callable[[str, str, int, int], Awaitable[None] | None]


class Backend(ChatClient, ModelLister, Protocol):
    """What the generator needs from LM Studio: chat, and the model listings for the probe."""


@dataclass(frozen=True)
class GeneratorConfig:
    caption_model: str
    motion_model: str
    image_long_side: int

    @classmethod
    def from_settings(cls, settings: Settings) -> GeneratorConfig:
        """The defaults (issue 13's models, 1024 px) live in one place: ``config.Settings``."""
        return cls(settings.autoprompt_caption_model, settings.autoprompt_motion_model,
                   settings.autoprompt_image_long_side)


@dataclass
class ImageResult:
    path: str
    caption: str | None = None
    prompts: list[str] | None = None  # one, or one per clip
    error: dict[str, Any] | None = None

    def as_dict(self, clips: int) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path}
        if self.caption is not None:
            out["caption"] = self.caption
        if self.prompts is not None:
            out["clip_prompts" if clips > 1 else "motion_prompt"] = self.prompts if clips > 1 else self.prompts[0]
        if self.error is not None:
            out["error"] = self.error
        return out


@dataclass
class BatchResult:
    results: list[ImageResult]
    timing: ClipTiming
    stage1_model: str | None = None
    stage2_model: str | None = None
    cache_hits: dict[str, int] = field(default_factory=lambda: {"caption": 0, "motion": 0})
    elapsed_seconds: float = 0.0
    fresh: bool = False  # ask LM Studio even when the cache has an answer (and replace it)

    def as_dict(self) -> dict[str, Any]:
        return {"results": [r.as_dict(self.timing.clips) for r in self.results],
                "stage1_model": self.stage1_model, "stage2_model": self.stage2_model,
                "cache_hits": dict(self.cache_hits), "elapsed_seconds": round(self.elapsed_seconds, 3),
                "clips": self.timing.clips}


class Generator:
    def __init__(self, backend: Backend, cache: PromptCache, config: GeneratorConfig,
                 clock: Callable[[], float] = time.monotonic, file_work: Runner = asyncio.to_thread) -> None:
        self.backend = backend
        self.cache = cache
        self.config = config
        self.clock = clock
        self.file_work = file_work  # hashing and resizing images: vq's file executor in the app

    async def generate_batch(self, paths: Sequence[str], callback: Progress | None = None, *,
                             stage: Stage = "both", timing: ClipTiming = ClipTiming(24, 81),
                             captions: Mapping[str, str] | None = None,
                             system_prompt_override: str | None = None, fresh: bool = False,
                             models: Models | None = None) -> BatchResult:
        """Raises AutopromptUnavailable before any work when a needed model is not there
        (``models``: what ``self.models(stage)`` answered just before, to skip a second probe),
        and AutopromptTimeout / AutopromptUnavailable mid-batch when LM Studio stops
        answering; other failures are recorded on their image and the batch goes on."""
        started = self.clock()
        batch = BatchResult([ImageResult(p) for p in paths], timing, fresh=fresh)
        batch.stage1_model, batch.stage2_model = models or await self.models(stage)
        if stage == "motion":
            for result in batch.results:
                result.caption = (captions or {}).get(result.path)
                if not result.caption:
                    result.error = {"code": "caption_missing", "stage": "motion",
                                    "message": f"no caption given for {result.path}"}
        if batch.stage1_model is not None:
            await self._stage(batch, "caption", callback, lambda r: self._caption(batch, r))
        if batch.stage2_model is not None:
            system = prompts.motion_system(system_prompt_override, timing.clips)
            await self._stage(batch, "motion", callback, lambda r: self._motion(batch, r, system))
        batch.elapsed_seconds = self.clock() - started
        return batch

    async def models(self, stage: Stage) -> Models:
        """The LM Studio ids of the stage-1 and stage-2 models a run of ``stage`` needs (None
        for a stage it skips), or AutopromptUnavailable with the hint."""
        found = await probe(self.backend)
        caption = found.require("caption", self.config.caption_model).id if stage != "motion" else None
        motion = found.require("motion", self.config.motion_model).id if stage != "caption" else None
        return caption, motion

    async def _stage(self, batch: BatchResult, stage: str, callback: Progress | None,
                     work: Callable[[ImageResult], Awaitable[None]]) -> None:
        total = len(batch.results)
        for i, result in enumerate(batch.results, 1):
            if result.error is None:
                try:
                    await work(result)
                except (AutopromptUnavailable, AutopromptTimeout):
                    raise  # every later image would fail the same way, slowly
                except AutopromptError as exc:
                    result.error = {"code": exc.code, "stage": stage, "message": exc.message}
            if callback is not None:
                maybe = callback(stage, result.path, i, total)
                if inspect.isawaitable(maybe):
                    await maybe

    async def _caption(self, batch: BatchResult, result: ImageResult) -> None:
        model = batch.stage1_model or ""
        path = Path(result.path)
        params = {"long_side": self.config.image_long_side}
        key = caption_key(await self.file_work(content_hash, path), model,
                          (prompts.CAPTION_SYSTEM, prompts.CAPTION_USER), params)
        cached = None if batch.fresh else await self.cache.caption(key)
        if cached is not None:
            batch.cache_hits["caption"] += 1
            result.caption = cached
            return
        image = await self.file_work(image_data_url, path, self.config.image_long_side)
        messages = (system_message(prompts.CAPTION_SYSTEM), user_message(prompts.CAPTION_USER, image))
        result.caption = await self.backend.chat(ChatRequest("caption", model, messages, temperature=0.2))
        await self.cache.put_caption(key, result.caption)

    async def _motion(self, batch: BatchResult, result: ImageResult, system: str) -> None:
        model, timing = batch.stage2_model or "", batch.timing
        caption = result.caption or ""
        key = motion_key(caption, model, system, timing)
        cached = None if batch.fresh else await self.cache.motion(key)
        if cached is not None:
            batch.cache_hits["motion"] += 1
            result.prompts = cached
            return
        messages = (system_message(system), user_message(prompts.motion_user(caption, timing)))
        answer = await self.backend.chat(ChatRequest("motion", model, messages))
        if timing.clips == 1:
            result.prompts = [unquote(answer)]
        else:
            result.prompts = await self._clips(model, messages, answer, timing.clips)
        await self.cache.put_motion(key, result.prompts)

    async def _clips(self, model: str, messages: tuple[dict[str, Any], ...], answer: str,
                     clips: int) -> list[str]:
        try:
            return parse_clips(answer, clips)
        except ValueError as exc:
            reason = str(exc)
        retry = (*messages, assistant_message(answer), user_message(prompts.reask(reason, clips)))
        second = await self.backend.chat(ChatRequest("motion", model, retry))
        try:
            return parse_clips(second, clips)
        except ValueError as exc:
            raise AutopromptOutputError(
                f"{model} did not return {clips} clip prompts, twice ({exc})", stage="motion",
                hint="Try again, or adjust the stage-2 system prompt so it asks for the JSON clips list",
                details={"answer": second[:2000]}) from None


_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL | re.IGNORECASE)


def parse_clips(text: str, clips: int) -> list[str]:
    """``{"clips": [...]}`` (or a bare list), possibly fenced or after a sentence of
    preamble, holding exactly ``clips`` non-empty strings. ValueError says what is wrong,
    in words the re-ask hands back to the model."""
    fenced = _FENCE.search(text)
    candidate = fenced.group(1) if fenced else text
    start = min((i for i in (candidate.find("{"), candidate.find("[")) if i >= 0), default=-1)
    if start < 0:
        raise ValueError("it contains no JSON")
    try:
        value, _end = json.JSONDecoder().raw_decode(candidate[start:])
    except ValueError as exc:
        raise ValueError(f"its JSON does not parse ({exc.args[0].split(':')[0]})") from None
    items = value.get("clips") if isinstance(value, dict) else value
    if not isinstance(items, list):
        raise ValueError('it has no "clips" list')
    if len(items) != clips:
        raise ValueError(f"it has {len(items)} clip prompts instead of {clips}")
    if not all(isinstance(item, str) and item.strip() for item in items):
        raise ValueError("some clip prompts are empty or not text")
    return [item.strip() for item in items]


def unquote(text: str) -> str:
    """Models like to wrap a single prompt in quotes; the quotes would reach WAN's encoder."""
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1].strip()
    return text
