"""Feeds ComfyUI from the durable queue and brings its results back (DESIGN §4).

One asyncio task on ComfyUI's loop runs ``tick()`` whenever it is nudged (a prompt ended
in ComfyUI, a submit, a resume) or the poll interval passes. A tick:
1. reconciles every prompt vq has in ComfyUI: queue first, then history (the truth);
2. enforces timeouts and repeats cancels' interrupts that ComfyUI may have lost;
3. unless paused, tops ComfyUI's queue up to ``max_in_flight`` vq prompts.
Steps 1 and 3 are one DB trip and one transaction (``store.apply``); the prompts in ComfyUI
are tracked in memory, re-read once per poll interval (docs/performance.md).
All state writes go through the store's guarded transitions, so a late event or a
second worker can never double-finish a prompt.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from contextlib import suppress
from typing import Any

from ..comfy.bridge import ComfyUnavailable
from ..config import Settings
from ..errors import PromptError
from .executor import DbExecutor
from .models import IN_COMFY, JobStatus, PromptStatus
from .ports import Bridge, EventSink
from .progress import LiveProgress, WorkerState
from .outcomes import change, finish
from .records import Change, Claimed, LogLine, PromptRecord, Transition
from .store import SqliteQueueStore

log = logging.getLogger("vq.dispatcher")
P = PromptStatus

PAUSED_SETTING = "paused"
UNAVAILABLE_BACKOFF_SECONDS = 5.0
STARTED_TICK_DELAY = 0.25  # a started prompt is marked running at most this late (if it still runs)
MISSING_RETRY_SECONDS = 0.02  # ComfyUI announced an end before writing history: look again soon
LEASE_SECONDS = 24 * 3600


class Dispatcher:
    def __init__(
        self,
        *,
        store: SqliteQueueStore,
        db: DbExecutor,
        bridge: Bridge,
        events: EventSink,
        live: LiveProgress,
        worker: WorkerState,
        settings: Settings,
        input_problem: Callable[[str], str | None] | None = None,
        on_job_succeeded: Callable[[int], Awaitable[None]] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store, self.db, self.bridge, self.events = store, db, bridge, events
        self.input_problem = input_problem  # staged name -> why ComfyUI could not load it, or None
        self.live, self.worker, self.settings, self.clock = live, worker, settings, clock
        self._nudge = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._tracked: dict[str, PromptRecord] = {}  # comfy prompt id -> vq prompt in ComfyUI
        self._missing_since: dict[int, float] = {}
        self._interrupted_at: dict[int, float] = {}
        self._blocked_until = 0.0
        self._synced_at = float("-inf")  # when _tracked was last re-read from the store
        self._later: asyncio.TimerHandle | None = None  # one pending delayed nudge at most
        self.on_job_succeeded = on_job_succeeded  # once a job has fully succeeded (the `_processed` move)
        self._after_tasks: set[asyncio.Task[None]] = set()

    # --- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        """Recover from the previous run, then run the loop as a background task."""
        self.worker.paused = bool(await self.db.run(self.store.get_setting, PAUSED_SETTING, False))
        await self.recover()
        self.bridge.install_tap(self._on_comfy_event)
        self._task = asyncio.get_running_loop().create_task(self._run(), name="vq-dispatcher")

    async def stop(self) -> None:
        self._stopping = True
        self._nudge.set()
        if self._task is not None:
            with suppress(asyncio.CancelledError):
                await self._task
        if self._after_tasks:
            await asyncio.gather(*self._after_tasks, return_exceptions=True)
        await self.events.drain()

    def nudge(self) -> None:
        self._nudge.set()

    async def _run(self) -> None:
        self.worker.running = True
        try:
            while not self._stopping:
                try:
                    await self.tick()
                except Exception as exc:  # one bad tick must not stop the queue
                    log.exception("vq: dispatcher tick failed")
                    self.worker.error = f"{type(exc).__name__}: {exc}"
                else:
                    self.worker.error = None
                await self._sleep()
        except BaseException as exc:
            if isinstance(exc, asyncio.CancelledError):
                raise
            self.worker.error = f"dispatcher stopped: {type(exc).__name__}: {exc}"
            raise
        finally:
            self.worker.running = False

    async def _sleep(self) -> None:
        with suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._nudge.wait(), self.settings.poll_seconds if self._tracked
                                   else self.settings.idle_poll_seconds)
        self._nudge.clear()

    async def run_until_idle(self, timeout: float = 10.0) -> None:
        """Tick until nothing is pending or in flight (tests and benchmarks)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            await self.tick()
            totals = await self.db.run(self.store.prompt_totals)
            busy = sum(n for s, n in totals.items() if s in IN_COMFY)
            if not busy and (self.worker.paused or not totals.get(P.PENDING)):
                await self.events.drain()
                return
            await asyncio.sleep(0.005)
        raise TimeoutError(f"queue not idle after {timeout}s: {await self.db.run(self.store.prompt_totals)}")

    # --- the tick ----------------------------------------------------------------------

    async def tick(self) -> None:
        now = self.clock()
        if now - self._synced_at >= self.settings.poll_seconds:  # the poll: trust the store, not memory
            in_comfy = await self.db.run(self.store.prompts_in, IN_COMFY)
            self._tracked = {p.comfy_prompt_id: p for p in in_comfy if p.comfy_prompt_id}
            self._synced_at = now
        changes = await self._reconcile(now)
        claim = 0
        if not self.worker.paused and now >= self._blocked_until:
            leaving = {c.prompt_id for c in changes if c.to not in IN_COMFY}
            staying = sum(1 for p in self._tracked.values() if p.id not in leaving)
            claim = max(0, self.settings.max_in_flight - staying)
        if changes or claim:
            result = await self.db.run(self.store.apply, changes, claim=claim, owner=self.settings.owner_id,
                                       now=now, lease_seconds=LEASE_SECONDS)
            for change, t in zip(changes, result.transitions):
                if t is not None:
                    self._record(t, change.log or LogLine("", ""), nudge=False)
            await self._submit_claimed(result.claimed, now)
        self.worker.in_flight = len(self._tracked)
        self.bridge.watch(self._tracked.keys())

    async def _reconcile(self, now: float) -> list[Change]:
        """ComfyUI's news of the tracked prompts as transitions (lost prompts, timeouts: done here)."""
        if not self._tracked:
            return []
        changes: list[Change] = []
        snapshot = self.bridge.snapshot()  # queue first, then history: never a false "missing"
        for prompt in list(self._tracked.values()):
            comfy_prompt_id = prompt.comfy_prompt_id or ""
            if comfy_prompt_id in snapshot.running:
                self._missing_since.pop(prompt.id, None)
                changes += await self._while_running(prompt, now)
            elif comfy_prompt_id in snapshot.pending:
                self._missing_since.pop(prompt.id, None)
                if prompt.status is P.CANCELING and self.bridge.delete_pending(comfy_prompt_id):
                    changes.append(change(prompt, P.CANCELED, "canceled", "removed from ComfyUI's queue"))
            else:
                outcome = self.bridge.outcome(comfy_prompt_id)
                if outcome is not None:
                    self._missing_since.pop(prompt.id, None)
                    changes.append(finish(prompt, outcome, self.settings.prompt_timeout_seconds))
                elif now - self._missing_since.setdefault(prompt.id, now) >= self.settings.lost_grace_seconds:
                    await self._lost(prompt, now, "it vanished from ComfyUI's queue and history")
                else:
                    self._nudge_later(MISSING_RETRY_SECONDS)
        return changes

    async def _while_running(self, prompt: PromptRecord, now: float) -> list[Change]:
        if prompt.status is P.QUEUED:
            return [change(prompt, P.RUNNING, "started", "ComfyUI started it")]
        timeout = self.settings.prompt_timeout_seconds
        if prompt.status is P.RUNNING and timeout and prompt.started_at and now - prompt.started_at > timeout:
            await self.cancel_in_comfy(prompt, reason="timeout")
        elif prompt.status is P.CANCELING:
            sent = self._interrupted_at.get(prompt.id, 0.0)
            if now - sent >= self.settings.reinterrupt_seconds:
                # An interrupt set between ComfyUI taking the prompt and starting it is lost.
                self._interrupted_at[prompt.id] = now
                self.bridge.interrupt(prompt.comfy_prompt_id or "")
        return []

    async def _lost(self, prompt: PromptRecord, now: float, why: str) -> None:
        """ComfyUI no longer knows the prompt: back to pending while attempts remain."""
        if prompt.status is P.CANCELING:
            await self._apply(prompt, P.CANCELED, now, "canceled", f"canceled; {why}")
            return
        error = PromptError("interrupted", f"attempt {prompt.attempt} was interrupted: {why}")
        t = await self._apply(prompt, P.INTERRUPTED, now, "interrupted", error.message, error=error, level="warning")
        if t is None:
            return
        if prompt.attempt < prompt.max_attempts:
            line = LogLine("requeued", f"back to pending for attempt {prompt.attempt + 1}")
            requeued = await self.db.run(self.store.requeue, prompt.id, now, budget=0, log=line)
            if requeued:
                self._record(requeued, line)
        else:
            final = PromptError(
                "interrupted_repeatedly",
                f"interrupted repeatedly ({prompt.attempt} of {prompt.max_attempts} attempts); last: {why}. "
                "If it crashes ComfyUI, check its inputs; retry it when fixed.",
            )
            await self._apply(t.prompt, P.FAILED, now, "failed", final.message, error=final, level="error")

    async def recover(self) -> None:
        """At start-up ComfyUI's queue is empty: whatever vq had there is lost."""
        now = self.clock()
        for prompt in await self.db.run(self.store.prompts_in, IN_COMFY):
            await self._lost(prompt, now, f"ComfyUI restarted while it was {prompt.status.value}")

    async def _submit_claimed(self, claimed: list[Claimed], now: float) -> None:
        for i, c in enumerate(claimed):
            if self.worker.paused:  # paused during a submit: the rest back to pending, unsubmitted
                line = LogLine("paused", "not handed to ComfyUI (queue paused)")
                for t in [await self.db.run(self.store.pull_back, r.prompt.id, r.prompt.comfy_prompt_id, now, log=line)
                          for r in claimed[i:]]:
                    t and self._record(t, line, nudge=False)
                break
            if not await self._submit(c.prompt, c.graph, now):
                for rest in claimed[i + 1:]:  # ComfyUI cannot take work now: back to pending
                    await self._pull_back(rest.prompt, now, "ComfyUI could not take work")
                return
        if claimed and self.worker.paused:  # and those it had submitted: take them back out
            await self.pull_back_queued()

    async def _submit(self, prompt: PromptRecord, graph: dict[str, Any], now: float) -> bool:
        """Hand one claimed prompt to ComfyUI; False when ComfyUI cannot take work now."""
        comfy_prompt_id = prompt.comfy_prompt_id or ""
        self._tracked[comfy_prompt_id] = prompt
        self.bridge.watch(self._tracked.keys())
        if prompt.staged_name and self.input_problem is not None:
            problem = await asyncio.to_thread(self.input_problem, prompt.staged_name)
            if problem is not None:
                self._tracked.pop(comfy_prompt_id, None)
                error = PromptError("missing_input", f"{problem} (original: {prompt.input_file})")
                await self._apply(prompt, P.FAILED, now, "failed", error.message, error=error, level="error")
                return True
        extra = {"vq": {"job_id": prompt.job_id, "prompt_id": prompt.id, "attempt": prompt.attempt}}
        try:
            result = await self.bridge.submit(graph or {}, comfy_prompt_id=comfy_prompt_id, extra_data=extra)
        except ComfyUnavailable as exc:
            return await self._pull_back(prompt, now, str(exc))
        except Exception as exc:
            log.exception("vq: submitting prompt %s failed", prompt.id)
            error = PromptError("submit_error", f"ComfyUI raised while queueing it: {type(exc).__name__}: {exc}")
            self._tracked.pop(comfy_prompt_id, None)
            await self._apply(prompt, P.FAILED, now, "failed", error.message, error=error, level="error")
            return True
        if not result.accepted:
            self._tracked.pop(comfy_prompt_id, None)
            error = result.error or PromptError("invalid_prompt", "ComfyUI refused the prompt")
            await self._apply(prompt, P.FAILED, now, "invalid", f"ComfyUI refused it: {error.message}",
                              error=error, level="error")
            return True
        self.events.prompt(prompt)
        return True

    async def _pull_back(self, prompt: PromptRecord, now: float, why: str) -> bool:
        self._tracked.pop(prompt.comfy_prompt_id or "", None)
        self._blocked_until = now + UNAVAILABLE_BACKOFF_SECONDS
        line = LogLine("unavailable", f"ComfyUI could not take it, will retry: {why}", "warning")
        if t := await self.db.run(self.store.pull_back, prompt.id, prompt.comfy_prompt_id or "", now, log=line):
            self._record(t, line)
        return False

    # --- pause and cancel (called by the job service) ----------------------------------

    async def set_paused(self, paused: bool) -> None:
        await self.db.run(self.store.set_setting, PAUSED_SETTING, paused)
        self.worker.paused = paused
        if paused:
            await self.pull_back_queued()
        self.events.queue()
        self.nudge()

    async def pull_back_queued(self) -> int:
        """Take vq prompts ComfyUI has not started back out of its queue (pause)."""
        now = self.clock()
        pulled = 0
        for prompt in await self.db.run(self.store.prompts_in, [P.QUEUED]):
            comfy_prompt_id = prompt.comfy_prompt_id or ""
            if self.bridge.delete_pending(comfy_prompt_id):
                self._tracked.pop(comfy_prompt_id, None)
                line = LogLine("paused", "taken back out of ComfyUI's queue (queue paused)")
                t = await self.db.run(self.store.pull_back, prompt.id, comfy_prompt_id, now, log=line)
                if t:
                    pulled += 1
                    self._record(t, line)
        self.worker.in_flight = len(self._tracked)
        return pulled

    async def cancel_in_comfy(self, prompt: PromptRecord, *, reason: str = "user") -> Transition | None:
        """Cancel a queued or running prompt: delete it if ComfyUI has not started it,
        else interrupt exactly it and let the reconciler confirm."""
        now = self.clock()
        comfy_prompt_id = prompt.comfy_prompt_id or ""
        if prompt.status is P.QUEUED and reason == "user" and self.bridge.delete_pending(comfy_prompt_id):
            self._tracked.pop(comfy_prompt_id, None)
            return await self._apply(prompt, P.CANCELED, now, "canceled", "removed from ComfyUI's queue")
        t = await self._apply(prompt, P.CANCELING, now, "canceling",
                              "timed out; interrupting it" if reason == "timeout" else "interrupting it",
                              cancel_reason=reason)
        if t is not None:
            self._interrupted_at[prompt.id] = now
            if not self.bridge.interrupt(comfy_prompt_id) and self.bridge.delete_pending(comfy_prompt_id):
                # it had not started after all: nothing to interrupt
                return await self._apply(t.prompt, P.CANCELED, now, "canceled", "removed from ComfyUI's queue")
            self.nudge()
        return t

    def _on_comfy_event(self, event: str, comfy_prompt_id: str, payload: dict[str, Any]) -> None:
        prompt = self._tracked.get(comfy_prompt_id)
        if prompt is None:
            return
        if event == "progress" or (event == "executing" and payload.get("node") is not None):
            self.live.update(prompt.id, prompt.job_id, **{k: payload[k] for k in ("value", "max", "node") if k in payload})
            self.events.progress(prompt)
        elif event in ("executing", "execution_error", "execution_interrupted"):
            # ``executing`` {node: None} follows the history write (0.8.0's prompt_worker): the real end
            self.nudge()
        elif event == "execution_start":
            # Only to mark it running: a short prompt ends (and is reconciled) before this fires.
            self._nudge_later(STARTED_TICK_DELAY)

    def _nudge_later(self, delay: float) -> None:
        loop = asyncio.get_running_loop()
        if self._later is None or not loop.time() < self._later.when() <= loop.time() + delay:
            self._later = loop.call_later(delay, self.nudge)  # none pending, or this one is sooner

    async def _apply(
        self,
        prompt: PromptRecord,
        to: PromptStatus,
        now: float,
        event: str,
        message: str,
        *,
        error: PromptError | None = None,
        outputs: list[dict[str, Any]] | None = None,
        cancel_reason: str | None = None,
        started_at: float | None = None,
        level: str = "info",
    ) -> Transition | None:
        line = LogLine(event, message, level)
        t = await self.db.run(
            self.store.transition, prompt.id, to, now, comfy_prompt_id=prompt.comfy_prompt_id,
            error=error, outputs=outputs, cancel_reason=cancel_reason, started_at=started_at, log=line,
        )
        if t is None:
            log.debug("vq: prompt %s: %s -> %s did not apply", prompt.id, prompt.status, to)
            return None
        self._record(t, line)
        return t

    def _record(self, t: Transition, line: LogLine, *, nudge: bool = True) -> None:
        """Follow up a transition the store made (and logged): tracking, events, hooks."""
        prompt = t.prompt
        if prompt.status in IN_COMFY and prompt.comfy_prompt_id:
            self._tracked[prompt.comfy_prompt_id] = prompt
        else:
            self._tracked.pop(prompt.comfy_prompt_id or "", None)
            self._missing_since.pop(prompt.id, None)
            self._interrupted_at.pop(prompt.id, None)
            self.live.drop(prompt.id)
        if line.level != "info":
            getattr(log, line.level)("vq: job %s prompt #%s %s", prompt.job_id, prompt.index, line.message)
        if t.job_changed:
            log.info("vq: job %s is now %s", prompt.job_id, t.job_after.value)
            if t.job_after is JobStatus.SUCCEEDED and self.on_job_succeeded is not None:
                task = asyncio.get_running_loop().create_task(self._after_success(prompt.job_id))
                self._after_tasks.add(task)
                task.add_done_callback(self._after_tasks.discard)
        self.events.prompt(prompt)
        if nudge:
            self.nudge()

    async def _after_success(self, job_id: int) -> None:
        try:
            await self.on_job_succeeded(job_id)  # type: ignore[misc]
        except Exception:
            log.exception("vq: after-success step of job %s failed", job_id)

