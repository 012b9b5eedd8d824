"""The dispatcher's submitting half (``Feeder``, mixed into ``dispatcher.Dispatcher``): hand
the prompts a tick claimed to ComfyUI, one by one, and put back what ComfyUI cannot take."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from ..comfy.bridge import ComfyUnavailable
from ..errors import PromptError
from .executor import DbExecutor
from .models import PromptStatus
from .ports import Bridge, EventSink
from .progress import WorkerState
from .records import Claimed, LogLine, PromptRecord, Transition
from .store import SqliteQueueStore

log = logging.getLogger("vq.dispatcher")
P = PromptStatus

UNAVAILABLE_BACKOFF_SECONDS = 5.0


class Feeder:
    store: SqliteQueueStore
    db: DbExecutor
    bridge: Bridge
    events: EventSink
    worker: WorkerState
    input_problem: Callable[[str], Awaitable[str | None]] | None
    _tracked: dict[str, PromptRecord]
    _blocked_until: float

    # provided by the dispatcher
    def _record(self, t: Transition, line: LogLine, *, nudge: bool = True) -> None:
        raise NotImplementedError

    async def _apply(self, prompt: PromptRecord, to: PromptStatus, now: float, event: str, message: str,
                     **kwargs: Any) -> Transition | None:
        raise NotImplementedError

    async def pull_back_queued(self) -> int:
        raise NotImplementedError

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
            problem = await self.input_problem(prompt.staged_name)
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
        if t := await self.db.run(self.store.pull_back, prompt.id, prompt.comfy_prompt_id or "", now, log=line):
            self._record(t, line)
        return False
