"""Websocket events for the sidebar: ``vq.job``, ``vq.prompt``, ``vq.queue``, ``vq.autoprompt``.

Job and queue events are coalesced: all changes within ``COALESCE_SECONDS`` send one event
per job, so a 1,000-prompt cancel does not flood every browser (nor the database with
summary queries while prompts hand over)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from ..queue.progress import LiveProgress
from ..queue.records import PromptRecord
from .reader import QueueReader
from .views import prompt_brief

log = logging.getLogger("vq.events")

Broadcast = Callable[[str, dict[str, Any]], None]
COALESCE_SECONDS = 0.05  # 20 updates a second is as fast as anyone reads a status badge


class EventPublisher:
    def __init__(self, broadcast: Broadcast, reader: QueueReader, live: LiveProgress) -> None:
        self._broadcast = broadcast
        self._reader = reader
        self._live = live
        self._dirty_jobs: set[int] = set()
        self._queue_dirty = False
        self._flush_task: asyncio.Task[None] | None = None

    def prompt(self, prompt: PromptRecord) -> None:
        self._broadcast("vq.prompt", {"prompt": prompt_brief(prompt, self._live)})
        self.job(prompt.job_id)

    def autoprompt(self, event: dict[str, Any]) -> None:
        """One image done in a stage, or a run ended: sent at once (one per LM Studio answer,
        seconds apart, so nothing to coalesce)."""
        self._broadcast("vq.autoprompt", event)

    def job(self, job_id: int) -> None:
        self._dirty_jobs.add(job_id)
        self.queue()

    def queue(self) -> None:
        self._queue_dirty = True
        if self._flush_task is None or self._flush_task.done():
            self._flush_task = asyncio.get_running_loop().create_task(self._flush())

    async def _flush(self) -> None:
        await asyncio.sleep(COALESCE_SECONDS)  # let the changes of this moment pile up
        try:
            while self._dirty_jobs or self._queue_dirty:
                jobs, self._dirty_jobs = sorted(self._dirty_jobs), set()
                queue_dirty, self._queue_dirty = self._queue_dirty, False
                for summary in await self._reader.job_summaries(jobs):
                    self._broadcast("vq.job", {"job": summary})
                if queue_dirty:
                    self._broadcast("vq.queue", await self._reader.queue_state())
        except Exception:  # events are hints; a failure must not take the dispatcher down
            log.exception("vq: sending queue events failed")

    async def drain(self) -> None:
        """Wait until pending events are sent (tests, shutdown)."""
        while self._flush_task is not None and not self._flush_task.done():
            await self._flush_task
