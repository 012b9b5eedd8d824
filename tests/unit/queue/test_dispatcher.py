"""Dispatcher.tick() against an in-memory ComfyUI (tests/fixtures/fake_bridge.py), a real
SQLite store on a tmp path and a clock the test moves: each case is a few ticks, with no
loop task, no sleeping and no ComfyUI (DESIGN §4)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.fake_bridge import FakeBridge
from vq_extension.config import Settings
from vq_extension.errors import PromptError
from vq_extension.queue.dispatcher import Dispatcher
from vq_extension.queue.executor import DbExecutor
from vq_extension.queue.feeding import UNAVAILABLE_BACKOFF_SECONDS
from vq_extension.queue.models import JobStatus, PromptStatus
from vq_extension.queue.ownership import Instance
from vq_extension.queue.progress import LiveProgress, WorkerState
from vq_extension.queue.records import NewJob, NewPrompt, PromptRecord
from vq_extension.queue.store import SqliteQueueStore

P = PromptStatus
J = JobStatus
T0 = 1_700_000_000.0
OUTPUT = {"kind": "image", "filename": "up_00001_.png", "subfolder": "vq", "type": "output"}


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class RecordingEvents:
    """The EventSink: what the dispatcher announced, in order."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.changed = asyncio.Event()  # set on every prompt event (tests that run the loop wait on it)

    def job(self, job_id: int) -> None:
        self.calls.append(("job", job_id))

    def prompt(self, prompt: PromptRecord) -> None:
        self.calls.append(("prompt", prompt.id, prompt.status))
        self.changed.set()

    async def until(self, prompt_id: int, status: PromptStatus) -> None:
        """Wait (on the dispatcher's own loop task, not on time) until ``prompt_id`` was announced
        in ``status``; the timeout only turns a hang into a failure."""
        async def seen() -> None:
            while status not in self.statuses(prompt_id):
                self.changed.clear()
                await self.changed.wait()
        await asyncio.wait_for(seen(), 10)

    def progress(self, prompt: PromptRecord) -> None:
        self.calls.append(("progress", prompt.id))

    def queue(self) -> None:
        self.calls.append(("queue",))

    async def drain(self) -> None:
        self.calls.append(("drain",))

    def statuses(self, prompt_id: int) -> list[PromptStatus]:
        return [c[2] for c in self.calls if c[0] == "prompt" and c[1] == prompt_id]


class Rig:
    """One dispatcher and everything around it; ``restart()`` builds a new dispatcher on
    the same database with a fresh ComfyUI, as a ComfyUI restart would."""

    def __init__(self, tmp_path: Path, **settings: Any) -> None:
        self.clock = Clock()
        self.store = SqliteQueueStore(tmp_path / "vq.sqlite3")
        self.db = DbExecutor()
        self.settings = Settings(owner_id="unit", **settings)
        self.succeeded_jobs: list[int] = []
        self.dispatcher = self._new_dispatcher()

    def _new_dispatcher(self) -> Dispatcher:
        self.bridge, self.events = FakeBridge(), RecordingEvents()
        self.live, self.worker = LiveProgress(), WorkerState()

        async def on_job_succeeded(job_id: int) -> None:
            self.succeeded_jobs.append(job_id)

        return Dispatcher(store=self.store, db=self.db, bridge=self.bridge, events=self.events, live=self.live,
                          worker=self.worker, settings=self.settings, on_job_succeeded=on_job_succeeded,
                          clock=self.clock)

    def restart(self) -> Dispatcher:
        self.dispatcher = self._new_dispatcher()
        return self.dispatcher

    def job(self, n: int = 1, *, priority: int = 0, max_attempts: int = 2, name: str = "job") -> int:
        prompts = [NewPrompt(graph={"1": {"class_type": "Noop", "inputs": {"i": i}}}, max_attempts=max_attempts)
                   for i in range(n)]
        job_id = self.store.create_job(NewJob(name=name, priority=priority), prompts, self.clock())
        self.clock.advance(1)  # creation order is by time
        return job_id

    async def tick(self) -> None:
        await self.dispatcher.tick()

    def prompt(self, job_id: int, index: int = 0) -> PromptRecord:
        return self.store.job_prompts(job_id)[index]

    def statuses(self, job_id: int) -> list[PromptStatus]:
        return [p.status for p in self.store.job_prompts(job_id)]

    def cid(self, job_id: int, index: int = 0) -> str:
        cid = self.prompt(job_id, index).comfy_prompt_id
        assert cid, "not handed to ComfyUI"
        return cid

    def submitted(self) -> list[tuple[int, int]]:
        """(job id, prompt index) of every submit, in order."""
        by_id = {p.id: (p.job_id, p.index) for j in self.store.list_jobs(limit=100)[0]
                 for p in self.store.job_prompts(j.id)}
        return [by_id[s.vq_prompt_id] for s in self.bridge.submitted]

    def log(self, job_id: int) -> list[tuple[str, str]]:
        return [(e.event, e.message) for e in self.store.read_log(job_id)]


@pytest.fixture
async def make_rig(tmp_path: Path) -> AsyncIterator[Callable[..., Rig]]:
    rigs: list[Rig] = []

    def make(**settings: Any) -> Rig:
        rigs.append(Rig(tmp_path / str(len(rigs)), **settings))
        return rigs[-1]

    yield make
    for rig in rigs:
        await rig.dispatcher.stop()
        rig.db.close()
        rig.store.close()


@pytest.fixture
async def rig(make_rig: Callable[..., Rig]) -> Rig:
    return make_rig()


# --- submitting ---------------------------------------------------------------------------


async def test_submits_up_to_max_in_flight_in_claim_order(make_rig: Callable[..., Rig]) -> None:
    rig = make_rig(max_in_flight=3)
    old = rig.job(2, name="old")
    urgent = rig.job(2, priority=5, name="urgent")
    new = rig.job(1, name="new")
    await rig.tick()
    # priority first, then the older job, then prompt index
    assert rig.submitted() == [(urgent, 0), (urgent, 1), (old, 0)]
    assert rig.bridge.pending == [rig.cid(urgent, 0), rig.cid(urgent, 1), rig.cid(old, 0)]
    assert rig.statuses(urgent) == [P.QUEUED, P.QUEUED] and rig.statuses(new) == [P.PENDING]
    first = rig.bridge.submitted[0]
    assert first.extra_data == {"vq": {"job_id": urgent, "prompt_id": rig.prompt(urgent).id, "attempt": 1}}
    assert first.graph == {"1": {"class_type": "Noop", "inputs": {"i": 0}}}
    assert rig.worker.in_flight == 3 and rig.bridge.watched == set(rig.bridge.pending)

    await rig.tick()  # full: nothing more
    assert len(rig.bridge.submitted) == 3

    rig.bridge.succeed(rig.bridge.start())
    await rig.tick()
    assert rig.submitted()[3:] == [(old, 1)]
    rig.bridge.succeed(rig.bridge.start())
    await rig.tick()
    assert rig.submitted()[4:] == [(new, 0)]


async def test_finished_prompt_succeeds_with_its_outputs(rig: Rig) -> None:
    job_id = rig.job(1)
    await rig.tick()
    cid = rig.bridge.start()
    rig.clock.advance(2)
    await rig.tick()
    prompt = rig.prompt(job_id)
    assert prompt.status is P.RUNNING and prompt.started_at == rig.clock.now
    rig.clock.advance(5)
    rig.bridge.succeed(cid, outputs=[OUTPUT])
    await rig.tick()
    prompt = rig.prompt(job_id)
    assert prompt.status is P.SUCCEEDED and prompt.outputs == [OUTPUT] and prompt.finished_at == rig.clock.now
    assert rig.store.get_job(job_id).status is J.SUCCEEDED  # type: ignore[union-attr]
    assert rig.events.statuses(prompt.id) == [P.QUEUED, P.RUNNING, P.SUCCEEDED]
    assert ("succeeded", "prompt #1 succeeded with 1 output file(s)") in rig.log(job_id)
    assert rig.worker.in_flight == 0 and rig.bridge.watched == frozenset()


async def test_prompt_that_finished_unseen_still_succeeds_with_comfyuis_start_time(rig: Rig) -> None:
    job_id = rig.job(1)
    await rig.tick()
    rig.bridge.succeed(rig.bridge.start(), outputs=[OUTPUT], started_at=T0 + 0.5)  # between two ticks
    await rig.tick()
    prompt = rig.prompt(job_id)
    assert prompt.status is P.SUCCEEDED and prompt.started_at == T0 + 0.5


async def test_a_prompt_seen_running_late_keeps_comfyuis_start_time_once_it_ends(rig: Rig) -> None:
    job_id = rig.job(2)
    await rig.tick()
    first = rig.bridge.start()
    rig.clock.advance(0.004)  # the tick that sees it running comes a few ms after it started
    await rig.tick()
    assert rig.prompt(job_id).started_at == rig.clock.now, "while it runs: when vq saw it"
    rig.bridge.succeed(first, outputs=[OUTPUT], started_at=T0 + 1.001)  # ComfyUI's own start
    second = rig.bridge.start()
    rig.bridge.succeed(second, outputs=[OUTPUT], started_at=T0 + 1.003)  # ran next, ended unseen
    rig.clock.advance(0.01)
    await rig.tick()
    firsts, seconds = rig.store.job_prompts(job_id)
    assert (firsts.started_at, seconds.started_at) == (T0 + 1.001, T0 + 1.003), "one clock: the real order"
    assert [a.started_at for a in rig.store.attempts([firsts.id])[firsts.id]] == [T0 + 1.001]


async def test_execution_error_fails_the_prompt_with_comfyuis_error(rig: Rig) -> None:
    job_id = rig.job(2)
    await rig.tick()
    error = PromptError("RuntimeError", "CUDA out of memory", node_id="7", node_type="KSampler",
                        traceback=["line 1"])
    rig.bridge.fail(rig.bridge.start(), error)
    await rig.tick()
    prompt = rig.prompt(job_id)
    assert prompt.status is P.FAILED and prompt.error == error
    assert ("failed", "prompt #1 failed in node 7 (KSampler): CUDA out of memory") in rig.log(job_id)
    assert rig.statuses(job_id) == [P.FAILED, P.QUEUED]  # the worker moves on
    rig.bridge.succeed(rig.bridge.start())
    await rig.tick()
    assert rig.store.get_job(job_id).status is J.FAILED  # type: ignore[union-attr]


async def test_refused_submit_fails_the_prompt_and_the_next_one_goes(rig: Rig) -> None:
    job_id = rig.job(2)
    error = PromptError("prompt_outputs_failed_validation", "Prompt outputs failed validation", node_id="1",
                        node_type="LoadImage")
    rig.bridge.refuse_next(error)
    await rig.tick()
    first, second = rig.store.job_prompts(job_id)
    assert first.status is P.FAILED and first.error == error
    assert second.status is P.QUEUED and rig.bridge.pending == [second.comfy_prompt_id]
    assert first.comfy_prompt_id not in rig.bridge.watched
    assert any(event == "invalid" and "ComfyUI refused it" in message for event, message in rig.log(job_id))


async def test_comfyui_unavailable_puts_the_prompt_back_without_spending_an_attempt(rig: Rig) -> None:
    job_id = rig.job(1)
    rig.bridge.unavailable_next("HTTP 503")
    await rig.tick()
    prompt = rig.prompt(job_id)
    assert prompt.status is P.PENDING and prompt.attempt == 0 and rig.bridge.pending == []
    rig.clock.advance(UNAVAILABLE_BACKOFF_SECONDS - 0.1)
    await rig.tick()
    assert len(rig.bridge.submitted) == 1  # backing off
    rig.clock.advance(0.1)
    await rig.tick()
    assert rig.prompt(job_id).status is P.QUEUED and rig.prompt(job_id).attempt == 1


# --- lost prompts and restarts --------------------------------------------------------------


async def test_prompt_lost_from_queue_and_history_is_requeued_then_fails_when_attempts_run_out(rig: Rig) -> None:
    grace = rig.settings.lost_grace_seconds
    job_id = rig.job(1, max_attempts=2)
    await rig.tick()
    first_cid = rig.cid(job_id)
    rig.bridge.vanish(first_cid)  # lost while it waited in ComfyUI's queue (e.g. "Clear queue")
    await rig.tick()
    rig.clock.advance(grace - 0.01)
    await rig.tick()
    assert rig.prompt(job_id).status is P.QUEUED, "missing for less than the grace period"
    rig.clock.advance(0.01)
    await rig.tick()
    # it never started: back to pending without using an attempt, claimed again in the same tick
    prompt = rig.prompt(job_id)
    assert prompt.status is P.QUEUED and prompt.attempt == 1 and prompt.comfy_prompt_id != first_cid
    assert rig.bridge.pending == [prompt.comfy_prompt_id]
    attempts = rig.store.attempts([prompt.id])[prompt.id]
    assert [(a.attempt, a.status) for a in attempts] == [(1, P.QUEUED)]
    assert any("never started" in m and "no attempt used" in m for _, m in rig.log(job_id))

    for attempt in (1, 2):  # lost while running: each time costs an attempt
        rig.bridge.start()
        await rig.tick()
        rig.bridge.vanish(rig.cid(job_id))
        await rig.tick()
        rig.clock.advance(grace)
        await rig.tick()
    prompt = rig.prompt(job_id)
    assert prompt.status is P.FAILED and prompt.attempt == 2
    assert prompt.error is not None and prompt.error.type == "interrupted_repeatedly"
    assert "interrupted repeatedly while running (2 of 2 attempts)" in prompt.error.message
    attempts = rig.store.attempts([prompt.id])[prompt.id]
    assert [(a.attempt, a.status) for a in attempts] == [(1, P.INTERRUPTED), (2, P.INTERRUPTED)]
    assert attempts[0].error is not None and attempts[0].error.type == "interrupted"
    # interrupted and requeued (or failed) in one transaction: "interrupted" is never seen on its own
    assert P.INTERRUPTED not in rig.events.statuses(prompt.id)
    assert rig.bridge.pending == [] and len(rig.bridge.submitted) == 3


async def test_a_prompt_back_in_the_queue_within_the_grace_period_is_not_lost(rig: Rig) -> None:
    job_id = rig.job(1)
    await rig.tick()
    cid = rig.cid(job_id)
    rig.bridge.pending.remove(cid)
    await rig.tick()
    rig.bridge.running.append(cid)  # e.g. a snapshot taken mid-move
    rig.clock.advance(rig.settings.lost_grace_seconds)
    await rig.tick()
    rig.bridge.running.remove(cid)
    await rig.tick()
    rig.clock.advance(rig.settings.lost_grace_seconds - 0.01)
    await rig.tick()
    assert rig.prompt(job_id).status is P.RUNNING, "the missing clock restarts once it is seen again"


async def test_restart_recovers_prompts_left_queued_or_running(rig: Rig) -> None:
    job_id = rig.job(2)
    last_chance = rig.job(1, max_attempts=1)
    rig.settings.max_in_flight = 3
    await rig.tick()
    rig.bridge.start()
    await rig.tick()
    assert rig.statuses(job_id) == [P.RUNNING, P.QUEUED] and rig.statuses(last_chance) == [P.QUEUED]

    d2 = rig.restart()  # ComfyUI restarted: its queue is empty
    rig.clock.advance(60)
    await d2.recover()
    assert rig.statuses(job_id) == [P.PENDING, P.PENDING]
    # only the one that had started used an attempt
    assert [p.attempt for p in rig.store.job_prompts(job_id)] == [1, 0]
    waited = rig.prompt(last_chance)  # its only attempt was never started: not lost
    assert waited.status is P.PENDING and waited.attempt == 0
    messages = [m for _, m in rig.log(job_id)] + [m for _, m in rig.log(last_chance)]
    assert any("interrupted while running: ComfyUI restarted while it was running" in m for m in messages)
    assert any("never started: ComfyUI restarted while it was waiting in ComfyUI's queue" in m for m in messages)

    await d2.tick()
    assert [p.attempt for p in rig.store.job_prompts(job_id)] == [2, 1]
    assert rig.statuses(job_id) == [P.QUEUED, P.QUEUED] and len(rig.bridge.pending) == 3


async def test_restart_while_paused_stays_paused(rig: Rig) -> None:
    job_id = rig.job(1)
    await rig.dispatcher.set_paused(True)
    d2 = rig.restart()
    await d2.start()
    try:
        assert rig.worker.paused is True
    finally:
        await d2.stop()
    await d2.tick()
    assert rig.bridge.submitted == [] and rig.statuses(job_id) == [P.PENDING]


# --- pause and cancel -----------------------------------------------------------------------


async def test_pause_pulls_back_unstarted_prompts_and_the_running_one_finishes(rig: Rig) -> None:
    job_id = rig.job(3)
    await rig.tick()
    running_cid = rig.bridge.start()
    await rig.tick()
    waiting_cid = rig.cid(job_id, 1)

    await rig.dispatcher.set_paused(True)
    assert rig.bridge.deleted == [waiting_cid] and rig.bridge.pending == []
    assert rig.statuses(job_id) == [P.RUNNING, P.PENDING, P.PENDING]
    second = rig.prompt(job_id, 1)
    assert second.attempt == 0 and rig.store.attempts([second.id])[second.id] == []
    assert rig.store.get_setting("paused") is True and ("queue",) in rig.events.calls

    rig.bridge.succeed(running_cid)
    await rig.tick()
    assert rig.statuses(job_id) == [P.SUCCEEDED, P.PENDING, P.PENDING]
    assert len(rig.bridge.submitted) == 2, "nothing is submitted while paused"

    await rig.dispatcher.set_paused(False)
    await rig.tick()
    assert rig.statuses(job_id) == [P.SUCCEEDED, P.QUEUED, P.QUEUED]
    assert rig.prompt(job_id, 1).attempt == 1, "a pulled-back prompt has not spent an attempt"


async def test_pause_during_a_submit_takes_that_prompt_back_out(rig: Rig) -> None:
    job_id = rig.job(2)
    real_submit = rig.bridge.submit

    async def submit_then_pause(graph: dict[str, Any], **kw: Any) -> Any:
        answer = await real_submit(graph, **kw)
        rig.worker.paused = True  # set_paused ran while ComfyUI was validating this one
        return answer

    rig.bridge.submit = submit_then_pause  # type: ignore[method-assign]
    await rig.tick()
    assert len(rig.bridge.submitted) == 1 and rig.bridge.pending == []
    assert rig.statuses(job_id) == [P.PENDING, P.PENDING]


async def test_cancel_of_a_queued_prompt_deletes_it_from_comfyuis_queue(rig: Rig) -> None:
    job_id = rig.job(2)
    await rig.tick()
    queued = rig.prompt(job_id, 1)
    t = await rig.dispatcher.cancel_in_comfy(queued)
    assert t is not None and t.prompt.status is P.CANCELED
    assert rig.bridge.deleted == [queued.comfy_prompt_id] and rig.bridge.interrupts == []
    assert rig.statuses(job_id) == [P.QUEUED, P.CANCELED]
    await rig.tick()
    assert rig.statuses(job_id) == [P.QUEUED, P.CANCELED] and len(rig.bridge.submitted) == 2


async def test_cancel_of_a_running_prompt_interrupts_only_it_and_is_confirmed(rig: Rig) -> None:
    job_id = rig.job(2)
    await rig.tick()
    cid = rig.bridge.start()
    await rig.tick()
    t = await rig.dispatcher.cancel_in_comfy(rig.prompt(job_id))
    assert t is not None and t.prompt.status is P.CANCELING
    assert rig.bridge.interrupts == [(cid, True)] and rig.bridge.deleted == []

    await rig.tick()  # still running: no second interrupt before reinterrupt_seconds
    assert rig.bridge.interrupted == [cid]
    rig.clock.advance(rig.settings.reinterrupt_seconds)
    await rig.tick()  # an interrupt ComfyUI lost is sent again, to the same prompt only
    assert rig.bridge.interrupted == [cid, cid]

    rig.bridge.end_interrupted(cid)
    await rig.tick()
    prompt = rig.prompt(job_id)
    assert prompt.status is P.CANCELED and prompt.error is None
    assert ("canceled", "prompt #1 interrupted as asked") in rig.log(job_id)
    assert rig.statuses(job_id)[1] is P.QUEUED, "the other prompt is untouched"


async def test_cancel_racing_comfyui_taking_the_prompt_deletes_it_on_the_next_tick(rig: Rig) -> None:
    job_id = rig.job(1)
    await rig.tick()
    prompt = rig.prompt(job_id)
    rig.bridge.pending.remove(prompt.comfy_prompt_id)  # ComfyUI's worker is taking it...
    t = await rig.dispatcher.cancel_in_comfy(prompt)
    assert t is not None and t.prompt.status is P.CANCELING
    rig.bridge.pending.append(prompt.comfy_prompt_id)  # ...and our snapshot still sees it queued
    await rig.tick()
    assert rig.prompt(job_id).status is P.CANCELED and rig.bridge.deleted == [prompt.comfy_prompt_id]


async def test_interrupt_from_outside_vq_cancels_with_a_warning(rig: Rig) -> None:
    job_id = rig.job(1)
    await rig.tick()
    rig.bridge.end_interrupted(rig.bridge.start())
    await rig.tick()
    prompt = rig.prompt(job_id)
    assert prompt.status is P.CANCELED and prompt.error is not None and "outside vq" in prompt.error.message


async def test_prompt_running_past_the_timeout_is_interrupted_and_failed(make_rig: Callable[..., Rig]) -> None:
    rig = make_rig(prompt_timeout_seconds=60)
    job_id = rig.job(1)
    await rig.tick()
    cid = rig.bridge.start()
    await rig.tick()
    rig.clock.advance(60)
    await rig.tick()
    assert rig.prompt(job_id).status is P.RUNNING and rig.bridge.interrupts == [], "exactly the limit is allowed"
    rig.clock.advance(0.5)
    await rig.tick()
    prompt = rig.prompt(job_id)
    assert prompt.status is P.CANCELING and prompt.cancel_reason == "timeout"
    assert rig.bridge.interrupts == [(cid, True)]
    rig.bridge.end_interrupted(cid)
    await rig.tick()
    prompt = rig.prompt(job_id)
    assert prompt.status is P.FAILED and prompt.error is not None and prompt.error.type == "timeout"
    assert "60 s prompt timeout" in prompt.error.message


# --- after success and live progress --------------------------------------------------------


async def test_on_job_succeeded_runs_once_when_the_whole_job_succeeds(rig: Rig) -> None:
    job_id = rig.job(2)
    other = rig.job(1)
    await rig.tick()
    rig.bridge.succeed(rig.bridge.start())
    await rig.tick()
    await rig.dispatcher.stop()  # waits for after-success steps
    assert rig.succeeded_jobs == []
    rig.bridge.succeed(rig.bridge.start())
    await rig.tick()
    rig.bridge.fail(rig.bridge.start(), PromptError("execution_error", "boom"))
    for _ in range(3):
        await rig.tick()
    await rig.dispatcher.stop()
    assert rig.succeeded_jobs == [job_id]
    assert rig.store.get_job(other).status is J.FAILED  # type: ignore[union-attr]


async def test_progress_events_update_live_progress_and_end_events_nudge(rig: Rig) -> None:
    job_id = rig.job(1)
    await rig.dispatcher.start()
    await rig.dispatcher.stop()  # the tap stays installed; ticks below are driven by hand
    await rig.tick()
    cid = rig.bridge.start()
    await rig.tick()
    rig.bridge.emit("progress", cid, value=3, max=20, node="5")
    progress = rig.live.get(rig.prompt(job_id).id)
    assert progress is not None and (progress.value, progress.max, progress.node) == (3, 20, "5")
    assert ("progress", rig.prompt(job_id).id) in rig.events.calls
    rig.dispatcher._nudge.clear()
    rig.bridge.emit("execution_success", cid)  # before ComfyUI writes history: nothing to reconcile yet
    assert not rig.dispatcher._nudge.is_set()
    rig.bridge.emit("executing", cid, node=None)  # after the history write (0.8.0): the real end
    assert rig.dispatcher._nudge.is_set()
    rig.bridge.succeed(cid)
    await rig.tick()
    assert rig.live.get(rig.prompt(job_id).id) is None


async def test_last_prompt_of_a_job_finishes_on_its_completion_nudge_not_on_a_poll(make_rig: Callable[..., Rig]) -> None:
    # Polls far beyond the test's 10 s guard and a clock that never moves: only the tap's nudges
    # can make the running loop tick. The last prompt (nothing left to claim, nothing in flight
    # after it) must be finished by the nudge of its ``executing {node: null}``.
    rig = make_rig(poll_seconds=60, idle_poll_seconds=600)
    job_id = rig.job(2)
    first, last = rig.prompt(job_id, 0).id, rig.prompt(job_id, 1).id
    await rig.dispatcher.start()  # the loop's first tick submits both
    await rig.events.until(last, P.QUEUED)
    for prompt_id in (first, last):
        cid = rig.bridge.start()
        rig.bridge.succeed(cid)  # history written (task_done) ...
        rig.bridge.emit("executing", cid, node=None)  # ... then 0.8.0's prompt_worker says so
        await rig.events.until(prompt_id, P.SUCCEEDED)
    assert rig.statuses(job_id) == [P.SUCCEEDED, P.SUCCEEDED]
    assert rig.store.get_job(job_id).status is J.SUCCEEDED  # type: ignore[union-attr]
    assert rig.worker.in_flight == 0 and rig.bridge.watched == frozenset()


async def test_the_tick_renews_the_lease_inside_its_one_transaction_every_third_of_a_lease(
    make_rig: Callable[..., Rig],
) -> None:
    rig = make_rig(lease_seconds=30)
    trips: list[str] = []
    for name in ("apply", "heartbeat", "transition", "get_setting"):
        def counted(*args: Any, _name: str = name, _real: Any = getattr(rig.store, name), **kw: Any) -> Any:
            trips.append(_name)
            return _real(*args, **kw)
        setattr(rig.store, name, counted)
    me = rig.dispatcher.instance.id
    job_id = rig.job(1)
    await rig.tick()  # claim and the first renewal: one transaction
    assert trips == ["apply"]
    prompt = rig.prompt(job_id)
    assert prompt.owner == me and prompt.lease_expires_at == rig.clock.now + 30
    assert rig.store.instances()[me].heartbeat_at == rig.clock.now
    renewed_at = rig.clock.now
    rig.bridge.start()
    rig.clock.advance(9)
    await rig.tick()  # started: a change, no renewal due yet
    assert rig.prompt(job_id).lease_expires_at == renewed_at + 30
    rig.clock.advance(2)  # 11 s > 30 / 3: due, with nothing else to write
    trips.clear()
    await rig.tick()
    assert trips == ["apply"]
    assert rig.prompt(job_id).lease_expires_at == rig.clock.now + 30
    assert rig.store.instances()[me].heartbeat_at == rig.clock.now
    # a pause set through another instance on the same database is read in the renewing tick
    rig.store.set_setting("paused", True)
    rig.clock.advance(11)
    await rig.tick()
    assert rig.worker.paused and ("queue",) in rig.events.calls


# --- two instances on one database (one ComfyUI per GPU) ----------------------------------


def second_instance(rig: Rig, port: int = 8189) -> Dispatcher:
    """Another ComfyUI process's dispatcher on the rig's database: its own ComfyUI (a
    FakeBridge), its own instance id, the same clock."""
    me = Instance(f"unit:{port}", "unit", port, os.getpid(), rig.clock())
    return Dispatcher(store=rig.store, db=rig.db, bridge=FakeBridge(), events=RecordingEvents(), live=LiveProgress(),
                      worker=WorkerState(), settings=rig.settings, clock=rig.clock, instance=me)


async def test_a_dead_instances_queued_and_running_prompts_go_to_the_other_once_its_lease_expires(rig: Rig) -> None:
    a, b = rig.dispatcher, second_instance(rig)
    job_id = rig.job(4)
    await a.tick()
    rig.bridge.start()
    await a.tick()
    await b.tick()
    assert rig.statuses(job_id) == [P.RUNNING, P.QUEUED, P.QUEUED, P.QUEUED]
    assert [p.owner for p in rig.store.job_prompts(job_id)] == [a.instance.id] * 2 + [b.instance.id] * 2

    # A is alive: B's polls leave its prompts alone however long they take
    for _ in range(3):
        rig.clock.advance(rig.settings.lease_seconds / 2)
        await a.tick()
        await b.tick()
    assert [p.owner for p in rig.store.job_prompts(job_id)][:2] == [a.instance.id] * 2
    for cid in list(b.bridge.pending):
        b.bridge.start(cid)
        b.bridge.succeed(cid)
    await b.tick()
    assert rig.statuses(job_id) == [P.RUNNING, P.QUEUED, P.SUCCEEDED, P.SUCCEEDED]
    assert b.bridge.submitted[2:] == [], "B waited for A's prompts, it did not run them too"

    # A dies (no more ticks): once its lease is over, B's next poll takes both prompts over
    a_running, a_queued = rig.cid(job_id, 0), rig.cid(job_id, 1)
    rig.clock.advance(rig.settings.lease_seconds + rig.settings.poll_seconds)
    await b.tick()
    assert [p.owner for p in rig.store.job_prompts(job_id)][:2] == [b.instance.id] * 2
    assert [p.attempt for p in rig.store.job_prompts(job_id)][:2] == [2, 1], "only the started one used an attempt"
    messages = [m for _, m in rig.log(job_id)]
    assert any("stopped renewing its lease" in m and "while it was running" in m for m in messages)
    assert any("never started" in m and "stopped renewing its lease" in m and "waiting in ComfyUI's queue" in m
               for m in messages)
    for cid in list(b.bridge.pending):
        b.bridge.start(cid)
        b.bridge.succeed(cid)
    await b.tick()
    assert rig.store.get_job(job_id).status is J.SUCCEEDED  # type: ignore[union-attr]

    # A was only hung: back, its poll finds the prompts are no longer its own and takes them out of its ComfyUI
    await a.tick()
    assert rig.bridge.deleted == [a_queued] and rig.bridge.interrupted == [a_running]
    assert rig.store.get_job(job_id).status is J.SUCCEEDED  # type: ignore[union-attr]
