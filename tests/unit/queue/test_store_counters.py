"""The store's incremental counters (job n_* columns, prompt_total: kept by migrations.V7's
triggers) and its set-based bulk actions (store.py: apply; store_jobs.py: cancel_pending,
retry_job, deletion)."""

from __future__ import annotations

import itertools
import random
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import prompt_counts, recounted_totals, statements_run
from vq_extension.queue import sql as Q
from vq_extension.queue.migrations import JOB_STATUS_V7
from vq_extension.queue.models import (
    ALLOWED_FROM,
    RETRYABLE,
    JobStatus,
    PromptStatus,
    derive_job_status,
)
from vq_extension.queue.records import (
    BulkResult,
    Change,
    JobChange,
    LogLine,
    NewJob,
    NewPrompt,
)
from vq_extension.queue.store import SqliteQueueStore

P = PromptStatus
J = JobStatus
OWNER = "host-a"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteQueueStore]:
    s = SqliteQueueStore(tmp_path / "vq.sqlite3")
    yield s
    s.close()


def new_job(store: SqliteQueueStore, n: int, now: float = 1000.0) -> int:
    return store.create_job(NewJob(name=f"{n} prompts"), [NewPrompt(graph={"1": {"i": i}}) for i in range(n)], now)


def assert_counters_match_a_recount(store: SqliteQueueStore) -> None:
    jobs, _ = store.list_jobs(limit=100_000)
    recount = prompt_counts(store, [j.id for j in jobs])
    for job in jobs:
        assert job.counts == recount[job.id], job
        assert job.status is derive_job_status(recount[job.id]), job
    assert store.prompt_totals() == recounted_totals(store)
    with store._lock:
        runs = {r[0]: (r[1], r[2]) for r in store._conn.execute(
            "SELECT job_id, COUNT(*), COALESCE(SUM(finished_at - started_at), 0) FROM prompt"
            " WHERE status = 'succeeded' AND started_at IS NOT NULL GROUP BY job_id")}
    for job in jobs:
        count, seconds = runs.get(job.id, (0, 0.0))
        assert job.run_count == count and job.run_seconds == pytest.approx(seconds), job


@pytest.mark.parametrize("seed", range(8))
def test_incremental_counters_equal_a_recount_after_random_transitions(store: SqliteQueueStore, seed: int) -> None:
    rng = random.Random(seed)
    now = itertools.count(2000.0, 0.5)
    job_ids = [new_job(store, rng.randint(1, 8)) for _ in range(3)]
    for _ in range(150):
        op = rng.random()
        prompts = [p for j in job_ids for p in store.job_prompts(j)]
        if op < 0.25:
            store.claim_next(owner=OWNER, now=next(now), lease_seconds=60)
        elif op < 0.65:
            prompt = rng.choice(prompts)
            targets = [to for to, allowed in ALLOWED_FROM.items() if to in Q.TRANSITION and prompt.status in allowed]
            if targets:
                store.transition(prompt.id, rng.choice(targets), next(now), started_at=rng.choice([None, 1990.0]))
        elif op < 0.72:
            prompt = rng.choice(prompts)
            if prompt.status in RETRYABLE:
                store.requeue(prompt.id, next(now), budget=1)
        elif op < 0.78:
            queued = [p for p in prompts if p.status is P.QUEUED]
            if queued:
                store.pull_back(queued[0].id, queued[0].comfy_prompt_id or "", next(now))
        elif op < 0.84:
            store.cancel_pending(rng.choice([None, *job_ids]), next(now))
        elif op < 0.90:
            store.retry_job(rng.choice(job_ids), next(now), budget=1)
        elif op < 0.95:
            in_comfy = [p for p in prompts if p.status in (P.QUEUED, P.RUNNING)]
            changes = [Change(p.id, P.SUCCEEDED, comfy_prompt_id=p.comfy_prompt_id) for p in in_comfy[:2]]
            store.apply(changes, claim=rng.randint(0, 3), owner=OWNER, now=next(now), lease_seconds=60)
        elif op < 0.97:
            victim = rng.choice(job_ids)
            if store.delete_job(victim):  # only finished jobs go (DELETE /jobs/{id})
                job_ids.remove(victim)
            if not job_ids:
                job_ids.append(new_job(store, rng.randint(1, 5), next(now)))
        else:
            job_ids.append(new_job(store, rng.randint(1, 5), next(now)))
        assert_counters_match_a_recount(store)


def test_deleting_finished_jobs_takes_their_prompts_off_the_queue_totals(store: SqliteQueueStore) -> None:
    done, old, active = new_job(store, 3), new_job(store, 2), new_job(store, 2)
    store.cancel_pending(done, 1001.0)
    store.cancel_pending(old, 1001.0)
    claimed = store.claim_next(owner=OWNER, now=1002.0, lease_seconds=60)
    assert claimed is not None and claimed.job_id == active
    assert store.prompt_totals() == {P.CANCELED: 5, P.PENDING: 1, P.QUEUED: 1}
    assert not store.delete_job(active)  # not finished: nothing changes
    assert store.delete_job(done)
    assert not store.delete_job(done)  # gone already: counted once
    assert store.prompt_totals() == {P.CANCELED: 2, P.PENDING: 1, P.QUEUED: 1}
    assert store.delete_finished_before(5000.0) == [old]
    assert store.prompt_totals() == {P.PENDING: 1, P.QUEUED: 1}
    assert_counters_match_a_recount(store)


def test_the_triggers_job_status_equals_derive_job_status() -> None:
    rng = random.Random(7)
    names = [f"n_{s.value}" for s in PromptStatus]
    columns = ", ".join(f"{name} INTEGER" for name in names)
    with closing(sqlite3.connect(":memory:")) as conn:
        conn.execute(f"CREATE TABLE job (id INTEGER PRIMARY KEY, {columns})")
        vectors = [{s: rng.choice([0, 0, 1, 3]) for s in PromptStatus} for _ in range(400)]
        vectors += [{s: int(s is t) for s in PromptStatus} for t in PromptStatus]
        for i, v in enumerate(vectors):
            conn.execute(f"INSERT INTO job VALUES ({i}, {', '.join(str(v[s]) for s in PromptStatus)})")
        derived = dict(conn.execute(f"SELECT id, {JOB_STATUS_V7} FROM job"))
    for i, v in enumerate(vectors):
        assert derived[i] == derive_job_status(v).value, v


def test_bulk_cancel_and_retry_issue_a_constant_number_of_statements(store: SqliteQueueStore) -> None:
    """O(1) statements: a job of 3,000 prompts costs what a job of 3 does."""
    counted: dict[int, tuple[int, int, int]] = {}
    for n in (3, 3000):
        job_id = new_job(store, n)
        store.claim_next(owner=OWNER, now=2000.0, lease_seconds=60)  # one prompt in ComfyUI
        result: list[Any] = []
        cancel = len(statements_run(store, lambda j=job_id: result.append(store.cancel_pending(j, 2001.0))))
        assert isinstance(result[0], BulkResult) and result[0].moved == n - 1 and len(result[0].in_comfy) == 1
        retry = len(statements_run(store, lambda j=job_id: store.retry_job(j, 2002.0, budget=1)))
        clear = len(statements_run(store, lambda: store.cancel_pending(None, 2003.0)))
        counted[n] = (cancel, retry, clear)
        assert_counters_match_a_recount(store)
    assert counted[3] == counted[3000], counted
    # BEGIN, the jobs' log lines, one UPDATE (the triggers count), the prompts still in
    # ComfyUI, COMMIT; retry: BEGIN, one UPDATE, its log line, COMMIT (the job, one prompt
    # still in ComfyUI, stays running: no status line to add)
    assert counted[3000] == (5, 4, 5), counted


def test_clear_checks_the_count_in_its_transaction_and_changes_nothing_when_it_moved(store: SqliteQueueStore) -> None:
    new_job(store, 5)
    assert store.cancel_pending(None, 2000.0, expected_total=4, counted=[P.PENDING, P.QUEUED]) == 5
    assert store.prompt_totals() == {P.PENDING: 5}
    result = store.cancel_pending(None, 2000.0, expected_total=5, counted=[P.PENDING, P.QUEUED])
    assert isinstance(result, BulkResult) and result.moved == 5
    assert store.prompt_totals() == {P.CANCELED: 5}


def test_a_tick_is_one_transaction_with_its_claims_and_graphs(store: SqliteQueueStore) -> None:
    job_id = new_job(store, 4)
    first = store.apply([], claim=2, owner=OWNER, now=2000.0, lease_seconds=60)
    assert [c.prompt.index for c in first.claimed] == [0, 1]
    assert [c.graph for c in first.claimed] == [{"1": {"i": 0}}, {"1": {"i": 1}}]
    done = [Change(c.prompt.id, P.SUCCEEDED, comfy_prompt_id=c.prompt.comfy_prompt_id, started_at=1999.0)
            for c in first.claimed]
    statements = [s.verb for s in statements_run(
        store, lambda: store.apply(done, claim=2, owner=OWNER, now=2001.0, lease_seconds=60))]
    # One sqlite3 call per transition and per claim (each hands the GIL over inside ComfyUI):
    # counters, attempts and the job's status follow by trigger; the log is one INSERT.
    assert statements == ["BEGIN", "UPDATE", "UPDATE", "UPDATE", "UPDATE", "INSERT", "COMMIT"]
    job = store.get_job(job_id)
    assert job is not None and job.counts == {P.SUCCEEDED: 2, P.QUEUED: 2} and job.average_seconds == 2.0
    assert_counters_match_a_recount(store)


def test_a_tick_logs_its_prompts_then_the_job_it_finished_and_says_so_on_the_last_transition(
        store: SqliteQueueStore) -> None:
    job_id = new_job(store, 2)
    claimed = store.apply([], claim=2, owner=OWNER, now=2000.0, lease_seconds=60).claimed
    done = [Change(c.prompt.id, P.SUCCEEDED, comfy_prompt_id=c.prompt.comfy_prompt_id,
                   log=LogLine("succeeded", "finished")) for c in claimed]
    result = store.apply(done, claim=2, owner=OWNER, now=2001.0, lease_seconds=60)
    assert [t.job if t else "none" for t in result.transitions] == [None, JobChange(J.RUNNING, J.SUCCEEDED)]
    assert [e.message for e in store.read_log(job_id)][-3:] == [
        "prompt #1 finished", "prompt #2 finished", "job is now succeeded"]
    assert result.claimed == []


def test_a_rolled_back_job_change_is_never_logged(store: SqliteQueueStore) -> None:
    later, first = new_job(store, 1, now=1001.0), new_job(store, 1)
    with pytest.raises(RuntimeError), store._tx() as conn:
        conn.execute("UPDATE prompt SET status = 'canceled' WHERE job_id = ?", (later,))  # the job: canceled
        raise RuntimeError("a later step of the transaction failed")
    assert store.get_job(later).status is J.PENDING  # type: ignore[union-attr]
    claimed = store.claim_next(owner=OWNER, now=2000.0, lease_seconds=60)  # the other job's
    assert claimed is not None and claimed.job_id == first
    assert [e.message for e in store.read_log(later) if e.event == "job"] == []


def test_a_v2_database_with_work_in_it_upgrades_through_ownership_then_counters(tmp_path: Path) -> None:
    """Migrations 3 (instances, leases, idempotency keys), 4 (auto-prompt cache) and 5
    (presets) come first: the counters are migration 6 and must apply after them on a
    database that has jobs in it."""
    path = tmp_path / "vq.sqlite3"
    store = SqliteQueueStore(path)
    done, busy = new_job(store, 3), new_job(store, 4)
    for n in range(3):
        p = store.claim_next(owner=OWNER, now=1001.0 + n, lease_seconds=60)
        assert p is not None
        store.transition(p.id, P.RUNNING, 1010.0 + n)
        store.transition(p.id, P.SUCCEEDED, 1020.0 + 2 * n)
    running = store.claim_next(owner=OWNER, now=1030.0, lease_seconds=86_400)
    assert running is not None and running.job_id == busy
    store.transition(running.id, P.RUNNING, 1031.0)
    store.close()
    # Back to what a v2 vq left: no counters, no instance / idempotency tables, 24 h leases.
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        for (trigger,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
            conn.execute(f"DROP TRIGGER {trigger}")
        conn.execute("DROP TABLE prompt_total")
        conn.execute("DROP TABLE instance")
        conn.execute("DROP TABLE idempotency_key")
        conn.execute("DROP TABLE autoprompt_cache")
        conn.execute("DROP TABLE preset")
        for column in [f"n_{s.value}" for s in PromptStatus] + ["run_seconds", "run_count"]:
            conn.execute(f"ALTER TABLE job DROP COLUMN {column}")
        conn.execute("PRAGMA user_version = 2")
    upgraded = SqliteQueueStore(path)
    try:
        assert_counters_match_a_recount(upgraded)
        assert upgraded.get_job(done).average_seconds == pytest.approx(11.0)  # type: ignore[union-attr]
        assert upgraded.prompt_totals() == {P.SUCCEEDED: 3, P.RUNNING: 1, P.PENDING: 3}
        # the old 24 h lease is void: another instance may recover the running prompt at once
        assert upgraded.get_prompt(running.id).lease_expires_at == 0  # type: ignore[union-attr]
        # and the upgraded database keeps counting (migration 7's triggers) as work goes on
        upgraded.transition(running.id, P.SUCCEEDED, 1040.0)
        claimed = upgraded.apply([], claim=2, owner=OWNER, now=1041.0, lease_seconds=60).claimed
        assert len(claimed) == 2 and upgraded.attempts([c.prompt.id for c in claimed])[claimed[0].prompt.id]
        assert upgraded.prompt_totals() == {P.SUCCEEDED: 4, P.QUEUED: 2, P.PENDING: 1}
        assert_counters_match_a_recount(upgraded)
    finally:
        upgraded.close()


def test_lost_and_left_interrupted_prompts_keep_the_counters(store: SqliteQueueStore) -> None:
    job_id = new_job(store, 3)
    never = store.claim_next(owner=OWNER, now=1001.0, lease_seconds=60)
    started = store.claim_next(owner=OWNER, now=1001.0, lease_seconds=60)
    assert never is not None and started is not None
    store.transition(started.id, P.RUNNING, 1002.0)
    t = store.lose(never.id, 1003.0, comfy_prompt_id=never.comfy_prompt_id or "", owner=OWNER, why="restart")
    assert t is not None and t.prompt.status is P.PENDING and t.prompt.attempt == 0
    t = store.lose(started.id, 1003.0, comfy_prompt_id=started.comfy_prompt_id or "", owner=OWNER, why="restart")
    assert t is not None and t.prompt.status is P.PENDING
    assert_counters_match_a_recount(store)
    last = store.claim_next(owner=OWNER, now=1004.0, lease_seconds=60)
    assert last is not None
    store.transition(last.id, P.RUNNING, 1005.0)
    with store._lock:  # an older vq's crash between two steps left it interrupted (the triggers count it)
        store._conn.execute("UPDATE prompt SET status = 'interrupted', attempt = max_attempts WHERE id = ?", (last.id,))
    assert_counters_match_a_recount(store)
    t = store.resolve_interrupted(last.id, 1006.0)
    assert t is not None and t.prompt.status is P.FAILED
    assert_counters_match_a_recount(store)
    assert store.get_job(job_id).counts == {P.PENDING: 2, P.FAILED: 1}  # type: ignore[union-attr]
