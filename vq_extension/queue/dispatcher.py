"""Feeds ComfyUI from the durable queue and brings its results back (DESIGN §4).

One asyncio task on ComfyUI's loop runs ``tick()`` whenever it is nudged (a tap event, a
submit, a resume) or the poll interval passes. A tick:
1. reconciles every prompt vq has in ComfyUI: queue first, then history (the truth);
2. enforces timeouts and repeats cancels' interrupts that ComfyUI may have lost;
3. unless paused, tops ComfyUI's queue up to ``max_in_flight`` vq prompts.
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

from ..comfy.bridge import ComfyUnavailable, Outcome
from ..config import Settings
from ..errors import PromptError
from .executor import DbExecutor
from .models import IN_COMFY, JobStatus, PromptStatus
from .ownership import Instance, why_ours
from .ports import Bridge, EventSink
from .progress import LiveProgress, WorkerState
from .records import LogLine, PromptRecord, Transition
from .store import SqliteQueueStore

log = logging.getLogger("vq.dispatcher")
P = PromptStatus

PAUSED_SETTING = "paused"
UNAVAILABLE_BACKOFF_SECONDS = 5.0


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
        instance: Instance | None = None,
    ) -> None:
        self.store, self.db, self.bridge, self.events = store, db, bridge, events
        # Who this process is among the instances sharing the database (queue/ownership.py).
        self.instance = instance or Instance.here(host=settings.owner_id, port=None, started_at=clock())
        self._renewed_at: float | None = None
        self.input_problem = input_problem  # staged name -> why ComfyUI could not load it, or None
        self.live, self.worker, self.settings, self.clock = live, worker, settings, clock
        self._nudge = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._tracked: dict[str, PromptRecord] = {}  # comfy prompt id -> vq prompt in ComfyUI
        self._missing_since: dict[int, float] = {}
        self._interrupted_at: dict[int, float] = {}
        self._blocked_until = 0.0
        self.on_job_succeeded = on_job_succeeded  # once a job has fully succeeded (the `_processed` move)
        self._after_tasks: set[asyncio.Task[None]] = set()

    # --- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        """Recover from the previous run, then run the loop as a background task."""
        self.worker.paused = bool(await self.db.run(self.store.get_setting, PAUSED_SETTING, False))
        await self._renew(self.clock(), force=True)
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
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            self.worker.error = f"dispatcher stopped: {type(exc).__name__}: {exc}"
            raise
        finally:
            self.worker.running = False

    async def _sleep(self) -> None:
        timeout = self.settings.poll_seconds if self._tracked else self.settings.idle_poll_seconds
        with suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._nudge.wait(), timeout)
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
        await self._renew(now)
        in_comfy = await self.db.run(self.store.prompts_in, IN_COMFY)
        mine = [p for p in in_comfy if p.owner == self.instance.id]
        await self._reconcile(mine, now)
        if len(mine) < len(in_comfy):
            await self._adopt([p for p in in_comfy if p.owner != self.instance.id], now)
        if not self.worker.paused and now >= self._blocked_until:
            await self._fill(now)
        self.worker.in_flight = len(self._tracked)
        self.bridge.watch(self._tracked.keys())

    async def _renew(self, now: float, *, force: bool = False) -> None:
        """Tell the other instances this one is alive and still owns its prompts (every
        third of a lease); pick up a pause set through another instance."""
        lease = self.settings.lease_seconds
        if not force and self._renewed_at is not None and now - self._renewed_at < lease / 3:
            return
        await self.db.run(self.store.heartbeat, self.instance.record(now, lease), now, lease)
        self._renewed_at = now
        paused = bool(await self.db.run(self.store.get_setting, PAUSED_SETTING, False))
        if paused != self.worker.paused and not force:
            self.worker.paused = paused
            if paused:
                await self.pull_back_queued()
            self.events.queue()

    async def _adopt(self, others: list[PromptRecord], now: float) -> None:
        """Another instance's prompts: recover those whose owner is gone (see ownership.py)."""
        instances = await self.db.run(self.store.instances)
        for prompt in others:
            found = why_ours(self.instance, prompt, instances, now)
            if found is not None:
                why, lease_before = found
                where = "running" if prompt.started_at else "waiting in ComfyUI's queue"
                await self._lost(prompt, now, f"{why} while it was {where}", lease_before=lease_before)

    async def _reconcile(self, in_comfy: list[PromptRecord], now: float) -> None:
        """This instance's prompts in ComfyUI: follow each to its end."""
        previous = self._tracked
        self._tracked = {p.comfy_prompt_id: p for p in in_comfy if p.comfy_prompt_id}
        for comfy_prompt_id in previous.keys() - self._tracked.keys():
            # Taken over by another instance while this one could not renew its lease (hung,
            # database locked): it is someone else's now, so it must not run here too.
            if self.bridge.delete_pending(comfy_prompt_id) or self.bridge.interrupt(comfy_prompt_id):
                log.warning("vq: prompt %s was taken over by another instance; removed it from this ComfyUI",
                            previous[comfy_prompt_id].id)
        if not in_comfy:
            return
        snapshot = self.bridge.snapshot()  # queue first, then history: never a false "missing"
        for prompt in in_comfy:
            comfy_prompt_id = prompt.comfy_prompt_id or ""
            if comfy_prompt_id in snapshot.running:
                self._missing_since.pop(prompt.id, None)
                await self._while_running(prompt, now)
            elif comfy_prompt_id in snapshot.pending:
                self._missing_since.pop(prompt.id, None)
                if prompt.status is P.CANCELING and self.bridge.delete_pending(comfy_prompt_id):
                    await self._apply(prompt, P.CANCELED, now, "canceled", "removed from ComfyUI's queue")
            else:
                outcome = self.bridge.outcome(comfy_prompt_id)
                if outcome is not None:
                    self._missing_since.pop(prompt.id, None)
                    await self._finish(prompt, outcome, now)
                elif now - self._missing_since.setdefault(prompt.id, now) >= self.settings.lost_grace_seconds:
                    where = "" if prompt.started_at else " before it started (e.g. ComfyUI's Clear queue)"
                    await self._lost(prompt, now, f"it vanished from ComfyUI's queue and history{where}")

    async def _while_running(self, prompt: PromptRecord, now: float) -> None:
        if prompt.status is P.QUEUED:
            t = await self._apply(prompt, P.RUNNING, now, "started", "ComfyUI started it")
            prompt = t.prompt if t else prompt
        timeout = self.settings.prompt_timeout_seconds
        if prompt.status is P.RUNNING and timeout and prompt.started_at and now - prompt.started_at > timeout:
            await self.cancel_in_comfy(prompt, reason="timeout")
        elif prompt.status is P.CANCELING:
            sent = self._interrupted_at.get(prompt.id, 0.0)
            if now - sent >= self.settings.reinterrupt_seconds:
                # An interrupt set between ComfyUI taking the prompt and starting it is lost.
                self._interrupted_at[prompt.id] = now
                self.bridge.interrupt(prompt.comfy_prompt_id or "")

    async def _finish(self, prompt: PromptRecord, outcome: Outcome, now: float) -> None:
        timed_out = prompt.cancel_reason == "timeout"
        if outcome.status == "succeeded":
            count = len(outcome.outputs)
            await self._apply(prompt, P.SUCCEEDED, now, "succeeded", f"succeeded with {count} output file(s)",
                              outputs=outcome.outputs, started_at=outcome.started_at)
        elif outcome.status == "failed" and not timed_out:
            error = outcome.error or PromptError("execution_error", "ComfyUI reported an error")
            where = f" in node {error.node_id} ({error.node_type})" if error.node_id else ""
            await self._apply(prompt, P.FAILED, now, "failed", f"failed{where}: {error.message}",
                              error=error, outputs=outcome.outputs, started_at=outcome.started_at, level="error")
        elif timed_out:
            limit = self.settings.prompt_timeout_seconds
            error = PromptError("timeout", f"ran longer than the {limit:g} s prompt timeout and was interrupted")
            await self._apply(prompt, P.FAILED, now, "timeout", error.message, error=error, level="error")
        elif prompt.status is P.CANCELING:
            await self._apply(prompt, P.CANCELED, now, "canceled", "interrupted as asked")
        else:
            error = PromptError("interrupted", "interrupted in ComfyUI from outside vq (e.g. its Cancel button)")
            await self._apply(prompt, P.CANCELED, now, "canceled", error.message, error=error, level="warning")

    async def _lost(self, prompt: PromptRecord, now: float, why: str, *, lease_before: float | None = None) -> None:
        """ComfyUI no longer has the prompt: back to pending (an attempt used only if it had
        started) or failed when its attempts are used up, in one transaction."""
        if prompt.status is P.CANCELING:
            await self._apply(prompt, P.CANCELED, now, "canceled", f"canceled; {why}")
            return
        t = await self.db.run(self.store.lose, prompt.id, now, comfy_prompt_id=prompt.comfy_prompt_id or "",
                              owner=prompt.owner, why=why, lease_before=lease_before)
        if t is not None:
            self._record(t, t.line or LogLine("requeued", why, "warning"))

    async def recover(self) -> None:
        """At start-up: what this instance's previous run had in ComfyUI is lost with
        ComfyUI's queue, and so is what an instance that stopped renewing had; prompts
        left ``interrupted`` (an older vq's crash between two steps) are resolved too."""
        now = self.clock()
        in_comfy = await self.db.run(self.store.prompts_in, IN_COMFY)
        await self._adopt([p for p in in_comfy if p.owner != self.instance.id], now)
        for prompt in await self.db.run(self.store.prompts_in, [P.INTERRUPTED]):
            t = await self.db.run(self.store.resolve_interrupted, prompt.id, now)
            if t is not None:
                self._record(t, t.line or LogLine("requeued", "left interrupted", "warning"))

    async def _fill(self, now: float) -> None:
        while len(self._tracked) < self.settings.max_in_flight:
            prompt = await self.db.run(
                self.store.claim_next, owner=self.instance.id, now=now, lease_seconds=self.settings.lease_seconds
            )
            if prompt is None:
                return
            if not await self._submit(prompt, now):
                return
            if self.worker.paused:  # paused while that submit was under way: take it back out
                await self.pull_back_queued()
                return

    async def _submit(self, prompt: PromptRecord, now: float) -> bool:
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
        graph = await self.db.run(self.store.get_graph, prompt.id)
        extra = {"vq": {"job_id": prompt.job_id, "prompt_id": prompt.id, "attempt": prompt.attempt}}
        try:
            result = await self.bridge.submit(graph or {}, comfy_prompt_id=comfy_prompt_id, extra_data=extra)
        except ComfyUnavailable as exc:
            return await self._pull_back(prompt, now, str(exc))
        except Exception as exc:
            if self._in_comfy(comfy_prompt_id):
                # Raised after ComfyUI took it: it runs there, so keep it queued and tracked.
                log.warning("vq: submitting prompt %s raised, but ComfyUI has it; tracking it", prompt.id,
                            exc_info=True)
                self.events.prompt(prompt)
                return True
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

    def _in_comfy(self, comfy_prompt_id: str) -> bool:
        """Does ComfyUI have the prompt (queued, running or finished)? Queue first, then history."""
        try:
            return comfy_prompt_id in self.bridge.snapshot() or self.bridge.outcome(comfy_prompt_id) is not None
        except Exception:
            log.exception("vq: could not read ComfyUI's queue")
            return False

    async def _pull_back(self, prompt: PromptRecord, now: float, why: str) -> bool:
        self._tracked.pop(prompt.comfy_prompt_id or "", None)
        self._blocked_until = now + UNAVAILABLE_BACKOFF_SECONDS
        line = LogLine("unavailable", f"ComfyUI could not take it, will retry: {why}", "warning")
        t = await self.db.run(self.store.pull_back, prompt.id, prompt.comfy_prompt_id or "", now, log=line)
        if t:
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
            if prompt.owner != self.instance.id:
                continue  # in another instance's ComfyUI: that instance pulls it back
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

    # --- events from ComfyUI (on the loop, via the bridge's tap) -------------------------

    def _on_comfy_event(self, event: str, comfy_prompt_id: str, payload: dict[str, Any]) -> None:
        prompt = self._tracked.get(comfy_prompt_id)
        if prompt is None:
            return
        if event == "progress":
            self.live.update(prompt.id, prompt.job_id, value=payload.get("value", 0), max=payload.get("max", 0),
                             node=payload.get("node"))
            self.events.prompt(prompt)
        elif event == "executing":
            self.live.update(prompt.id, prompt.job_id, node=payload.get("node"))
        else:  # started or ended: reconcile now rather than at the next poll
            self.nudge()

    # --- helpers -----------------------------------------------------------------------

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

    def _record(self, t: Transition, line: LogLine) -> None:
        """Follow up a transition the store made (and logged): tracking, events, hooks."""
        prompt = t.prompt
        if prompt.status in IN_COMFY and prompt.comfy_prompt_id and prompt.owner == self.instance.id:
            self._tracked[prompt.comfy_prompt_id] = prompt
        else:
            self._tracked.pop(prompt.comfy_prompt_id or "", None)
            self._missing_since.pop(prompt.id, None)
            self._interrupted_at.pop(prompt.id, None)
            self.live.drop(prompt.id)
        if line.level != "info":
            getattr(log, line.level)("vq: job %s prompt #%s %s", prompt.job_id, prompt.index + 1, line.message)
        if t.job_changed:
            log.info("vq: job %s is now %s", prompt.job_id, t.job_after.value)
            if t.job_after is JobStatus.SUCCEEDED and self.on_job_succeeded is not None:
                task = asyncio.get_running_loop().create_task(self._after_success(prompt.job_id))
                self._after_tasks.add(task)
                task.add_done_callback(self._after_tasks.discard)
        self.events.prompt(prompt)
        self.nudge()

    async def _after_success(self, job_id: int) -> None:
        try:
            await self.on_job_succeeded(job_id)  # type: ignore[misc]
        except Exception:
            log.exception("vq: after-success step of job %s failed", job_id)
