"""Read side of the queue: builds the API's answers from the store and live state."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from ..errors import NotFound
from ..queue.executor import DbExecutor
from ..queue.models import JobStatus, PromptStatus
from ..queue.progress import LiveProgress, WorkerState
from ..queue.records import JobRecord
from ..queue.store import SqliteQueueStore
from .views import job_summary, log_entry, prompt_detail, stuck_prompts


class QueueReader:
    def __init__(
        self,
        store: SqliteQueueStore,
        db: DbExecutor,
        live: LiveProgress,
        worker: WorkerState,
        max_in_flight: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store, self.db, self.live, self.worker = store, db, live, worker
        self.max_in_flight = max_in_flight
        self.clock = clock

    async def job_summaries(self, job_ids: Sequence[int]) -> list[dict[str, Any]]:
        return await self.db.run(self._summaries_sync, list(job_ids))

    def _summaries_sync(self, job_ids: list[int]) -> list[dict[str, Any]]:
        return self._summarize(self.store.get_jobs(job_ids))

    def _summarize(self, jobs: list[JobRecord]) -> list[dict[str, Any]]:
        """Summaries from the jobs' own counters: no query per job, nothing O(prompts)."""
        now = self.clock()
        return [job_summary(j, j.counts, self.live, j.average_seconds, now) for j in jobs]

    async def events_snapshot(
        self, job_ids: Sequence[int], with_queue: bool
    ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        """What one flush of the event publisher sends, in one trip to the DB thread."""
        def query() -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
            summaries = self._summaries_sync(list(job_ids))
            return summaries, self._queue_state() if with_queue else None

        return await self.db.run(query)

    async def job_summary(self, job_id: int) -> dict[str, Any]:
        found = await self.job_summaries([job_id])
        if not found:
            raise NotFound(f"job {job_id} does not exist")
        return found[0]

    async def list_jobs(
        self, *, statuses: Sequence[JobStatus], search: str, sort: str, limit: int, offset: int
    ) -> dict[str, Any]:
        def query() -> dict[str, Any]:
            jobs, total = self.store.list_jobs(
                statuses=statuses, search=search, sort=sort, limit=limit, offset=offset
            )
            return {
                "jobs": self._summarize(jobs),
                "total": total,
                "limit": limit,
                "offset": offset,
                "counts": {s.value: n for s, n in self.store.job_totals().items()},
            }

        return await self.db.run(query)

    async def job_detail(self, job_id: int) -> dict[str, Any]:
        def query() -> dict[str, Any]:
            job = self.store.get_job(job_id)
            if job is None:
                raise NotFound(f"job {job_id} does not exist")
            prompts = self.store.job_prompts(job_id)
            attempts = self.store.attempts([p.id for p in prompts])
            return {
                **self._summarize([job])[0],
                "params": job.params,
                "options": job.options,
                "source": job.source,
                "prompts": [prompt_detail(p, attempts[p.id], self.live) for p in prompts],
            }

        return await self.db.run(query)

    async def prompt_detail(self, prompt_id: int, *, with_graph: bool = False) -> dict[str, Any]:
        def query() -> dict[str, Any]:
            prompt = self.store.get_prompt(prompt_id)
            if prompt is None:
                raise NotFound(f"prompt {prompt_id} does not exist")
            detail = prompt_detail(prompt, self.store.attempts([prompt_id])[prompt_id], self.live)
            if with_graph:
                detail["graph"] = self.store.get_graph(prompt_id)
            return detail

        return await self.db.run(query)

    async def job_log(self, job_id: int, *, after: int, limit: int) -> dict[str, Any]:
        def query() -> dict[str, Any]:
            if self.store.get_job(job_id) is None:
                raise NotFound(f"job {job_id} does not exist")
            entries = self.store.read_log(job_id, after=after, limit=limit)
            return {
                "entries": [log_entry(e) for e in entries],
                "next_after": entries[-1].id if entries else after,
            }

        return await self.db.run(query)

    async def queue_state(self) -> dict[str, Any]:
        return await self.db.run(self._queue_state)

    def _queue_state(self) -> dict[str, Any]:
        """On the DB thread: the kept totals, and the running prompts only when there are any."""
        totals = self.store.prompt_totals()
        running = self.store.running_with_average() if totals.get(PromptStatus.RUNNING) else []
        return {
            "paused": self.worker.paused,
            "worker": self.worker.label,
            "worker_error": self.worker.error,
            "in_flight": self.worker.in_flight,
            "max_in_flight": self.max_in_flight,
            "counts": {s.value: n for s, n in totals.items() if n},
            "stuck": stuck_prompts(running, self.clock()),
        }
