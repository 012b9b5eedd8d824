"""Websocket events for the sidebar: ``vq.job``, ``vq.prompts``, ``vq.queue``, ``vq.jobs_deleted``,
``vq.autoprompt`` (docs/api.md).

Everything is coalesced per ``COALESCE_SECONDS`` window: changes mark a prompt, a job or
the queue dirty, and one flush per window sends at most one ``vq.jobs_deleted`` (the ids of
jobs deleted, by a user or the retention sweep), one ``vq.prompts`` (the briefs of every
prompt that changed, progress included), one ``vq.job`` per changed job and one
``vq.queue``, reading the summaries and queue counts in one trip to the DB thread. Changes
that arrive while a flush runs wait for the next window: a 1,000-prompt cancel or a busy
queue of 2 ms prompts sends a few messages per window, not several per prompt.
``vq.autoprompt`` is sent at once (one per LM Studio answer, seconds apart).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any

from ..queue.progress import LiveProgress
from ..queue.records import PromptRecord
from .reader import QueueReader
from .views import prompt_brief

log = logging.getLogger("vq.events")

Broadcast = Callable[[str, dict[str, Any]], None]
COALESCE_SECONDS = 0.05  # 20 updates a second is as fast as anyone reads a status badge
MAX_BRIEFS = 200  # more prompts changed in one window: the vq.job events tell the sidebar to refetch


class EventPublisher:
    def __init__(self, broadcast: Broadcast, reader: QueueReader, live: LiveProgress,
                 window: float = COALESCE_SECONDS) -> None:
        self._broadcast = broadcast
        self._reader = reader
        self._live = live
        self._window = window
        self._prompts: dict[int, PromptRecord] = {}
        self._dirty_jobs: set[int] = set()
        self._deleted_jobs: set[int] = set()
        self._queue_dirty = False
        self._flush_task: asyncio.Task[None] | None = None

    def prompt(self, prompt: PromptRecord) -> None:
        """A prompt changed status: its brief, its job's summary and the queue state are due."""
        self._prompts[prompt.id] = prompt
        self.job(prompt.job_id)

    def progress(self, prompt: PromptRecord) -> None:
        """A running prompt's live progress moved: only its brief is due."""
        self._prompts.setdefault(prompt.id, prompt)
        self._schedule()

    def autoprompt(self, event: dict[str, Any]) -> None:
        """One image done in a stage, or a run ended: sent at once (one per LM Studio answer,
        seconds apart, so nothing to coalesce)."""
        self._broadcast("vq.autoprompt", event)

    def job(self, job_id: int) -> None:
        self._dirty_jobs.add(job_id)
        self.queue()

    def queue(self) -> None:
        self._queue_dirty = True
        self._schedule()

    def jobs_deleted(self, job_ids: Sequence[int]) -> None:
        """Jobs are gone: every sidebar drops them (not only the one that deleted them)."""
        self._deleted_jobs.update(job_ids)
        self.queue()

    def _schedule(self) -> None:
        if self._flush_task is None:
            self._flush_task = asyncio.get_running_loop().create_task(self._flush())

    async def _flush(self) -> None:
        try:
            await asyncio.sleep(self._window)  # let the changes of this window pile up
            prompts, self._prompts = list(self._prompts.values()), {}
            deleted, self._deleted_jobs = sorted(self._deleted_jobs), set()
            jobs, self._dirty_jobs = sorted(self._dirty_jobs - set(deleted)), set()
            queue_dirty, self._queue_dirty = self._queue_dirty, False
            summaries, queue = await self._reader.events_snapshot(jobs, queue_dirty)
            if deleted:
                self._broadcast("vq.jobs_deleted", {"ids": deleted})
            if 0 < len(prompts) <= MAX_BRIEFS:
                self._broadcast("vq.prompts", {"prompts": [prompt_brief(p, self._live) for p in prompts]})
            for summary in summaries:
                self._broadcast("vq.job", {"job": summary})
            if queue is not None:
                self._broadcast("vq.queue", queue)
        except Exception:  # events are hints; a failure must not take the dispatcher down
            log.exception("vq: sending queue events failed")
        finally:
            self._flush_task = None
            if self._prompts or self._dirty_jobs or self._deleted_jobs or self._queue_dirty:
                self._schedule()  # what changed meanwhile goes out one window later

    async def drain(self) -> None:
        """Wait until pending events are sent (tests, shutdown)."""
        while self._flush_task is not None:
            await asyncio.shield(self._flush_task)
