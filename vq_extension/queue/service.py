"""JobService: what users can do to the queue. No aiohttp here; routes and the CLI's
offline mode call these methods and turn ``VqError``s into answers."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..config import Settings
from ..errors import Conflict, CountChanged, InvalidRequest, NotFound, Unavailable
from ..files.paths import AllowedRoots
from ..files.processed import move_to_processed
from ..files.work import Runner
from .executor import DbExecutor
from .models import CANCELABLE, RETRYABLE, PromptStatus
from .ports import EventSink, QueueControl, Reader
from .records import BulkResult, LogLine, NewJob, NewPrompt, PromptRecord, Replayed
from .store import SqliteQueueStore
from .submit import Submitter, WorkflowRequest

P = PromptStatus


class JobService:
    def __init__(
        self,
        *,
        store: SqliteQueueStore,
        db: DbExecutor,
        reader: Reader,
        dispatcher: QueueControl,
        events: EventSink,
        settings: Settings,
        submitter: Submitter | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store, self.db, self.reader = store, db, reader
        self.dispatcher, self.events, self.settings, self.clock = dispatcher, events, settings, clock
        self.submitter = submitter

    # --- submit ------------------------------------------------------------------------

    async def replayed(self, key: str, body_sha256: str) -> dict[str, Any] | None:
        """The job an Idempotency-Key created in the last 24 h, or None; 409 when the key
        came with a different body."""
        found = await self.db.run(self.store.find_idempotent, key, body_sha256, self.clock())
        if found is None:
            return None
        if not found.same_body:
            raise Conflict(f"Idempotency-Key {key!r} was already used for a different submit (job {found.job_id}); "
                           "use a new key for a new job", {"job_id": found.job_id})
        return await self.reader.job_detail(found.job_id)

    async def submit_graphs(
        self, *, name: str | None, graphs: Sequence[dict[str, Any]], priority: int, max_attempts: int | None,
        idempotency: tuple[str, str] | None = None,
    ) -> dict[str, Any]:
        """A job of raw API-format graphs, one prompt each."""
        for index, graph in enumerate(graphs):
            check_graph(graph, index)
        attempts = max_attempts or self.settings.max_attempts
        job = NewJob(name=name or f"{len(graphs)} graph(s)", priority=priority, options={"max_attempts": attempts})
        prompts = [NewPrompt(graph=graph, max_attempts=attempts, seed=find_seed(graph)) for graph in graphs]
        return await self._persist(job, prompts, idempotency)

    async def submit_workflow(self, req: WorkflowRequest, *, idempotency: tuple[str, str] | None = None
                              ) -> dict[str, Any]:
        """A job from a workflow definition: one prompt per input file and try."""
        if self.submitter is None:
            raise Unavailable("workflow submits need the workflow catalog, which failed to load; see ComfyUI's log")
        prepared = await self.submitter.prepare(req)
        if req.dry_run:
            return self.submitter.dry_run_answer(prepared, req.dry_run_offset)
        try:
            return await self._persist(prepared.job, prepared.prompts, idempotency)
        except BaseException:
            await self.submitter.abandon(prepared)
            raise

    async def _persist(self, job: NewJob, prompts: Sequence[NewPrompt],
                       idempotency: tuple[str, str] | None = None) -> dict[str, Any]:
        now = self.clock()
        job_id = await self.db.run(self.store.create_job, job, prompts, now, idempotency=idempotency)
        if isinstance(job_id, Replayed):  # a concurrent request with the same key won the race
            if not job_id.same_body:
                raise Conflict("Idempotency-Key was already used for a different submit", {"job_id": job_id.job_id})
            return await self.reader.job_detail(job_id.job_id)
        self.events.job(job_id)
        self.dispatcher.nudge()
        return await self.reader.job_detail(job_id)

    # --- cancel ------------------------------------------------------------------------

    async def cancel_job(self, job_id: int) -> dict[str, Any]:
        """Set-based: every pending prompt in one statement first (so the dispatcher can no
        longer claim any of them), then the few prompts in ComfyUI one by one."""
        await self._job(job_id)
        result = await self.db.run(self.store.cancel_pending, job_id, self.clock(), why="(job canceled)")
        assert isinstance(result, BulkResult)
        canceled, canceling = await self._cancel_in_comfy(result)
        if canceled + canceling == 0:
            raise Conflict(f"job {job_id} has nothing left to cancel", {"job_id": job_id})
        return {"job": await self.reader.job_summary(job_id), "canceled": canceled, "canceling": canceling}

    async def _cancel_in_comfy(self, result: BulkResult, statuses: frozenset[PromptStatus] = CANCELABLE) -> tuple[int, int]:
        """After a set-based cancel of the pending prompts: announce it, then cancel those in ComfyUI."""
        canceled = canceling = 0
        if result.moved:
            canceled = result.moved
            for job_id in {p.job_id for p in result.in_comfy} | set(result.jobs):
                self.events.job(job_id)
        for prompt in result.in_comfy:
            if prompt.status in statuses:
                t = await self.dispatcher.cancel_in_comfy(prompt)
                if t is not None and t.prompt.status is P.CANCELED:
                    canceled += 1
                elif t is not None:
                    canceling += 1
        return canceled, canceling

    async def cancel_prompt(self, prompt_id: int) -> dict[str, Any]:
        prompt = await self._prompt(prompt_id)
        if await self._cancel(prompt) is None:
            raise Conflict(f"prompt {prompt_id} is {prompt.status.value} and cannot be canceled",
                           {"prompt_id": prompt_id, "status": prompt.status.value})
        return await self.reader.prompt_detail(prompt_id)

    async def _cancel(self, prompt: PromptRecord) -> PromptStatus | None:
        if prompt.status is P.PENDING:
            t = await self.db.run(self.store.transition, prompt.id, P.CANCELED, self.clock(), expected=P.PENDING,
                                  log=LogLine("canceled", "canceled before it started"))
            if t is not None:
                self.events.prompt(t.prompt)
                return P.CANCELED
            prompt = await self._prompt(prompt.id)  # claimed meanwhile: cancel it in ComfyUI
        if prompt.status in (P.QUEUED, P.RUNNING):
            t = await self.dispatcher.cancel_in_comfy(prompt)
            return t.prompt.status if t else None
        return None

    # --- retry -------------------------------------------------------------------------

    async def retry_job(self, job_id: int) -> dict[str, Any]:
        """Set-based: one UPDATE moves every retryable prompt of the job back to pending."""
        await self._job(job_id)
        retried = await self.db.run(self.store.retry_job, job_id, self.clock(), budget=self.settings.max_attempts)
        if retried:
            self.events.job(job_id)
        if not retried:
            raise Conflict(f"job {job_id} has no failed, canceled or interrupted prompt to retry",
                           {"job_id": job_id})
        self.dispatcher.nudge()
        return {"job": await self.reader.job_summary(job_id), "retried": retried}

    async def retry_prompt(self, prompt_id: int) -> dict[str, Any]:
        prompt = await self._prompt(prompt_id)
        if prompt.status not in RETRYABLE or not await self._requeue(prompt):
            raise Conflict(f"prompt {prompt_id} is {prompt.status.value}; only failed, canceled or "
                           "interrupted prompts can be retried", {"prompt_id": prompt_id})
        self.dispatcher.nudge()
        return await self.reader.prompt_detail(prompt_id)

    async def _requeue(self, prompt: PromptRecord) -> bool:
        now = self.clock()
        line = LogLine("retry", f"retried (was {prompt.status.value})")
        t = await self.db.run(self.store.requeue, prompt.id, now, budget=self.settings.max_attempts, log=line)
        if t is None:
            return False
        self.events.prompt(t.prompt)
        return True

    # --- order ---------------------------------------------------------------------------

    async def set_priority(self, job_id: int, priority: int) -> dict[str, Any]:
        if not await self.db.run(self.store.set_priority, job_id, priority, self.clock()):
            raise NotFound(f"job {job_id} does not exist")
        await self.db.run(self.store.log, job_id, "priority", f"priority set to {priority}", self.clock())
        self.events.job(job_id)
        return await self.reader.job_summary(job_id)

    async def move_to_top(self, job_id: int) -> dict[str, Any]:
        await self._job_prompts(job_id)  # 404 first
        highest = await self.db.run(self.store.max_active_priority, job_id)
        job = await self.reader.job_summary(job_id)
        if highest is not None and job["priority"] <= highest:
            return await self.set_priority(job_id, highest + 1)
        return job

    # --- queue -----------------------------------------------------------------------------

    async def pause(self) -> dict[str, Any]:
        await self.dispatcher.set_paused(True)
        return await self.reader.queue_state()

    async def resume(self) -> dict[str, Any]:
        await self.dispatcher.set_paused(False)
        return await self.reader.queue_state()

    async def clear(self, *, expected_count: int, include_running: bool) -> dict[str, Any]:
        """Cancel all waiting work (and running work only when asked), but only if the user
        saw the same number of prompts we are about to cancel."""
        statuses = [P.PENDING, P.QUEUED] + ([P.RUNNING] if include_running else [])
        result = await self.db.run(self.store.cancel_pending, None, self.clock(), why="(queue cleared)",
                                   expected_total=expected_count, counted=statuses)
        if not isinstance(result, BulkResult):  # the count check failed; nothing changed
            raise CountChanged(
                f"the queue changed: {result} prompt(s) would be canceled, not {expected_count}; "
                "look again and confirm the new count",
                {"expected": expected_count, "actual": result},
            )
        canceled, canceling = await self._cancel_in_comfy(result, frozenset(statuses))
        return {"cleared": canceled + canceling}

    # --- deleting --------------------------------------------------------------------------

    async def delete_job(self, job_id: int) -> dict[str, Any]:
        """Delete a finished job with its prompts, attempts and log (outputs stay on disk)."""
        job = await self.db.run(self.store.get_job, job_id)
        if job is None:
            raise NotFound(f"job {job_id} does not exist")
        if not await self.db.run(self.store.delete_job, job_id):
            raise Conflict(f"job {job_id} is {job.status.value}; only finished jobs (succeeded, failed, canceled) "
                           "can be deleted: cancel it first", {"status": job.status.value})
        self.events.jobs_deleted([job_id])
        return {"id": job_id, "deleted": True}

    # --- helpers ---------------------------------------------------------------------------

    async def _prompt(self, prompt_id: int) -> PromptRecord:
        prompt = await self.db.run(self.store.get_prompt, prompt_id)
        if prompt is None:
            raise NotFound(f"prompt {prompt_id} does not exist")
        return prompt

    async def _job(self, job_id: int) -> None:
        if await self.db.run(self.store.get_job, job_id) is None:
            raise NotFound(f"job {job_id} does not exist")

    async def _job_prompts(self, job_id: int) -> list[PromptRecord]:
        prompts = await self.db.run(self.store.job_prompts, job_id)
        if not prompts:
            raise NotFound(f"job {job_id} does not exist")
        return prompts


def check_graph(graph: Any, index: int) -> None:
    """A graph must be API format: {node id: {"class_type": str, "inputs": {...}}}."""
    where = f"graphs[{index}]"
    if not isinstance(graph, dict) or not graph:
        raise InvalidRequest(f"{where}: expected a non-empty API-format graph object "
                             "(export it with ComfyUI's 'Export (API)')", {"index": index})
    for node_id, node in graph.items():
        if not isinstance(node, dict) or not isinstance(node.get("class_type"), str):
            raise InvalidRequest(
                f"{where}: node {node_id!r} has no class_type; this looks like a UI-format workflow, "
                "export it with 'Export (API)' instead", {"index": index, "node": node_id})
        inputs = node.get("inputs", {})
        if not isinstance(inputs, dict):
            raise InvalidRequest(f"{where}: node {node_id!r} inputs must be an object", {"index": index})
        for name in SEED_INPUTS:
            seed = inputs.get(name)
            if isinstance(seed, int) and not isinstance(seed, bool) and not 0 <= seed <= MAX_SEED:
                raise InvalidRequest(f"{where}: node {node_id!r} {name} {seed} is outside ComfyUI's seed range "
                                     f"0 to {MAX_SEED}", {"index": index, "node": node_id})


SEED_INPUTS = ("seed", "noise_seed")
MAX_SEED = 2**64 - 1  # ComfyUI's samplers' limit


def find_seed(graph: dict[str, Any]) -> int | None:
    """The first literal sampler seed in a graph, for display."""
    for node in graph.values():
        for name in SEED_INPUTS:
            value = node.get("inputs", {}).get(name)
            if isinstance(value, int):
                return value
    return None


class ProcessedMover:
    """After a job fully succeeded: move its source files into ``_processed/`` when it asked for that."""

    def __init__(self, *, store: SqliteQueueStore, db: DbExecutor, roots: Callable[[], AllowedRoots], file_work: Runner,
                 clock: Callable[[], float] = time.time) -> None:
        self.store, self.db, self.roots, self.clock = store, db, roots, clock
        self.file_work = file_work  # vq's file executor

    async def __call__(self, job_id: int) -> None:
        job = await self.db.run(self.store.get_job, job_id)
        if job is None or not job.options.get("move_processed"):
            return
        prompts = await self.db.run(self.store.job_prompts, job_id)
        sources = [Path(p.input_file) for p in prompts if p.input_file]
        for moved in await self.file_work(move_to_processed, sources, self.roots):
            if moved.target is not None:
                message, level = f"moved {moved.source} to {moved.target}", "info"
            else:
                message, level = f"could not move {moved.source} to _processed: {moved.problem}", "warning"
            await self.db.run(self.store.log, job_id, "processed", message, self.clock(), level=level)
