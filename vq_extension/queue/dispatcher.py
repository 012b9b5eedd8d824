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

from ..config import Settings
from ..errors import PromptError
from .executor import DbExecutor
from .feeding import Feeder
from .models import IN_COMFY, JobStatus, PromptStatus
from .outcomes import change, finish
from .ownership import Instance, why_ours
from .ports import Bridge, EventSink
from .progress import LiveProgress, WorkerState
from .records import Change, InstanceRecord, LogLine, PromptRecord, Transition
from .store import SqliteQueueStore

log = logging.getLogger("vq.dispatcher")
P = PromptStatus

PAUSED_SETTING = "paused"
MISSING_RETRY_SECONDS = 0.02  # ComfyUI announced an end before writing history: look again soon


class Dispatcher(Feeder):
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
        input_problem: Callable[[str], Awaitable[str | None]] | None = None,
        on_job_succeeded: Callable[[int], Awaitable[None]] | None = None,
        clock: Callable[[], float] = time.time,
        instance: Instance | None = None,
    ) -> None:
        self.store, self.db, self.bridge, self.events = store, db, bridge, events
        # Who this process is among the instances sharing the database (queue/ownership.py).
        self.instance = instance or Instance.here(host=settings.owner_id, port=None, started_at=clock())
        self._renewed_at: float | None = None
        self._pauses = 0  # set_paused calls here: a renewing tick's read of the setting is stale if this moved
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
        now, lease = self.clock(), self.settings.lease_seconds
        await self.db.run(self.store.heartbeat, self.instance.record(now, lease), now, lease)
        self._renewed_at = now
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
            await self._sync(now)
        changes = await self._reconcile(now)
        claim = 0
        if not self.worker.paused and now >= self._blocked_until:
            leaving = {c.prompt_id for c in changes if c.to not in IN_COMFY}
            staying = sum(1 for p in self._tracked.values() if p.id not in leaving)
            claim = max(0, self.settings.max_in_flight - staying)
        renewal = self._renewal(now)  # the lease: renewed in the same transaction every lease / 3
        if changes or claim or renewal:
            pauses = self._pauses
            result = await self.db.run(self.store.apply, changes, claim=claim, owner=self.instance.id, now=now,
                                       lease_seconds=self.settings.lease_seconds, heartbeat=renewal,
                                       read_setting=PAUSED_SETTING if renewal else None)
            for change, t in zip(changes, result.transitions):
                if t is not None:
                    self._record(t, change.log or LogLine("", ""), nudge=False)
            if renewal is not None:
                self._renewed_at = now
                if pauses == self._pauses:  # not paused or resumed here meanwhile: the stored value holds
                    await self._follow_pause(bool(result.setting))
            await self._submit_claimed(result.claimed, now)
        self.worker.in_flight = len(self._tracked)
        self.bridge.watch(self._tracked.keys())

    async def _sync(self, now: float) -> None:
        """The poll: re-read this instance's prompts in ComfyUI from the store. One that is
        no longer this instance's was taken over by another instance while this one could not
        renew its lease (hung, database locked): it must not run here too. Other instances'
        prompts whose owner is gone are recovered (queue/ownership.py)."""
        in_comfy = await self.db.run(self.store.prompts_in, IN_COMFY)
        mine = {p.comfy_prompt_id: p for p in in_comfy if p.owner == self.instance.id and p.comfy_prompt_id}
        for comfy_prompt_id in self._tracked.keys() - mine.keys():
            if self.bridge.delete_pending(comfy_prompt_id) or self.bridge.interrupt(comfy_prompt_id):
                log.warning("vq: prompt %s was taken over by another instance; removed it from this ComfyUI",
                            self._tracked[comfy_prompt_id].id)
        self._tracked = mine
        self._synced_at = now
        if len(mine) < len(in_comfy):
            await self._adopt([p for p in in_comfy if p.owner != self.instance.id], now)

    def _renewal(self, now: float) -> InstanceRecord | None:
        """This instance's row for the tick's transaction when its lease is due (every third
        of ``lease_seconds``), else None."""
        lease = self.settings.lease_seconds
        if self._renewed_at is not None and now - self._renewed_at < lease / 3:
            return None
        return self.instance.record(now, lease)

    async def _follow_pause(self, paused: bool) -> None:
        """A pause or resume set through another instance (read in the renewing tick)."""
        if paused != self.worker.paused:
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
                    where = "" if prompt.started_at else " before it started (e.g. ComfyUI's Clear queue)"
                    await self._lost(prompt, now, f"it vanished from ComfyUI's queue and history{where}")
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

    # --- pause and cancel (called by the job service) ----------------------------------

    async def set_paused(self, paused: bool) -> None:
        self._pauses += 1
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
            # Mark it running at once: only a prompt that started spends an attempt when
            # ComfyUI dies, so a prompt that crashes ComfyUI cannot be retried forever.
            self.nudge()

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
        if prompt.status in IN_COMFY and prompt.comfy_prompt_id and prompt.owner == self.instance.id:
            self._tracked[prompt.comfy_prompt_id] = prompt
        else:
            self._tracked.pop(prompt.comfy_prompt_id or "", None)
            self._missing_since.pop(prompt.id, None)
            self._interrupted_at.pop(prompt.id, None)
            self.live.drop(prompt.id)
        if line.level != "info":
            getattr(log, line.level)("vq: job %s prompt #%s %s", prompt.job_id, prompt.index + 1, line.message)
        if t.job is not None:
            log.info("vq: job %s is now %s", prompt.job_id, t.job.after.value)
            if t.job.after is JobStatus.SUCCEEDED and self.on_job_succeeded is not None:
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

