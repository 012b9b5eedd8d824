"""bench/store_apply.py replays what the dispatcher writes; its numbers mean something only
if the replay moves prompts as the dispatcher would (and its what-if as it says)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.store_apply import GRAPH, main, replay, replay_batched
from tests.helpers import recounted_totals
from vq_extension.queue.models import PromptStatus as P
from vq_extension.queue.records import NewJob, NewPrompt
from vq_extension.queue.store import SqliteQueueStore


def store_with(tmp_path: Path, prompts: int) -> SqliteQueueStore:
    store = SqliteQueueStore(tmp_path / "vq.sqlite3")
    store.create_job(NewJob(name="bench"), [NewPrompt(graph=GRAPH) for _ in range(prompts)], 1_000.0)
    return store


def test_the_replay_finishes_one_starts_one_and_claims_one_per_tick(tmp_path: Path) -> None:
    store = store_with(tmp_path, 12)
    replay(store, 8)
    assert store.prompt_totals() == {P.SUCCEEDED: 8, P.RUNNING: 1, P.QUEUED: 1, P.PENDING: 2}
    assert store.prompt_totals() == recounted_totals(store)
    store.close()


def test_the_batched_what_if_finishes_and_claims_a_batch_per_tick_without_a_running_write(tmp_path: Path) -> None:
    store = store_with(tmp_path, 14)
    replay_batched(store, 8, 4)
    assert store.prompt_totals() == {P.SUCCEEDED: 8, P.QUEUED: 4, P.PENDING: 2}
    attempts = store.attempts([p.id for p in store.prompts_in([P.SUCCEEDED])])
    assert all(a.started_at is not None for rows in attempts.values() for a in rows)  # from "history"
    store.close()


@pytest.mark.parametrize(("args", "said"), [([], "ms CPU per prompt"), (["--batch", "2"], "what-if: 2")])
def test_it_prints_the_cost_per_prompt_and_each_statement(args: list[str], said: str,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--prompts", "6", *args]) == 0
    out = capsys.readouterr().out
    assert said in out and "UPDATE prompt" in out
