"""A prompt running longer than 3x its workflow's average is reported as "stuck?" in the
queue state (GET /queue, /health) with what the interrupt needs (issue 10, item 19)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from vq_extension.api.reader import QueueReader
from vq_extension.queue.executor import DbExecutor
from vq_extension.queue.models import PromptStatus as P
from vq_extension.queue.progress import LiveProgress, WorkerState
from vq_extension.queue.records import NewJob, NewPrompt
from vq_extension.queue.store import SqliteQueueStore

T0 = 1_800_000_000.0


def run_one(store: SqliteQueueStore, start: float, seconds: float | None) -> int:
    prompt = store.claim_next(owner="me", now=start, lease_seconds=60)
    assert prompt is not None
    assert store.transition(prompt.id, P.RUNNING, start) is not None
    if seconds is not None:
        assert store.transition(prompt.id, P.SUCCEEDED, start + seconds) is not None
    return prompt.id


def test_a_prompt_over_three_times_its_workflows_average_is_stuck(tmp_path: Path) -> None:
    store = SqliteQueueStore(tmp_path / "vq.sqlite3")
    db = DbExecutor()
    now = [T0]
    reader = QueueReader(store, db, LiveProgress(), WorkerState(), 2, clock=lambda: now[0])
    try:
        job = NewJob(name="wan", workflow="wan-i2v")
        store.create_job(job, [NewPrompt(graph={"1": {}}) for _ in range(2)], T0)
        other = store.create_job(NewJob(name="other", workflow="upscale"), [NewPrompt(graph={"1": {}})], T0)
        run_one(store, T0, 100.0)  # the average of wan-i2v: 100 s
        running = run_one(store, T0 + 200, None)
        now[0] = T0 + 200 + 299
        assert asyncio.run(reader.queue_state())["stuck"] == []
        now[0] = T0 + 200 + 301
        [stuck] = asyncio.run(reader.queue_state())["stuck"]
        assert stuck == {"prompt_id": running, "job_id": 1, "index": 1, "workflow": "wan-i2v",
                         "running_seconds": 301.0, "average_seconds": 100.0}
        # A workflow that never finished a prompt has no average: never "stuck?".
        run_one(store, T0 + 200, None)
        now[0] = T0 + 1_000_000
        assert [s["job_id"] for s in asyncio.run(reader.queue_state())["stuck"]] == [1]
        assert other == 2
    finally:
        db.close()
        store.close()
