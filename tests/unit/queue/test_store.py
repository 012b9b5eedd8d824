"""QueueStore against a real database (store.py, migrations.py).

Backend-neutral tests take the ``store`` fixture, parametrized over ``BACKENDS``; a future
PostgreSQL store is one more ``Backend`` entry (an opener and a full-state dump). Tests of
SQLite itself (schema text, WAL, query plans, several processes on one file) build a
``SqliteQueueStore`` directly.
"""

from __future__ import annotations

import multiprocessing
import re
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import Statement, find_by_comfy_id, prompt_counts, statements_run
from vq_extension.errors import PromptError
from vq_extension.queue import sql as Q
from vq_extension.queue.migrations import MIGRATIONS, SCHEMA_VERSION, SchemaTooNew
from vq_extension.queue.models import (
    ACTIONABLE_ORDER,
    ALLOWED_FROM,
    TERMINAL,
    JobStatus,
    PromptStatus,
    derive_job_status,
)
from vq_extension.queue.records import (
    JobChange,
    NewJob,
    NewPrompt,
    PromptRecord,
    Transition,
)
from vq_extension.queue.store import JOB_SORTS, SqliteQueueStore

P = PromptStatus
J = JobStatus
Store = SqliteQueueStore  # the interface under test; another backend implements the same methods
Dump = dict[str, list[tuple[Any, ...]]]
FINISHED = frozenset({J.SUCCEEDED, J.FAILED, J.CANCELED})
# Targets of the generic guarded ``transition``; pending and queued have their own methods.
TRANSITION_TARGETS = [s for s in PromptStatus if s not in (P.PENDING, P.QUEUED)]
OWNER = "host-a"


# --- backends and fixtures ------------------------------------------------------------


@dataclass(frozen=True)
class Backend:
    name: str
    open: Callable[[Path], Store]  # a new store instance on the storage kept under this folder
    dump: Callable[[Store], Dump]  # every row of every table, to prove "nothing changed"


def _sqlite_file(folder: Path) -> Path:
    return folder / "vq.sqlite3"


def _sqlite_dump(store: Store) -> Dump:
    with closing(sqlite3.connect(store.path)) as conn:
        # not sqlite_sequence: SQLite's AUTOINCREMENT bookkeeping, which a claim that may
        # open an attempt (by trigger) writes even when it claims nothing
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"
                                             " AND name != 'sqlite_sequence' ORDER BY name")]
        return {t: conn.execute(f"SELECT * FROM {t} ORDER BY rowid").fetchall() for t in tables}


BACKENDS = [Backend("sqlite", lambda folder: SqliteQueueStore(_sqlite_file(folder)), _sqlite_dump)]


@pytest.fixture(params=BACKENDS, ids=lambda b: b.name)
def backend(request: pytest.FixtureRequest) -> Backend:
    return request.param


@pytest.fixture
def open_store(backend: Backend, tmp_path: Path) -> Iterator[Callable[[], Store]]:
    """Opens another store instance on the same storage (as a second worker would)."""
    opened: list[Store] = []

    def open_() -> Store:
        store = backend.open(tmp_path)
        opened.append(store)
        return store

    yield open_
    for store in opened:
        store.close()


@pytest.fixture
def store(open_store: Callable[[], Store]) -> Store:
    return open_store()


@pytest.fixture
def dump(backend: Backend, store: Store) -> Callable[[], Dump]:
    return lambda: backend.dump(store)


class Clock:
    """Strictly increasing timestamps, one second apart."""

    def __init__(self, start: float = 1000.0) -> None:
        self.t = start

    def __call__(self) -> float:
        self.t += 1.0
        return self.t


@pytest.fixture
def clock() -> Clock:
    return Clock()


# --- helpers ----------------------------------------------------------------------


def graph(i: int = 0) -> dict[str, Any]:
    return {"1": {"class_type": "LoadImage", "inputs": {"image": f"in_{i}.png"}},
            "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "vq"}}}


def new_job(
    store: Store,
    n: int = 1,
    *,
    now: float,
    name: str = "job",
    priority: int = 0,
    workflow: str | None = None,
    folder: str | None = None,
    max_attempts: int = 2,
) -> int:
    job = NewJob(name=name, priority=priority, workflow=workflow, source={"folder": folder} if folder else None)
    return store.create_job(job, [NewPrompt(graph=graph(i), max_attempts=max_attempts) for i in range(n)], now)


def claim(store: Store, now: float, owner: str = OWNER) -> PromptRecord:
    prompt = store.claim_next(owner=owner, now=now, lease_seconds=60)
    assert prompt is not None, "expected a pending prompt to claim"
    return prompt


def move(store: Store, prompt_id: int, to: PromptStatus, now: float, **kw: Any) -> Transition:
    t = store.transition(prompt_id, to, now, **kw)
    assert t is not None, f"prompt {prompt_id} -> {to} was refused"
    return t


def only_prompt(store: Store, job_id: int) -> PromptRecord:
    (prompt,) = store.job_prompts(job_id)
    return prompt


def prompt_in(store: Store, status: PromptStatus, clock: Clock) -> PromptRecord:
    """A one-prompt job whose prompt reached ``status`` through the public API. The job's
    priority grows with the clock, so it is claimed before older pending jobs."""
    now = clock()
    job_id = new_job(store, now=now, priority=int(now))
    prompt = only_prompt(store, job_id)
    if status is P.PENDING:
        return prompt
    if status is P.CANCELED:
        return move(store, prompt.id, P.CANCELED, clock(), cancel_reason="user").prompt
    claimed = claim(store, clock())
    assert claimed.id == prompt.id
    path = {
        P.QUEUED: [],
        P.RUNNING: [P.RUNNING],
        P.CANCELING: [P.RUNNING, P.CANCELING],
        P.SUCCEEDED: [P.RUNNING, P.SUCCEEDED],
        P.FAILED: [P.RUNNING, P.FAILED],
        P.INTERRUPTED: [P.RUNNING, P.INTERRUPTED],
    }[status]
    for step in path:
        claimed = move(store, prompt.id, step, clock(), comfy_prompt_id=claimed.comfy_prompt_id).prompt
    assert claimed.status is status
    return claimed


def assert_jobs_consistent(store: Store) -> None:
    """Every job's stored status and timestamps agree with its prompts."""
    jobs, total = store.list_jobs(limit=100_000)
    assert len(jobs) == total
    counts = prompt_counts(store, [j.id for j in jobs])
    for job in jobs:
        assert job.status is derive_job_status(counts[job.id]), job
        assert (job.finished_at is not None) == (job.status in FINISHED), job
        if job.status is J.PENDING:
            assert job.started_at is None, job


def ids(jobs: list[Any]) -> list[int]:
    return [j.id for j in jobs]


# --- schema (SQLite) --------------------------------------------------------------


def _schema(path: Path) -> set[tuple[str, str, str, str | None]]:
    with closing(sqlite3.connect(path)) as conn:
        rows = conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master").fetchall()
    return {(t, n, tbl, " ".join(sql.split()) if sql else None) for t, n, tbl, sql in rows}


def _user_version(path: Path) -> int:
    with closing(sqlite3.connect(path)) as conn:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])


def _check_list(table_sql: str, column: str) -> list[str]:
    found = re.findall(rf"\b{column}\b[^,]*?CHECK\s*\(\s*{column}\s+IN\s*\(([^)]*)\)\s*\)", table_sql, re.S | re.I)
    assert len(found) == 1, f"expected one CHECK on {column} in {table_sql}"
    return re.findall(r"'([^']*)'", found[0])


def test_status_check_lists_equal_the_enums(tmp_path: Path) -> None:
    SqliteQueueStore(tmp_path / "vq.sqlite3").close()
    with closing(sqlite3.connect(tmp_path / "vq.sqlite3")) as conn:
        sql = dict(conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'").fetchall())
    assert sorted(_check_list(sql["prompt"], "status")) == sorted(s.value for s in PromptStatus)
    assert sorted(_check_list(sql["job"], "status")) == sorted(s.value for s in JobStatus)


def test_prompt_rows_are_read_with_every_column_but_the_graph(tmp_path: Path) -> None:
    """Records never carry the graph (kilobytes per prompt): only a claim reads it. A
    column a migration adds must be read too."""
    store = SqliteQueueStore(tmp_path / "vq.sqlite3")
    try:
        with closing(sqlite3.connect(store.path)) as conn:
            table = [r[1] for r in conn.execute("PRAGMA table_info(prompt)")]
        assert [c.strip() for c in Q.PROMPT_COLUMNS.split(",")] == [c for c in table if c != "graph_json"]
        job_id = store.create_job(NewJob(name="g"), [NewPrompt(graph=graph(i)) for i in range(2)], 1.0)
        reads = statements_run(store, lambda: store.job_prompts(job_id))
        claims = statements_run(store, lambda: store.claim_next(owner=OWNER, now=2.0, lease_seconds=60))
        assert [s.sql for s in reads if "graph_json" in s.sql or "*" in s.sql] == []
        assert sum("graph_json" in s.sql for s in claims) == 1
    finally:
        store.close()


def test_status_checks_are_enforced(tmp_path: Path, clock: Clock) -> None:
    store = SqliteQueueStore(tmp_path / "vq.sqlite3")
    job_id = new_job(store, now=clock())
    store.close()
    with closing(sqlite3.connect(tmp_path / "vq.sqlite3")) as conn:
        with pytest.raises(sqlite3.IntegrityError):
            conn.execute("UPDATE prompt SET status = 'done' WHERE job_id = ?", (job_id,))
        with pytest.raises(sqlite3.IntegrityError):
            conn.execute("UPDATE job SET status = 'interrupted' WHERE id = ?", (job_id,))


def test_migration_versions_are_consecutive() -> None:
    assert [v for v, _ in MIGRATIONS] == list(range(1, len(MIGRATIONS) + 1))
    assert SCHEMA_VERSION == MIGRATIONS[-1][0]


@pytest.mark.parametrize("from_version", [0, *(v for v, _ in MIGRATIONS)])
def test_upgrading_from_every_version_gives_the_fresh_schema(tmp_path: Path, from_version: int) -> None:
    SqliteQueueStore(tmp_path / "fresh.sqlite3").close()
    old = tmp_path / "old.sqlite3"
    with closing(sqlite3.connect(old, isolation_level=None)) as conn:
        for version, statements in MIGRATIONS:
            if version <= from_version:
                for statement in statements:
                    conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {from_version}")
    upgraded = SqliteQueueStore(old)
    assert upgraded.schema_version == SCHEMA_VERSION
    upgraded.close()
    assert _schema(old) == _schema(tmp_path / "fresh.sqlite3")
    assert _user_version(old) == SCHEMA_VERSION


def test_reopening_keeps_data_and_schema(tmp_path: Path, clock: Clock) -> None:
    path = tmp_path / "vq.sqlite3"
    store = SqliteQueueStore(path)
    job_id = new_job(store, 3, now=clock(), name="kept")
    store.close()
    schema = _schema(path)
    again = SqliteQueueStore(path)
    try:
        assert again.get_job(job_id) is not None and len(again.job_prompts(job_id)) == 3
        assert _schema(path) == schema
    finally:
        again.close()


def test_a_newer_schema_is_refused_with_an_actionable_message(tmp_path: Path) -> None:
    path = tmp_path / "vq.sqlite3"
    newer = SCHEMA_VERSION + 1
    with closing(sqlite3.connect(path)) as conn:
        conn.execute(f"PRAGMA user_version = {newer}")
    with pytest.raises(SchemaTooNew) as caught:
        SqliteQueueStore(path)
    message = str(caught.value)
    for part in (str(path), f"schema version {newer}", f"up to {SCHEMA_VERSION}", "newer vq", "Update vq", "VQ_DATA_DIR"):
        assert part in message
    # nothing was created in the newer database
    assert [t for t in _schema(path) if t[0] in ("table", "index")] == []
    assert _user_version(path) == newer


def test_pragmas(tmp_path: Path) -> None:
    store = SqliteQueueStore(tmp_path / "vq.sqlite3", busy_timeout_ms=1234)
    try:
        with closing(sqlite3.connect(store.path)) as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"  # persistent, seen by anyone
        assert store._conn.execute("PRAGMA busy_timeout").fetchone()[0] == 1234
        assert store._conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert store.sqlite_version == sqlite3.sqlite_version
    finally:
        store.close()


def test_status_rank_follows_the_actionable_order(tmp_path: Path, clock: Clock) -> None:
    store = SqliteQueueStore(tmp_path / "vq.sqlite3")
    try:
        for status in (P.PENDING, P.RUNNING, P.SUCCEEDED, P.FAILED, P.CANCELED):
            prompt_in(store, status, clock)
        with closing(sqlite3.connect(store.path)) as conn:
            rows = conn.execute("SELECT status, status_rank FROM job").fetchall()
        assert {s for s, _ in rows} == set(JobStatus)
        assert all(rank == ACTIONABLE_ORDER.index(JobStatus(s)) for s, rank in rows)
    finally:
        store.close()


def test_prompt_and_job_writes_share_one_transaction(tmp_path: Path, clock: Clock) -> None:
    """If re-deriving the job fails, the prompt write is rolled back with it."""
    store = SqliteQueueStore(tmp_path / "vq.sqlite3")
    try:
        job_id = new_job(store, 2, now=clock())
        claimed = claim(store, clock())
        with closing(sqlite3.connect(store.path, isolation_level=None)) as conn:
            conn.execute("CREATE TRIGGER block_job BEFORE UPDATE ON job BEGIN SELECT RAISE(ABORT, 'blocked'); END")
            before = _sqlite_dump(store)
            with pytest.raises(sqlite3.IntegrityError):
                store.transition(claimed.id, P.RUNNING, clock())
            with pytest.raises(sqlite3.IntegrityError):
                store.claim_next(owner=OWNER, now=clock(), lease_seconds=60)
            with pytest.raises(sqlite3.IntegrityError):
                store.pull_back(claimed.id, claimed.comfy_prompt_id or "", clock())
            assert _sqlite_dump(store) == before
            conn.execute("DROP TRIGGER block_job")
        assert move(store, claimed.id, P.RUNNING, clock()).prompt.status is P.RUNNING
        assert store.get_job(job_id).status is J.RUNNING  # type: ignore[union-attr]
    finally:
        store.close()


# --- create_job -------------------------------------------------------------------


def test_create_job_stores_the_job_and_its_prompts(store: Store) -> None:
    job = NewJob(name="Beach", priority=3, workflow="wan22_i2v", mode="video_gen", params={"steps": 20},
                 options={"tries": 2}, source={"folder": "/data/beach"}, workspace="ws1")
    prompts = [
        NewPrompt(graph=graph(0), max_attempts=3, seed=11, input_file="/data/beach/a.png",
                  staged_name="vq/a.png", try_index=0, params={"prompt": "waves"}),
        NewPrompt(graph=graph(1), seed=12, input_file="/data/beach/a.png", staged_name="vq/a.png", try_index=1),
    ]
    job_id = store.create_job(job, prompts, 500.0)
    got = store.get_job(job_id)
    assert got is not None
    assert (got.name, got.status, got.priority, got.workflow, got.mode, got.params, got.options, got.source,
            got.workspace, got.created_at, got.started_at, got.finished_at, got.updated_at) == (
        "Beach", J.PENDING, 3, "wan22_i2v", "video_gen", {"steps": 20}, {"tries": 2}, {"folder": "/data/beach"},
        "ws1", 500.0, None, None, 500.0)
    first, second = store.job_prompts(job_id)
    assert (first.index, first.status, first.attempt, first.max_attempts, first.seed, first.input_file,
            first.staged_name, first.try_index, first.params, first.comfy_prompt_id, first.error, first.outputs) == (
        0, P.PENDING, 0, 3, 11, "/data/beach/a.png", "vq/a.png", 0, {"prompt": "waves"}, None, None, [])
    assert (second.index, second.max_attempts, second.try_index, second.params) == (1, 2, 1, None)
    assert store.get_graph(first.id) == graph(0) and store.get_graph(second.id) == graph(1)
    assert store.attempts([first.id, second.id]) == {first.id: [], second.id: []}


def test_create_job_refuses_an_empty_prompt_list(store: Store, dump: Callable[[], Dump]) -> None:
    before = dump()
    with pytest.raises(ValueError, match="at least one prompt"):
        store.create_job(NewJob(name="empty"), [], 1.0)
    assert dump() == before


def test_create_job_is_one_transaction(store: Store, dump: Callable[[], Dump], clock: Clock) -> None:
    new_job(store, now=clock())
    before = dump()
    bad = [NewPrompt(graph=graph(0)), NewPrompt(graph=graph(1)), NewPrompt(graph={"x": {1, 2}})]  # not JSON
    with pytest.raises(TypeError):
        store.create_job(NewJob(name="half"), bad, clock())
    assert dump() == before


def test_get_missing_things(store: Store) -> None:
    assert store.get_job(404) is None
    assert store.get_prompt(404) is None
    assert store.get_graph(404) is None
    assert find_by_comfy_id(store, str(uuid.uuid4())) is None
    assert store.job_prompts(404) == []
    assert store.attempts([]) == {}
    assert store.transition(404, P.RUNNING, 1.0) is None
    assert store.requeue(404, 1.0, budget=1) is None
    assert store.pull_back(404, "x", 1.0) is None
    assert store.set_priority(404, 5, 1.0) is False


# --- claim ------------------------------------------------------------------------


def test_claim_stamps_attempt_ids_owner_and_an_attempt_row(store: Store) -> None:
    job_id = new_job(store, 2, now=100.0)
    first = store.claim_next(owner="host-a", now=110.0, lease_seconds=30)
    second = store.claim_next(owner="host-b", now=111.0, lease_seconds=30)
    assert first is not None and second is not None
    assert (first.job_id, first.index, first.status, first.attempt, first.owner, first.queued_at) == (
        job_id, 0, P.QUEUED, 1, "host-a", 110.0)
    assert (second.index, second.owner) == (1, "host-b")
    for p in (first, second):
        assert p.comfy_prompt_id is not None and uuid.UUID(p.comfy_prompt_id).version == 4
        assert str(uuid.UUID(p.comfy_prompt_id)) == p.comfy_prompt_id  # canonical text form
        assert p.claim_token
        assert p == store.get_prompt(p.id) == find_by_comfy_id(store, p.comfy_prompt_id)
    assert first.comfy_prompt_id != second.comfy_prompt_id and first.claim_token != second.claim_token
    (attempt,) = store.attempts([first.id])[first.id]
    assert (attempt.attempt, attempt.comfy_prompt_id, attempt.status, attempt.queued_at, attempt.started_at,
            attempt.finished_at, attempt.error) == (1, first.comfy_prompt_id, P.QUEUED, 110.0, None, None, None)
    job = store.get_job(job_id)
    assert job is not None and (job.status, job.started_at, job.finished_at) == (J.RUNNING, 110.0, None)
    assert store.claim_next(owner="host-a", now=112.0, lease_seconds=30) is None


def test_claim_sets_the_lease(tmp_path: Path, clock: Clock) -> None:
    store = SqliteQueueStore(tmp_path / "vq.sqlite3")
    try:
        new_job(store, now=clock())
        claimed = store.claim_next(owner=OWNER, now=500.0, lease_seconds=30)
        assert claimed is not None
        with closing(sqlite3.connect(store.path)) as conn:
            lease = conn.execute("SELECT lease_expires_at FROM prompt WHERE id = ?", (claimed.id,)).fetchone()[0]
        assert lease == 530.0
        store.pull_back(claimed.id, claimed.comfy_prompt_id or "", 501.0)
        with closing(sqlite3.connect(store.path)) as conn:
            assert conn.execute("SELECT lease_expires_at FROM prompt WHERE id = ?", (claimed.id,)).fetchone()[0] is None
    finally:
        store.close()


def test_claim_on_an_empty_queue(store: Store, dump: Callable[[], Dump]) -> None:
    before = dump()
    assert store.claim_next(owner=OWNER, now=1.0, lease_seconds=60) is None
    assert dump() == before


def claim_order(store: Store, clock: Clock) -> list[tuple[int, int]]:
    """(job id, prompt index) of every claim until the queue is empty."""
    order = []
    while (p := store.claim_next(owner=OWNER, now=clock(), lease_seconds=60)) is not None:
        order.append((p.job_id, p.index))
    return order


def test_claim_order_priority_then_creation_then_index(store: Store, clock: Clock) -> None:
    low = new_job(store, 2, now=100.0, priority=-1)
    a = new_job(store, 2, now=200.0, priority=0)
    b = new_job(store, 3, now=300.0, priority=5)
    c = new_job(store, 1, now=250.0, priority=5)  # inserted later, created earlier
    assert claim_order(store, clock) == [
        (c, 0), (b, 0), (b, 1), (b, 2), (a, 0), (a, 1), (low, 0), (low, 1),
    ]


def test_claim_order_ties_go_to_the_older_id(store: Store, clock: Clock) -> None:
    first = new_job(store, 2, now=100.0)
    second = new_job(store, 2, now=100.0)
    assert claim_order(store, clock) == [(first, 0), (first, 1), (second, 0), (second, 1)]


def test_a_later_job_with_higher_priority_jumps_ahead(store: Store, clock: Clock) -> None:
    a = new_job(store, 3, now=clock())
    assert claim(store, clock()).job_id == a
    urgent = new_job(store, 2, now=clock(), priority=1)
    assert claim_order(store, clock) == [(urgent, 0), (urgent, 1), (a, 1), (a, 2)]


def test_a_priority_change_affects_the_next_claim(store: Store, clock: Clock) -> None:
    a = new_job(store, 3, now=clock())
    b = new_job(store, 3, now=clock())
    assert claim(store, clock()).job_id == a
    assert store.set_priority(b, 10, clock()) is True
    assert store.get_job(b).priority == 10  # type: ignore[union-attr]
    assert claim(store, clock()).job_id == b
    assert store.set_priority(b, -10, clock()) is True
    assert claim_order(store, clock) == [(a, 1), (a, 2), (b, 1), (b, 2)]


def test_a_retried_prompt_goes_back_to_its_place(store: Store, clock: Clock) -> None:
    job = new_job(store, 3, now=clock())
    first = claim(store, clock())
    move(store, first.id, P.FAILED, clock())
    assert store.requeue(first.id, clock(), budget=1) is not None
    assert claim_order(store, clock) == [(job, 0), (job, 1), (job, 2)]


def test_jobs_without_pending_prompts_are_skipped(store: Store, clock: Clock) -> None:
    done = new_job(store, now=clock(), priority=9)
    move(store, claim(store, clock()).id, P.SUCCEEDED, clock())
    canceled = new_job(store, now=clock(), priority=9)
    move(store, only_prompt(store, canceled).id, P.CANCELED, clock())
    waiting = new_job(store, now=clock())
    assert claim_order(store, clock) == [(waiting, 0)]
    assert store.get_job(done).status is J.SUCCEEDED  # type: ignore[union-attr]


# --- guarded transitions -----------------------------------------------------------

MATRIX = [(frm, to) for frm in PromptStatus for to in TRANSITION_TARGETS]


@pytest.mark.parametrize(("frm", "to"), MATRIX, ids=[f"{a.value}->{b.value}" for a, b in MATRIX])
def test_every_guarded_transition(
    store: Store, dump: Callable[[], Dump], clock: Clock, frm: PromptStatus, to: PromptStatus
) -> None:
    prompt = prompt_in(store, frm, clock)
    job_before = store.get_job(prompt.job_id)
    attempts_before = store.attempts([prompt.id])[prompt.id]
    rows_before = dump()
    now = clock()
    t = store.transition(prompt.id, to, now)
    if frm not in ALLOWED_FROM[to]:
        assert t is None
        assert dump() == rows_before
        return
    assert t is not None and job_before is not None
    after = store.get_prompt(prompt.id)
    job_after = store.get_job(prompt.job_id)
    assert after is not None and job_after is not None
    changed = JobChange(job_before.status, job_after.status) if job_before.status != job_after.status else None
    assert (t.prompt, t.job) == (after, changed)
    assert job_after.status is derive_job_status(prompt_counts(store, [prompt.job_id])[prompt.job_id])
    assert after.status is to and after.updated_at == now and job_after.updated_at == now
    assert after.started_at == (now if to is P.RUNNING else prompt.started_at)
    assert after.finished_at == (now if to in TERMINAL else prompt.finished_at)
    assert (after.attempt, after.comfy_prompt_id, after.claim_token, after.owner) == (
        prompt.attempt, prompt.comfy_prompt_id, prompt.claim_token, prompt.owner)
    attempts_after = store.attempts([prompt.id])[prompt.id]
    if attempts_before and attempts_before[-1].finished_at is not None:
        # an interrupted attempt stays interrupted when the prompt then fails for good
        assert attempts_after == attempts_before
    elif attempts_before:  # the current attempt mirrors the prompt
        assert attempts_after[:-1] == attempts_before[:-1]
        assert attempts_after[-1].status is to
    else:
        assert attempts_after == []
    assert_jobs_consistent(store)


@pytest.mark.parametrize("to", [P.PENDING, P.QUEUED])
def test_pending_and_queued_have_their_own_methods(store: Store, dump: Callable[[], Dump], clock: Clock,
                                                   to: PromptStatus) -> None:
    prompt = prompt_in(store, P.FAILED, clock)
    before = dump()
    with pytest.raises(ValueError):
        store.transition(prompt.id, to, clock())
    assert dump() == before


def test_transition_payloads_are_written_and_kept(store: Store, clock: Clock) -> None:
    prompt = prompt_in(store, P.RUNNING, clock)
    t = move(store, prompt.id, P.CANCELING, clock(), cancel_reason="user")
    assert t.prompt.cancel_reason == "user"
    t = move(store, prompt.id, P.CANCELED, clock())  # no reason given: the first one stays
    assert t.prompt.cancel_reason == "user" and t.prompt.error is None and t.prompt.outputs == []

    other = prompt_in(store, P.RUNNING, clock)
    error = PromptError("execution_error", "boom", node_id="3", node_type="KSampler", traceback=["tb"],
                        details={"x": 1})
    outputs = [{"kind": "image", "filename": "a.png", "subfolder": "", "type": "output"}]
    t = move(store, other.id, P.FAILED, clock(), error=error, outputs=outputs)
    assert (t.prompt.error, t.prompt.outputs) == (error, outputs)
    (attempt,) = store.attempts([other.id])[other.id]
    assert attempt.error == error and attempt.status is P.FAILED

    done = prompt_in(store, P.RUNNING, clock)
    t = move(store, done.id, P.SUCCEEDED, clock(), outputs=outputs)
    assert t.prompt.outputs == outputs and t.prompt.error is None


def test_a_late_event_from_an_old_attempt_is_rejected(store: Store, dump: Callable[[], Dump], clock: Clock) -> None:
    prompt = prompt_in(store, P.INTERRUPTED, clock)
    old_id = prompt.comfy_prompt_id
    assert store.requeue(prompt.id, clock(), budget=1) is not None
    late = dict(comfy_prompt_id=old_id, error=PromptError("late", "old attempt"), outputs=[{"filename": "old.png"}])

    before = dump()  # pending, between attempts
    for to in TRANSITION_TARGETS:
        assert store.transition(prompt.id, to, clock(), **late) is None
    assert dump() == before

    current = claim(store, clock())
    assert current.id == prompt.id and current.comfy_prompt_id not in (None, old_id)

    def rejects_old_attempt() -> None:
        before = dump()
        for to in TRANSITION_TARGETS:
            assert store.transition(prompt.id, to, clock(), **late) is None
        assert store.pull_back(prompt.id, old_id or "", clock()) is None
        assert dump() == before

    rejects_old_attempt()  # queued under the new id
    move(store, prompt.id, P.RUNNING, clock(), comfy_prompt_id=current.comfy_prompt_id)
    rejects_old_attempt()  # running under the new id
    t = move(store, prompt.id, P.SUCCEEDED, clock(), comfy_prompt_id=current.comfy_prompt_id)
    assert t.prompt.status is P.SUCCEEDED and t.prompt.error is None


def test_a_prompt_never_claimed_has_no_comfy_id_to_match(store: Store, dump: Callable[[], Dump],
                                                        clock: Clock) -> None:
    prompt = prompt_in(store, P.PENDING, clock)
    before = dump()
    assert store.transition(prompt.id, P.CANCELED, clock(), comfy_prompt_id=str(uuid.uuid4())) is None
    assert dump() == before


def test_double_finish_is_impossible(store: Store, dump: Callable[[], Dump], clock: Clock) -> None:
    prompt = prompt_in(store, P.RUNNING, clock)
    move(store, prompt.id, P.SUCCEEDED, clock(), comfy_prompt_id=prompt.comfy_prompt_id)
    before = dump()
    for to in (P.FAILED, P.SUCCEEDED, P.CANCELED, P.INTERRUPTED, P.CANCELING, P.RUNNING):
        assert store.transition(prompt.id, to, clock(), comfy_prompt_id=prompt.comfy_prompt_id) is None
    assert store.requeue(prompt.id, clock(), budget=5) is None
    assert dump() == before


def test_two_concurrent_finishers_exactly_one_wins(open_store: Callable[[], Store], clock: Clock) -> None:
    """Two store instances on the same storage (two threads, two connections) race to
    finish the same prompt, many times over."""
    rounds = 30
    a, b = open_store(), open_store()
    job_id = a.create_job(NewJob(name="race"), [NewPrompt(graph=graph(i)) for i in range(rounds)], clock())
    contenders = [(a, P.SUCCEEDED), (b, P.FAILED)]
    winners: dict[PromptStatus, int] = {P.SUCCEEDED: 0, P.FAILED: 0}
    with ThreadPoolExecutor(max_workers=2) as pool:
        for i in range(rounds):
            prompt = claim(a, clock())
            move(b, prompt.id, P.RUNNING, clock())
            start = threading.Barrier(2)
            now = clock()
            order = contenders if i % 2 else contenders[::-1]
            futures = {to: pool.submit(_finish, s, start, prompt, to, now) for s, to in order}
            results = {to: f.result(timeout=30) for to, f in futures.items()}
            won = [to for to, t in results.items() if t is not None]
            assert len(won) == 1, results
            winners[won[0]] += 1
            final = a.get_prompt(prompt.id)
            assert final is not None and final.status is won[0]
            assert [x.status for x in a.attempts([prompt.id])[prompt.id]] == [won[0]]
    assert sum(winners.values()) == rounds
    assert len(a.job_prompts(job_id)) == rounds
    assert_jobs_consistent(a)


def _finish(store: Store, start: threading.Barrier, prompt: PromptRecord, to: PromptStatus,
            now: float) -> Transition | None:
    start.wait(timeout=10)
    return store.transition(prompt.id, to, now, comfy_prompt_id=prompt.comfy_prompt_id)


# --- requeue and pull_back ------------------------------------------------------------


@pytest.mark.parametrize("frm", list(PromptStatus), ids=[s.value for s in PromptStatus])
def test_requeue_only_from_retryable(store: Store, dump: Callable[[], Dump], clock: Clock,
                                     frm: PromptStatus) -> None:
    prompt = prompt_in(store, frm, clock)
    attempts_before = store.attempts([prompt.id])[prompt.id]
    before = dump()
    now = clock()
    t = store.requeue(prompt.id, now, budget=1)
    if frm not in (P.FAILED, P.CANCELED, P.INTERRUPTED):
        assert t is None
        assert dump() == before
        return
    assert t is not None
    after = t.prompt
    assert after == store.get_prompt(prompt.id)
    assert (after.status, after.attempt, after.comfy_prompt_id, after.claim_token, after.owner, after.queued_at,
            after.started_at, after.finished_at, after.cancel_reason, after.updated_at) == (
        P.PENDING, prompt.attempt, None, None, None, None, None, None, None, now)
    assert store.attempts([prompt.id])[prompt.id] == attempts_before  # lineage untouched
    assert len(attempts_before) == prompt.attempt
    assert t.job is not None and t.job.after is J.PENDING
    assert store.get_job(prompt.job_id).status is J.PENDING  # type: ignore[union-attr]
    assert_jobs_consistent(store)


def test_requeue_budget_raises_max_attempts_but_never_lowers_it(store: Store, clock: Clock) -> None:
    job_id = new_job(store, now=clock(), max_attempts=2)
    pid = only_prompt(store, job_id).id

    def attempt_then(to: PromptStatus) -> None:
        claimed = claim(store, clock())
        move(store, pid, to, clock(), comfy_prompt_id=claimed.comfy_prompt_id)

    attempt_then(P.INTERRUPTED)  # attempt 1
    assert store.requeue(pid, clock(), budget=0).prompt.max_attempts == 2  # type: ignore[union-attr]  # MAX(2, 1+0)
    attempt_then(P.FAILED)  # attempt 2
    assert store.requeue(pid, clock(), budget=3).prompt.max_attempts == 5  # type: ignore[union-attr]  # MAX(2, 2+3)
    attempt_then(P.CANCELED)  # attempt 3
    assert store.requeue(pid, clock(), budget=1).prompt.max_attempts == 5  # type: ignore[union-attr]  # MAX(5, 3+1)
    attempt_then(P.FAILED)  # attempt 4
    assert store.requeue(pid, clock(), budget=2).prompt.max_attempts == 6  # type: ignore[union-attr]  # MAX(5, 4+2)
    assert store.get_prompt(pid).attempt == 4  # type: ignore[union-attr]


def test_pull_back_undoes_the_attempt(store: Store, clock: Clock) -> None:
    job_id = new_job(store, 2, now=clock())
    claimed = claim(store, clock())
    assert store.get_job(job_id).status is J.RUNNING  # type: ignore[union-attr]
    now = clock()
    t = store.pull_back(claimed.id, claimed.comfy_prompt_id or "", now)
    assert t is not None and t.job == JobChange(J.RUNNING, J.PENDING)
    p = t.prompt
    assert (p.status, p.attempt, p.comfy_prompt_id, p.claim_token, p.owner, p.queued_at, p.updated_at) == (
        P.PENDING, 0, None, None, None, None, now)
    assert store.attempts([p.id])[p.id] == []
    job = store.get_job(job_id)
    assert job is not None and (job.status, job.started_at, job.finished_at) == (J.PENDING, None, None)
    assert find_by_comfy_id(store, claimed.comfy_prompt_id or "") is None
    again = claim(store, clock())
    assert (again.id, again.attempt) == (claimed.id, 1) and again.comfy_prompt_id != claimed.comfy_prompt_id
    assert [a.comfy_prompt_id for a in store.attempts([p.id])[p.id]] == [again.comfy_prompt_id]


@pytest.mark.parametrize("frm", list(PromptStatus), ids=[s.value for s in PromptStatus])
def test_pull_back_only_while_queued(store: Store, dump: Callable[[], Dump], clock: Clock,
                                     frm: PromptStatus) -> None:
    prompt = prompt_in(store, frm, clock)
    before = dump()
    t = store.pull_back(prompt.id, prompt.comfy_prompt_id or "", clock())
    if frm is P.QUEUED:
        assert t is not None and t.prompt.status is P.PENDING
    else:
        assert t is None
        assert dump() == before


def test_pull_back_under_another_comfy_id_changes_nothing(store: Store, dump: Callable[[], Dump],
                                                          clock: Clock) -> None:
    claimed = prompt_in(store, P.QUEUED, clock)
    before = dump()
    assert store.pull_back(claimed.id, str(uuid.uuid4()), clock()) is None
    assert store.pull_back(claimed.id, "", clock()) is None
    assert dump() == before


def test_pull_back_of_a_retry_keeps_earlier_attempts(store: Store, clock: Clock) -> None:
    first = prompt_in(store, P.FAILED, clock)
    store.requeue(first.id, clock(), budget=1)
    second = claim(store, clock())
    assert second.attempt == 2
    assert store.pull_back(second.id, second.comfy_prompt_id or "", clock()) is not None
    (kept,) = store.attempts([first.id])[first.id]
    assert (kept.attempt, kept.comfy_prompt_id, kept.status) == (1, first.comfy_prompt_id, P.FAILED)
    assert store.get_prompt(first.id).attempt == 1  # type: ignore[union-attr]
    third = claim(store, clock())
    assert third.attempt == 2
    assert [(a.attempt, a.status) for a in store.attempts([first.id])[first.id]] == [(1, P.FAILED), (2, P.QUEUED)]


# --- attempts lineage -----------------------------------------------------------------


def test_attempts_keep_lineage_across_retries(store: Store) -> None:
    job_id = new_job(store, now=10.0, max_attempts=2)
    pid = only_prompt(store, job_id).id
    err = PromptError("execution_error", "out of memory", node_id="5")

    a1 = claim(store, 20.0)
    move(store, pid, P.RUNNING, 21.0, comfy_prompt_id=a1.comfy_prompt_id)
    move(store, pid, P.FAILED, 22.0, comfy_prompt_id=a1.comfy_prompt_id, error=err)
    store.requeue(pid, 23.0, budget=2)
    a2 = claim(store, 30.0)
    move(store, pid, P.RUNNING, 31.0, comfy_prompt_id=a2.comfy_prompt_id)
    move(store, pid, P.INTERRUPTED, 32.0, comfy_prompt_id=a2.comfy_prompt_id)
    store.requeue(pid, 33.0, budget=0)
    a3 = claim(store, 40.0)
    move(store, pid, P.SUCCEEDED, 42.0, comfy_prompt_id=a3.comfy_prompt_id, outputs=[{"filename": "ok.png"}])

    lineage = [(a.attempt, a.comfy_prompt_id, a.status, a.queued_at, a.started_at, a.finished_at, a.error)
               for a in store.attempts([pid])[pid]]
    assert lineage == [
        (1, a1.comfy_prompt_id, P.FAILED, 20.0, 21.0, 22.0, err),
        (2, a2.comfy_prompt_id, P.INTERRUPTED, 30.0, 31.0, 32.0, None),
        (3, a3.comfy_prompt_id, P.SUCCEEDED, 40.0, None, 42.0, None),
    ]
    assert len({a1.comfy_prompt_id, a2.comfy_prompt_id, a3.comfy_prompt_id}) == 3
    final = store.get_prompt(pid)
    assert final is not None
    assert (final.status, final.attempt, final.error, final.outputs, final.queued_at, final.started_at,
            final.finished_at) == (P.SUCCEEDED, 3, None, [{"filename": "ok.png"}], 40.0, None, 42.0)
    # the old ids no longer resolve to the prompt; the current one does
    assert find_by_comfy_id(store, a1.comfy_prompt_id or "") is None
    assert find_by_comfy_id(store, a3.comfy_prompt_id or "") == final


def test_canceling_a_retried_pending_prompt_keeps_the_failed_attempt(store: Store, clock: Clock) -> None:
    failed = prompt_in(store, P.FAILED, clock)
    (attempt_before,) = store.attempts([failed.id])[failed.id]
    store.requeue(failed.id, clock(), budget=1)
    move(store, failed.id, P.CANCELED, clock(), cancel_reason="user")
    assert store.attempts([failed.id])[failed.id] == [attempt_before]


# --- job status and timestamps --------------------------------------------------------


def test_job_status_and_times_are_re_derived_with_every_write(store: Store) -> None:
    job_id = new_job(store, 2, now=100.0)

    def job() -> tuple[JobStatus, float | None, float | None]:
        j = store.get_job(job_id)
        assert j is not None
        return j.status, j.started_at, j.finished_at

    assert job() == (J.PENDING, None, None)
    p0 = claim(store, 110.0)
    assert job() == (J.RUNNING, 110.0, None)
    move(store, p0.id, P.RUNNING, 120.0)
    t = move(store, p0.id, P.SUCCEEDED, 130.0)
    assert t.job is None and job() == (J.RUNNING, 110.0, None)
    p1 = claim(store, 131.0)
    t = move(store, p1.id, P.FAILED, 140.0, error=PromptError("x", "y"))
    assert t.job == JobChange(J.RUNNING, J.FAILED) and job() == (J.FAILED, 110.0, 140.0)
    t = store.requeue(p1.id, 150.0, budget=1)  # type: ignore[assignment]
    assert t.job == JobChange(J.FAILED, J.RUNNING) and job() == (J.RUNNING, 110.0, None)
    p1 = claim(store, 160.0)
    t = move(store, p1.id, P.SUCCEEDED, 170.0)
    assert t.job == JobChange(J.RUNNING, J.SUCCEEDED) and job() == (J.SUCCEEDED, 110.0, 170.0)
    assert store.get_job(job_id).updated_at == 170.0  # type: ignore[union-attr]
    assert_jobs_consistent(store)


def test_job_canceled_after_running_keeps_its_times(store: Store) -> None:
    job_id = new_job(store, 2, now=100.0)
    p0 = claim(store, 110.0)
    move(store, p0.id, P.CANCELING, 115.0, cancel_reason="user")
    p1 = store.job_prompts(job_id)[1]
    move(store, p1.id, P.CANCELED, 116.0, cancel_reason="user")
    j = store.get_job(job_id)
    assert j is not None and (j.status, j.started_at, j.finished_at) == (J.RUNNING, 110.0, None)
    t = move(store, p0.id, P.CANCELED, 120.0)
    assert t.job == JobChange(J.RUNNING, J.CANCELED)
    j = store.get_job(job_id)
    assert j is not None and (j.status, j.started_at, j.finished_at) == (J.CANCELED, 110.0, 120.0)


def test_a_job_failed_after_interruption_keeps_its_start_time(store: Store) -> None:
    job_id = new_job(store, now=100.0)
    claimed = claim(store, 110.0)
    move(store, claimed.id, P.RUNNING, 111.0)
    t = move(store, claimed.id, P.INTERRUPTED, 120.0)
    assert t.job is None  # still running: it may be retried
    move(store, claimed.id, P.FAILED, 130.0, error=PromptError("interrupted_repeatedly", "x"))
    j = store.get_job(job_id)
    assert j is not None and (j.status, j.started_at, j.finished_at) == (J.FAILED, 110.0, 130.0)


def test_a_job_canceled_before_it_started_has_no_start_time(store: Store) -> None:
    job_id = new_job(store, 2, now=100.0)
    for p in store.job_prompts(job_id):
        move(store, p.id, P.CANCELED, 110.0)
    j = store.get_job(job_id)
    assert j is not None and (j.status, j.finished_at) == (J.CANCELED, 110.0)
    assert j.started_at is None


# --- listing and counting -------------------------------------------------------------


@dataclass(frozen=True)
class Listing:
    sunset: int  # succeeded
    portrait: int  # failed
    percent: int  # pending
    underscore: int  # running (queued)
    axb: int  # canceled
    backslash: int  # pending

    @property
    def all(self) -> list[int]:
        return [self.sunset, self.portrait, self.percent, self.underscore, self.axb, self.backslash]


@pytest.fixture
def listing(store: Store) -> Listing:
    """Six one-prompt jobs, one or two in every job status."""
    sunset = new_job(store, now=100.0, name="Sunset Beach", workflow="wan22_i2v", folder="/data/Holiday")
    portrait = new_job(store, now=200.0, name="portrait set", workflow="t2i", priority=5)
    percent = new_job(store, now=300.0, name="100% done", workflow="upscale")
    underscore = new_job(store, now=400.0, name="a_b", priority=1)
    axb = new_job(store, now=500.0, name="axb")
    backslash = new_job(store, now=600.0, name="back\\slash")
    clock = Clock(1000.0)
    p = claim(store, clock())  # portrait (priority 5)
    move(store, p.id, P.FAILED, clock())
    assert claim(store, clock()).job_id == underscore  # priority 1, stays queued
    p = claim(store, clock())  # sunset, oldest
    move(store, p.id, P.RUNNING, clock())
    move(store, p.id, P.SUCCEEDED, clock())
    move(store, only_prompt(store, axb).id, P.CANCELED, clock())
    jobs = Listing(sunset, portrait, percent, underscore, axb, backslash)
    assert [store.get_job(j).status for j in jobs.all] == [  # type: ignore[union-attr]
        J.SUCCEEDED, J.FAILED, J.PENDING, J.RUNNING, J.CANCELED, J.PENDING]
    return jobs


def test_list_jobs_status_filter(store: Store, listing: Listing) -> None:
    def listed(*statuses: JobStatus) -> list[int]:
        return ids(store.list_jobs(statuses=statuses, sort="created")[0])

    assert listed(J.FAILED) == [listing.portrait]
    assert listed(J.PENDING, J.RUNNING) == [listing.percent, listing.underscore, listing.backslash]
    assert listed(J.SUCCEEDED, J.CANCELED) == [listing.sunset, listing.axb]
    assert listed(*JobStatus) == listed() == listing.all


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("sunset", ["sunset"]),
        ("SUNSET beach", ["sunset"]),  # case-insensitive, name
        ("wan22", ["sunset"]),  # workflow
        ("holiday", ["sunset"]),  # input folder
        ("/data/", ["sunset"]),
        ("  t2i  ", ["portrait"]),  # trimmed
        ("%", ["percent"]),  # LIKE wildcards are literal
        ("0% d", ["percent"]),
        ("_", ["sunset", "underscore"]),  # "wan22_i2v" and "a_b", not "axb"
        ("a_b", ["underscore"]),
        ("\\", ["backslash"]),
        ("k\\s", ["backslash"]),
        ("x", ["axb"]),
        ("nothing like it", []),
        ("#", []),
    ],
)
def test_list_jobs_search(store: Store, listing: Listing, search: str, expected: list[str]) -> None:
    jobs, total = store.list_jobs(search=search, sort="created")
    assert ids(jobs) == [getattr(listing, name) for name in expected] and total == len(expected)


def test_list_jobs_search_by_id(store: Store, listing: Listing) -> None:
    def found(search: str) -> list[int]:
        return ids(store.list_jobs(search=search, sort="created")[0])

    assert found(f"#{listing.axb}") == [listing.axb]
    assert found(f"  #{listing.backslash} ") == [listing.backslash]
    assert found(str(listing.axb)) == [listing.axb]
    assert found("999999") == []
    # a bare number is an id *or* text: job 1 by id, "100% done" by its name
    assert listing.sunset == 1
    assert found("1") == [listing.sunset, listing.percent]
    assert found("#1") == [listing.sunset]


def test_list_jobs_search_with_a_superscript_digit(store: Store, listing: Listing) -> None:
    assert store.list_jobs(search="²") == ([], 0)


SORTED = {
    "actionable": ["underscore", "portrait", "backslash", "percent", "axb", "sunset"],
    "created": ["sunset", "portrait", "percent", "underscore", "axb", "backslash"],
    "-created": ["backslash", "axb", "underscore", "percent", "portrait", "sunset"],
    "priority": ["portrait", "underscore", "sunset", "percent", "axb", "backslash"],
}


def test_every_sort_is_tested() -> None:
    assert set(JOB_SORTS) == set(SORTED)


@pytest.mark.parametrize("sort", list(SORTED))
def test_list_jobs_sorts(store: Store, listing: Listing, sort: str) -> None:
    jobs, total = store.list_jobs(sort=sort)
    assert ids(jobs) == [getattr(listing, name) for name in SORTED[sort]] and total == 6


@pytest.mark.parametrize(
    ("sort", "expected"),
    [("created", [0, 1, 2]), ("-created", [2, 1, 0]), ("priority", [0, 1, 2]), ("actionable", [2, 1, 0])],
)
def test_list_jobs_ties_break_on_id(store: Store, sort: str, expected: list[int]) -> None:
    same = [new_job(store, now=100.0, name=f"twin {i}") for i in range(3)]
    assert ids(store.list_jobs(sort=sort)[0]) == [same[i] for i in expected]


def test_list_jobs_pages_and_total(store: Store, listing: Listing) -> None:
    assert store.list_jobs(sort="created", limit=2) == (
        [store.get_job(listing.sunset), store.get_job(listing.portrait)], 6)
    jobs, total = store.list_jobs(sort="created", limit=2, offset=2)
    assert (ids(jobs), total) == ([listing.percent, listing.underscore], 6)
    jobs, total = store.list_jobs(sort="created", limit=2, offset=5)
    assert (ids(jobs), total) == ([listing.backslash], 6)
    assert store.list_jobs(sort="created", limit=2, offset=50) == ([], 6)
    jobs, total = store.list_jobs(statuses=[J.PENDING], sort="created", limit=1, offset=1)
    assert (ids(jobs), total) == ([listing.backslash], 2)
    jobs, total = store.list_jobs(statuses=[J.PENDING, J.CANCELED], search="b", sort="created", limit=1)
    assert (ids(jobs), total) == ([listing.axb], 2)  # axb and back\slash match "b"; 100% done does not


def test_totals(store: Store, listing: Listing) -> None:
    assert store.job_totals() == {J.SUCCEEDED: 1, J.FAILED: 1, J.PENDING: 2, J.RUNNING: 1, J.CANCELED: 1}
    assert store.prompt_totals() == {P.SUCCEEDED: 1, P.FAILED: 1, P.PENDING: 2, P.QUEUED: 1, P.CANCELED: 1}


def test_totals_of_an_empty_store(store: Store) -> None:
    assert store.job_totals() == {} and store.prompt_totals() == {}
    assert store.list_jobs() == ([], 0)


def test_prompts_in(store: Store, clock: Clock) -> None:
    a = new_job(store, 4, now=clock())
    new_job(store, 1, now=clock())
    p0 = claim(store, clock())
    move(store, p0.id, P.SUCCEEDED, clock())
    p1 = claim(store, clock())
    move(store, p1.id, P.RUNNING, clock())
    move(store, store.job_prompts(a)[3].id, P.CANCELED, clock())
    assert [p.index for p in store.prompts_in([P.PENDING, P.RUNNING])] == [1, 2, 0]
    assert store.prompts_in([P.FAILED]) == []


def test_average_seconds(store: Store) -> None:
    a = new_job(store, 4, now=1.0)
    b = new_job(store, 1, now=2.0)
    c = new_job(store, 1, now=3.0)
    timings = [(10.0, 40.0, P.SUCCEEDED), (50.0, 70.0, P.SUCCEEDED), (80.0, 500.0, P.FAILED)]
    for started, finished, outcome in timings:  # job a: 30 s and 20 s succeeded, one failure ignored
        p = claim(store, started - 1)
        move(store, p.id, P.RUNNING, started)
        move(store, p.id, outcome, finished)
    p = claim(store, 600.0)  # a's last prompt finishes without ever being seen running: no run time
    move(store, p.id, P.SUCCEEDED, 601.0)
    p = claim(store, 700.0)  # job b: never succeeded
    move(store, p.id, P.RUNNING, 701.0)
    assert store.average_seconds([a, b, c, 404]) == {a: pytest.approx(25.0)}
    assert store.average_seconds([]) == {}


def test_max_active_priority(store: Store, clock: Clock) -> None:
    a = new_job(store, now=clock(), priority=3)
    b = new_job(store, now=clock(), priority=7)
    assert store.max_active_priority(excluding_job=a) == 7
    assert store.max_active_priority(excluding_job=b) == 3
    move(store, only_prompt(store, b).id, P.CANCELED, clock())  # finished jobs do not count
    assert store.max_active_priority(excluding_job=a) is None


# --- job log and settings -------------------------------------------------------------


def test_job_log_order_and_paging(store: Store, clock: Clock) -> None:
    a = new_job(store, now=clock())
    b = new_job(store, now=clock())
    pid = only_prompt(store, a).id
    store.log(a, "note", "job noted", 10.0)
    store.log(b, "note", "other job", 11.0)
    store.log(a, "queued", "queued in ComfyUI", 12.0, prompt_id=pid)
    store.log(a, "failed", "boom", 9.0, level="error", prompt_id=pid)  # order is by write, not by time
    entries = store.read_log(a)
    assert [(e.job_id, e.prompt_id, e.at, e.level, e.event, e.message) for e in entries] == [
        (a, None, entries[0].at, "info", "submitted", "submitted with 1 prompt(s)"),  # create_job writes it
        (a, None, 10.0, "info", "note", "job noted"),
        (a, pid, 12.0, "info", "queued", "queued in ComfyUI"),
        (a, pid, 9.0, "error", "failed", "boom"),
    ]
    assert [e.id for e in entries] == sorted(e.id for e in entries)
    assert store.read_log(a, after=entries[0].id) == entries[1:]
    assert store.read_log(a, after=entries[0].id, limit=1) == entries[1:2]
    assert store.read_log(a, after=entries[-1].id) == []
    assert store.read_log(a, limit=2) == entries[:2]
    assert [e.message for e in store.read_log(b)] == ["submitted with 1 prompt(s)", "other job"]
    assert store.read_log(404) == []


def test_settings_round_trip(store: Store, open_store: Callable[[], Store]) -> None:
    assert store.get_setting("paused") is None
    assert store.get_setting("paused", False) is False
    values: dict[str, Any] = {
        "paused": True,
        "max_in_flight": 2,
        "ratio": 0.5,
        "owner": "host-ä",
        "roots": ["/data", "/mnt/c/Users"],
        "nested": {"a": [1, {"b": None}]},
        "nothing": None,
    }
    for key, value in values.items():
        store.set_setting(key, value)
    assert {k: store.get_setting(k, "default") for k in values} == values
    store.set_setting("paused", False)
    assert store.get_setting("paused", True) is False
    other = open_store()  # another instance on the same storage sees them
    assert other.get_setting("roots") == ["/data", "/mnt/c/Users"] and other.get_setting("paused") is False


# --- concurrency: two processes on one SQLite file ------------------------------------


def _claim_worker(path: str, owner: str, count: int, start: Any, results: Any) -> None:
    """Runs in a child process: claim ``count`` prompts as ``owner`` and report them."""
    try:
        store = SqliteQueueStore(Path(path), busy_timeout_ms=30_000)
        try:
            start.wait(60)
            got = []
            for _ in range(count):
                prompt = store.claim_next(owner=owner, now=2000.0, lease_seconds=60)
                if prompt is None:
                    break
                got.append((prompt.id, prompt.comfy_prompt_id))
        finally:
            store.close()
        results.put((owner, got, None))
    except BaseException as exc:  # report, never hang the parent
        results.put((owner, [], repr(exc)))


def test_two_processes_never_claim_the_same_prompt(tmp_path: Path) -> None:
    path = tmp_path / "vq.sqlite3"
    store = SqliteQueueStore(path)
    try:
        for j in range(4):
            store.create_job(NewJob(name=f"batch {j}"), [NewPrompt(graph=graph(i)) for i in range(100)], 1000.0 + j)
    finally:
        store.close()
    ctx = multiprocessing.get_context("spawn")  # no inherited connections or locks
    start = ctx.Barrier(2)
    results = ctx.Queue()
    procs = [ctx.Process(target=_claim_worker, args=(str(path), owner, 200, start, results))
             for owner in ("proc-a", "proc-b")]
    for proc in procs:
        proc.start()
    try:
        reports = [results.get(timeout=120) for _ in procs]
    finally:
        for proc in procs:
            proc.join(timeout=30)
            if proc.is_alive():
                proc.kill()
    assert [err for _, _, err in reports if err] == []
    claimed = {owner: got for owner, got, _ in reports}
    assert {owner: len(got) for owner, got in claimed.items()} == {"proc-a": 200, "proc-b": 200}
    all_ids = [pid for got in claimed.values() for pid, _ in got]
    assert len(all_ids) == len(set(all_ids)) == 400
    assert len({cpid for got in claimed.values() for _, cpid in got}) == 400
    check = SqliteQueueStore(path)
    try:
        assert check.prompt_totals() == {P.QUEUED: 400}
        owners = {p.id: p.owner for p in check.prompts_in([P.QUEUED])}
        for owner, got in claimed.items():
            assert {owners[pid] for pid, _ in got} == {owner}
        attempts = check.attempts(all_ids)
        assert all(len(rows) == 1 and rows[0].attempt == 1 for rows in attempts.values())
        assert check.claim_next(owner="late", now=3000.0, lease_seconds=60) is None
    finally:
        check.close()


# --- performance guard: query plans at scale (not timed) ------------------------------

PROMPT_ALIAS = re.compile(r"\b(?:FROM|JOIN|UPDATE)\s+prompt\b(?:\s+(?:AS\s+)?(?!WHERE|SET|ON|ORDER|GROUP|LIMIT)(\w+))?",
                          re.I)


def _plan_problems(conn: sqlite3.Connection, statement: Statement, *, full_sort_ok: bool = True) -> list[str]:
    """Why this statement would touch prompts (or sort jobs) without an index; [] if fine."""
    sql = statement.sql
    prompt_names = {alias or "prompt" for alias in PROMPT_ALIAS.findall(sql)}
    rows = conn.execute("EXPLAIN QUERY PLAN " + sql, statement.params).fetchall()
    siblings: dict[int, list[str]] = {}
    for _, parent, _, detail in rows:
        siblings.setdefault(parent, []).append(detail)

    def table(detail: str) -> str | None:
        m = re.match(r"(?:SCAN|SEARCH) (\w+)", detail)
        return m.group(1) if m and "CONSTANT ROWS" not in detail else None  # not a multi-row VALUES

    problems = []
    for _, parent, _, detail in rows:
        name = table(detail)
        if name in prompt_names and not detail.startswith("SEARCH"):
            problems.append(f"scans prompts: {detail}")
        if name is not None and name not in prompt_names and detail.startswith("SCAN") and "INDEX" not in detail:
            problems.append(f"full table scan: {detail}")
        if detail.startswith("USE TEMP B-TREE"):
            sorted_tables = {table(d) for d in siblings[parent]}
            if sorted_tables & prompt_names:
                problems.append(f"sorts prompts in a temp b-tree: {detail}")
            elif not full_sort_ok and detail.startswith("USE TEMP B-TREE FOR ORDER BY"):
                problems.append(f"sorts every row before LIMIT: {detail}")
    return [f"{p}\n    in: {' '.join(sql.split())[:200]}" for p in problems]


def _traced(store: Store, call: Callable[[], Any]) -> list[Statement]:
    """The data statements ``call`` runs on the store's connection."""
    return [s for s in statements_run(store, call) if s.verb in ("SELECT", "UPDATE", "INSERT", "DELETE")]


@pytest.mark.slow
def test_hot_queries_use_indexes_at_scale(tmp_path: Path) -> None:
    n_jobs, per_job = 10_000, 10
    store = SqliteQueueStore(tmp_path / "big.sqlite3")
    try:
        # Test-only: skip syncs while bulk loading (query plans do not depend on it).
        store._conn.execute("PRAGMA synchronous = OFF")
        prompts = [NewPrompt(graph=graph(i), seed=i) for i in range(per_job)]
        for i in range(n_jobs):
            job = NewJob(name=f"job {i}", priority=i % 3, workflow="wan22_i2v", source={"folder": f"/data/{i % 50}"})
            store.create_job(job, prompts, 1000.0 + i)
        clock = Clock(50_000.0)
        for i in range(40):  # some history: every job and prompt status exists
            p = claim(store, clock())
            move(store, p.id, [P.RUNNING, P.SUCCEEDED, P.FAILED, P.CANCELING][i % 4], clock())
        assert sum(store.prompt_totals().values()) == n_jobs * per_job

        with closing(sqlite3.connect(store.path)) as conn:
            problems: list[str] = []
            statements = _traced(store, lambda: claim(store, clock()))
            assert any("UPDATE prompt" in s.sql for s in statements)
            for sql in statements:
                problems += _plan_problems(conn, sql)

            for statuses in ((), (J.RUNNING, J.FAILED)):
                listed = _traced(store, lambda s=statuses: store.list_jobs(statuses=s, sort="actionable", limit=50))
                page = next(s for s in listed if "ORDER BY" in s.sql)
                problems += _plan_problems(conn, page, full_sort_ok=bool(statuses))
                problems += [p for s in listed if s is not page for p in _plan_problems(conn, s)]
            jobs, total = store.list_jobs(sort="actionable", limit=50)
            assert total == n_jobs and jobs[0].status is J.RUNNING

        assert problems == []
    finally:
        store.close()
