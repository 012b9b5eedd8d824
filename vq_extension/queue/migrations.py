"""The store's schema, as an ordered list of migrations (part of the store: only
``store.py`` runs these). A fresh database runs them all; an existing one runs those
above its ``PRAGMA user_version``. Never edit a released migration: append one."""

from __future__ import annotations

from pathlib import Path

V1 = [
    """
    CREATE TABLE job (
        id            INTEGER PRIMARY KEY AUTOINCREMENT,
        name          TEXT NOT NULL,
        status        TEXT NOT NULL CHECK (status IN ('pending', 'running', 'succeeded', 'failed', 'canceled')),
        status_rank   INTEGER NOT NULL,          -- position in the actionable order, for sorting
        priority      INTEGER NOT NULL DEFAULT 0,
        workflow      TEXT,
        mode          TEXT,
        params_json   TEXT NOT NULL DEFAULT '{}',
        options_json  TEXT NOT NULL DEFAULT '{}',
        source_json   TEXT,
        workspace     TEXT,
        search_text   TEXT NOT NULL,             -- lower-cased name, workflow and input folder
        created_at    REAL NOT NULL,
        started_at    REAL,
        finished_at   REAL,
        updated_at    REAL NOT NULL
    )
    """,
    "CREATE INDEX job_actionable ON job (status_rank, created_at DESC)",
    "CREATE INDEX job_claim_order ON job (status, priority DESC, created_at, id)",
    "CREATE INDEX job_created ON job (created_at)",
    """
    CREATE TABLE prompt (
        id               INTEGER PRIMARY KEY AUTOINCREMENT,
        job_id           INTEGER NOT NULL REFERENCES job (id) ON DELETE CASCADE,
        idx              INTEGER NOT NULL,
        status           TEXT NOT NULL CHECK (status IN ('pending', 'queued', 'running', 'canceling',
                                                         'succeeded', 'failed', 'canceled', 'interrupted')),
        attempt          INTEGER NOT NULL DEFAULT 0,   -- attempts started so far
        max_attempts     INTEGER NOT NULL DEFAULT 2,   -- interruptions tolerated before failing
        seed             INTEGER,
        input_file       TEXT,
        staged_name      TEXT,
        try_index        INTEGER NOT NULL DEFAULT 0,
        params_json      TEXT,
        graph_json       TEXT NOT NULL,
        comfy_prompt_id  TEXT,
        claim_token      TEXT,
        owner            TEXT,
        lease_expires_at REAL,
        cancel_reason    TEXT,
        error_json       TEXT,
        outputs_json     TEXT NOT NULL DEFAULT '[]',
        created_at       REAL NOT NULL,
        queued_at        REAL,
        started_at       REAL,
        finished_at      REAL,
        updated_at       REAL NOT NULL,
        UNIQUE (job_id, idx)
    )
    """,
    "CREATE INDEX prompt_job_status ON prompt (job_id, status, idx)",
    "CREATE INDEX prompt_status ON prompt (status)",
    "CREATE UNIQUE INDEX prompt_comfy_id ON prompt (comfy_prompt_id) WHERE comfy_prompt_id IS NOT NULL",
    """
    CREATE TABLE attempt (
        id               INTEGER PRIMARY KEY AUTOINCREMENT,
        prompt_id        INTEGER NOT NULL REFERENCES prompt (id) ON DELETE CASCADE,
        attempt          INTEGER NOT NULL,
        comfy_prompt_id  TEXT NOT NULL,
        status           TEXT NOT NULL,
        queued_at        REAL NOT NULL,
        started_at       REAL,
        finished_at      REAL,
        error_json       TEXT,
        UNIQUE (prompt_id, attempt)
    )
    """,
    """
    CREATE TABLE job_log (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        job_id     INTEGER NOT NULL REFERENCES job (id) ON DELETE CASCADE,
        prompt_id  INTEGER,
        at         REAL NOT NULL,
        level      TEXT NOT NULL,
        event      TEXT NOT NULL,
        message    TEXT NOT NULL
    )
    """,
    "CREATE INDEX job_log_job ON job_log (job_id, id)",
    "CREATE TABLE setting (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
]

# Staging retention: one row per file a cleanup removed (or failed to remove).
V2 = [
    """
    CREATE TABLE staging_audit (
        id      INTEGER PRIMARY KEY AUTOINCREMENT,
        at      REAL NOT NULL,
        action  TEXT NOT NULL,       -- delete_staged, delete_temp, delete_partial_upload
        path    TEXT NOT NULL,
        bytes   INTEGER,
        result  TEXT NOT NULL,       -- deleted, gone, failed, kept
        detail  TEXT
    )
    """,
]

# Ownership (several ComfyUI processes on one database): one row per running vq instance,
# renewed by its dispatcher; a prompt's `owner` is an instance id and its lease is renewed
# with it. Prompts claimed before this (owner = a host name, a 24 h lease) are free to
# recover at once. Idempotency keys of POST /vq/v1/jobs, kept 24 h.
V3 = [
    """
    CREATE TABLE instance (
        id               TEXT PRIMARY KEY,   -- host:port:pid:start:random
        host             TEXT NOT NULL,
        port             INTEGER,
        pid              INTEGER NOT NULL,
        started_at       REAL NOT NULL,
        heartbeat_at     REAL NOT NULL,
        lease_expires_at REAL NOT NULL
    )
    """,
    "UPDATE prompt SET lease_expires_at = 0 WHERE status IN ('queued', 'running', 'canceling')",
    """
    CREATE TABLE idempotency_key (
        key          TEXT PRIMARY KEY,
        body_sha256  TEXT NOT NULL,
        job_id       INTEGER NOT NULL REFERENCES job (id) ON DELETE CASCADE,
        created_at   REAL NOT NULL
    )
    """,
    "CREATE INDEX idempotency_key_created ON idempotency_key (created_at)",
]

# Auto-prompt's cache: captions and motion prompts by the hash of what produced them
# (autoprompt/cache.py). A key says everything that made its value, so nothing goes stale;
# a "regenerate" request overwrites the value with a fresh answer.
V4 = [
    """
    CREATE TABLE autoprompt_cache (
        kind        TEXT NOT NULL,   -- caption, motion
        key         TEXT NOT NULL,   -- sha256 hex of the inputs
        value       TEXT NOT NULL,   -- a caption, or a JSON list of motion prompts
        PRIMARY KEY (kind, key)
    )
    """,
]

# Presets of the Submit view: prompt texts and workflow settings, scoped by the view's mode.
V5 = [
    """
    CREATE TABLE preset (
        id                INTEGER PRIMARY KEY AUTOINCREMENT,
        name              TEXT NOT NULL,
        kind              TEXT NOT NULL CHECK (kind IN ('prompt', 'settings')),
        mode              TEXT NOT NULL,
        workflow          TEXT,
        payload_json      TEXT NOT NULL,
        prompt_preset_id  INTEGER REFERENCES preset (id) ON DELETE SET NULL,
        created_at        REAL NOT NULL,
        updated_at        REAL NOT NULL,
        UNIQUE (kind, mode, name)
    )
    """,
]

# Counters kept incrementally (issue 11): each job carries its prompts' status counts and
# the run time of its succeeded prompts, and ``prompt_total`` holds the queue-wide counts,
# all updated by the store in the same transaction as the status change they follow.
# Re-deriving a job's status or the queue state is then O(1), not a GROUP BY over prompts.
STATUSES = ("pending", "queued", "running", "canceling", "succeeded", "failed", "canceled", "interrupted")
V6 = [
    *(f"ALTER TABLE job ADD COLUMN n_{s} INTEGER NOT NULL DEFAULT 0" for s in STATUSES),
    "ALTER TABLE job ADD COLUMN run_seconds REAL NOT NULL DEFAULT 0",  # sum over succeeded prompts
    "ALTER TABLE job ADD COLUMN run_count INTEGER NOT NULL DEFAULT 0",  # succeeded prompts with a start time
    "CREATE TABLE prompt_total (status TEXT PRIMARY KEY, n INTEGER NOT NULL DEFAULT 0)",
    *(f"INSERT INTO prompt_total (status, n) VALUES ('{s}', 0)" for s in STATUSES),
    # backfill an existing database (the store's recount() does the same)
    "UPDATE job SET " + ", ".join(
        f"n_{s} = (SELECT COUNT(*) FROM prompt p WHERE p.job_id = job.id AND p.status = '{s}')" for s in STATUSES)
    + ", run_seconds = (SELECT COALESCE(SUM(finished_at - started_at), 0) FROM prompt p"
      " WHERE p.job_id = job.id AND p.status = 'succeeded' AND p.started_at IS NOT NULL)"
    + ", run_count = (SELECT COUNT(*) FROM prompt p"
      " WHERE p.job_id = job.id AND p.status = 'succeeded' AND p.started_at IS NOT NULL)",
    "UPDATE prompt_total SET n = (SELECT COUNT(*) FROM prompt p WHERE p.status = prompt_total.status)",
]

# The bookkeeping of every prompt status change done by SQLite itself (issue 11): triggers
# keep the counters above, the job's derived status and times, and the attempt rows, in the
# statement that changes the prompt. Inside ComfyUI every sqlite3 call the store makes hands
# the GIL to ComfyUI's worker and back (docs/performance.md); a trigger costs no call.
# Only statuses change here: an attempt's or a prompt's other columns are the store's.
_TERMINAL = "('succeeded', 'failed', 'canceled')"
_TOTAL = "(" + " + ".join(f"n_{s}" for s in STATUSES) + ")"
# models.derive_job_status over the job's counters (a test checks every mix agrees).
JOB_STATUS_V7 = f"""(CASE
  WHEN {_TOTAL} = 0 THEN 'pending'
  WHEN n_succeeded + n_failed + n_canceled = {_TOTAL} THEN
       CASE WHEN n_succeeded = {_TOTAL} THEN 'succeeded' WHEN n_failed > 0 THEN 'failed' ELSE 'canceled' END
  WHEN n_queued + n_running + n_canceling + n_succeeded + n_failed + n_canceled + n_interrupted > 0 THEN 'running'
  ELSE 'pending' END)"""
_JOB_RANK = f"(CASE {JOB_STATUS_V7} " + " ".join(  # the position in models.ACTIONABLE_ORDER
    f"WHEN '{s}' THEN {rank}" for rank, s in enumerate(("running", "failed", "pending", "canceled", "succeeded"))) + " END)"


def _timed(row: str) -> str:
    """1 when the row counts in its job's run_seconds / run_count: succeeded, with a start."""
    return f"({row}.status = 'succeeded' AND {row}.started_at IS NOT NULL)"


def _run_time(row: str) -> str:
    return f"(CASE WHEN {_timed(row)} THEN COALESCE({row}.finished_at, {row}.updated_at) - {row}.started_at ELSE 0 END)"


V7 = [
    # A job is created with its prompts, all pending, and starts pending: counting is enough.
    f"""
    CREATE TRIGGER prompt_inserted_counted AFTER INSERT ON prompt BEGIN
      UPDATE job SET {", ".join(f"n_{s} = n_{s} + (NEW.status = '{s}')" for s in STATUSES)} WHERE id = NEW.job_id;
      UPDATE prompt_total SET n = n + 1 WHERE status = NEW.status;
    END
    """,
    # Prompts are deleted only with their job (ON DELETE CASCADE): only the totals remain to fix.
    """
    CREATE TRIGGER prompt_deleted_counted AFTER DELETE ON prompt BEGIN
      UPDATE prompt_total SET n = n - 1 WHERE status = OLD.status;
    END
    """,
    # Counters, run time, the job's start (its first claim), then its status re-derived.
    f"""
    CREATE TRIGGER prompt_status_counted AFTER UPDATE OF status ON prompt WHEN OLD.status != NEW.status BEGIN
      UPDATE job SET {", ".join(f"n_{s} = n_{s} + (NEW.status = '{s}') - (OLD.status = '{s}')" for s in STATUSES)},
             run_seconds = run_seconds + {_run_time("NEW")} - {_run_time("OLD")},
             run_count = run_count + {_timed("NEW")} - {_timed("OLD")},
             started_at = CASE WHEN NEW.status = 'queued' THEN COALESCE(started_at, NEW.updated_at) ELSE started_at END,
             updated_at = NEW.updated_at
       WHERE id = NEW.job_id;
      UPDATE prompt_total SET n = n + (status = NEW.status) - (status = OLD.status)
       WHERE status IN (OLD.status, NEW.status);
      UPDATE job SET status = {JOB_STATUS_V7}, status_rank = {_JOB_RANK}, updated_at = NEW.updated_at,
             started_at = CASE WHEN {JOB_STATUS_V7} = 'pending' THEN NULL ELSE started_at END,
             finished_at = CASE WHEN {JOB_STATUS_V7} IN {_TERMINAL} THEN COALESCE(finished_at, NEW.updated_at)
                                ELSE NULL END
       WHERE id = NEW.job_id AND status != {JOB_STATUS_V7};
    END
    """,
    # A claim opens an attempt; pulling an unstarted prompt back out of ComfyUI undoes it.
    """
    CREATE TRIGGER attempt_opened AFTER UPDATE OF status ON prompt
      WHEN OLD.status = 'pending' AND NEW.status = 'queued' BEGIN
      INSERT INTO attempt (prompt_id, attempt, comfy_prompt_id, status, queued_at)
      VALUES (NEW.id, NEW.attempt, NEW.comfy_prompt_id, 'queued', NEW.queued_at);
    END
    """,
    """
    CREATE TRIGGER attempt_undone AFTER UPDATE OF status ON prompt
      WHEN OLD.status = 'queued' AND NEW.status = 'pending' BEGIN
      DELETE FROM attempt WHERE prompt_id = OLD.id AND comfy_prompt_id = OLD.comfy_prompt_id;
    END
    """,
    # While in ComfyUI the current attempt mirrors the prompt (a retried prompt's earlier
    # attempts are history: finished_at is set).
    """
    CREATE TRIGGER attempt_mirrored AFTER UPDATE OF status ON prompt
      WHEN OLD.status IN ('queued', 'running', 'canceling') AND NEW.status != 'pending' BEGIN
      UPDATE attempt SET status = NEW.status, started_at = NEW.started_at, error_json = NEW.error_json,
             finished_at = CASE WHEN NEW.status IN ('succeeded', 'failed', 'canceled', 'interrupted') THEN NEW.updated_at
                                ELSE finished_at END
       WHERE prompt_id = NEW.id AND attempt = NEW.attempt AND finished_at IS NULL;
    END
    """,
]

# Run on every connection after the migrations: a TEMP trigger, this connection's own, that
# tells the store (the SQL function it registers, store._note_job_change) each job status
# change this connection makes: the store logs them ("job is now ...") after the prompts'
# own lines and tells the dispatcher, without a query for them in every transaction.
CONNECTION_SETUP = [
    """
    CREATE TEMP TRIGGER job_change_noted AFTER UPDATE OF status ON main.job WHEN OLD.status != NEW.status BEGIN
      SELECT vq_note_job_change(NEW.id, OLD.status, NEW.status);
    END
    """,
]

MIGRATIONS: list[tuple[int, list[str]]] = [(1, V1), (2, V2), (3, V3), (4, V4), (5, V5), (6, V6), (7, V7)]
SCHEMA_VERSION = MIGRATIONS[-1][0]


class SchemaTooNew(RuntimeError):
    def __init__(self, path: Path, found: int, known: int) -> None:
        super().__init__(
            f"the queue database {path} has schema version {found}, but this vq knows only up to "
            f"{known}: it was written by a newer vq. Update vq, or point VQ_DATA_DIR at another folder."
        )
