"""Every SQL statement vq runs, named, with a line on what it does (DDL: ``migrations.py``;
the presets' own: ``store_presets.py``). Only the store's modules execute them; transition
statements are built from ``models.py``'s table, so the guard and the table cannot drift."""

from __future__ import annotations

from collections.abc import Iterable

from .models import (
    ACTIVE,
    ALLOWED_FROM,
    IN_COMFY,
    RETRYABLE,
    TERMINAL,
    JobStatus,
    PromptStatus,
)

P = PromptStatus


def in_list(statuses: Iterable[PromptStatus | JobStatus]) -> str:
    return ", ".join(f"'{s.value}'" for s in sorted(statuses, key=lambda s: s.value))


# --- statements -------------------------------------------------------------------

# A prompt as its records read it: every column but the graph, kilobytes of JSON that only a
# claim needs (a job's detail reads all its prompts; a tick returns the prompts it moves).
PROMPT_COLUMNS = (
    "id, job_id, idx, status, attempt, max_attempts, seed, input_file, staged_name, try_index, params_json,"
    " comfy_prompt_id, claim_token, owner, lease_expires_at, cancel_reason, error_json, outputs_json,"
    " created_at, queued_at, started_at, finished_at, updated_at"
)

# Insert one job.
INSERT_JOB = """
INSERT INTO job (name, status, status_rank, priority, workflow, mode, params_json, options_json,
                 source_json, workspace, search_text, created_at, updated_at)
VALUES (:name, 'pending', :rank, :priority, :workflow, :mode, :params, :options,
        :source, :workspace, :search, :now, :now)
"""

# Insert one prompt of a job.
INSERT_PROMPT = """
INSERT INTO prompt (job_id, idx, status, max_attempts, seed, input_file, staged_name, try_index,
                    params_json, graph_json, created_at, updated_at)
VALUES (:job_id, :idx, 'pending', :max_attempts, :seed, :input_file, :staged_name, :try_index,
        :params, :graph, :now, :now)
"""

# Guarded status change; one statement per target status, built from the transition table.
# A prompt's start is first the time vq saw it running (a tick, a few ms late), then, once it
# ended, ComfyUI's own execution_start from its history when there is one: the real start, on
# one clock for every prompt (vq's late look must not put it after the prompt that ran next).
_TRANSITION_TEMPLATE = """
UPDATE prompt SET status = :to, updated_at = :now,
       started_at = CASE WHEN :to = 'running' THEN :now ELSE COALESCE(:started_at, started_at) END,
       finished_at = CASE WHEN :to IN ({terminal}) THEN :now ELSE finished_at END,
       error_json = CASE WHEN :set_error THEN :error ELSE error_json END,
       outputs_json = CASE WHEN :set_outputs THEN :outputs ELSE outputs_json END,
       cancel_reason = CASE WHEN :set_reason THEN :reason ELSE cancel_reason END
 WHERE id = :id AND status IN ({allowed})
   AND (:expected IS NULL OR status = :expected)
   AND (:comfy_prompt_id IS NULL OR comfy_prompt_id = :comfy_prompt_id)
RETURNING {columns}
"""
TRANSITION: dict[PromptStatus, str] = {
    to: _TRANSITION_TEMPLATE.format(terminal=in_list(TERMINAL), allowed=in_list(allowed), columns=PROMPT_COLUMNS)
    for to, allowed in ALLOWED_FROM.items()
    if to is not P.PENDING and to is not P.QUEUED  # those have their own statements below
}

# Claim the next pending prompt (highest job priority, then oldest job, then prompt index):
# pending -> queued, stamping the attempt, claim token, owner and ComfyUI id. The attempt
# row, the counters and the job's start follow by trigger (migrations.V7).
CLAIM_NEXT_PROMPT = f"""
UPDATE prompt SET status = 'queued', attempt = attempt + 1, comfy_prompt_id = :comfy_prompt_id,
       claim_token = :token, owner = :owner, lease_expires_at = :lease, queued_at = :now,
       started_at = NULL, finished_at = NULL, error_json = NULL, outputs_json = '[]',
       cancel_reason = NULL, updated_at = :now
 WHERE status = 'pending' AND id = (
       SELECT p.id FROM prompt p
        WHERE p.status = 'pending' AND p.job_id = (
              SELECT j.id FROM job j
               WHERE j.status IN ('pending', 'running') AND j.n_pending > 0
               ORDER BY j.priority DESC, j.created_at, j.id LIMIT 1)
        ORDER BY p.idx LIMIT 1)
RETURNING {PROMPT_COLUMNS}, graph_json
"""

# Pause: queued -> pending for a prompt ComfyUI had not started; the attempt is undone.
PULL_BACK_PROMPT = f"""
UPDATE prompt SET status = 'pending', attempt = attempt - 1, comfy_prompt_id = NULL,
       claim_token = NULL, owner = NULL, lease_expires_at = NULL, queued_at = NULL, updated_at = :now
 WHERE id = :id AND status = 'queued' AND comfy_prompt_id = :comfy_prompt_id
RETURNING {PROMPT_COLUMNS}
"""

# Back to pending for another attempt (user retry, or recovery while attempts remain).
REQUEUE_PROMPT = f"""
UPDATE prompt SET status = 'pending', max_attempts = MAX(max_attempts, attempt + :budget),
       comfy_prompt_id = NULL, claim_token = NULL, owner = NULL, lease_expires_at = NULL,
       queued_at = NULL, started_at = NULL, finished_at = NULL, cancel_reason = NULL, updated_at = :now
 WHERE id = :id AND status IN ({in_list(ALLOWED_FROM[P.PENDING] - {P.QUEUED})})
RETURNING {PROMPT_COLUMNS}
"""

# --- ownership: instances, leases, recovery ---

# An instance says it is alive, and renews the leases of the prompts it has in ComfyUI.
UPSERT_INSTANCE = """
INSERT INTO instance (id, host, port, pid, started_at, heartbeat_at, lease_expires_at)
VALUES (:id, :host, :port, :pid, :started_at, :now, :lease)
ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at, lease_expires_at = excluded.lease_expires_at
"""
RENEW_LEASES = f"""
UPDATE prompt SET lease_expires_at = :lease
 WHERE owner = :id AND status IN ({in_list(IN_COMFY)})
"""
# Instances silent for a day are history.
DELETE_OLD_INSTANCES = "DELETE FROM instance WHERE lease_expires_at < :before"
SELECT_INSTANCES = "SELECT * FROM instance ORDER BY started_at, id"

# A lost prompt that never started goes back to pending as if it had never been claimed
# (no attempt used); guarded by its ComfyUI id and, for another instance's row, the owner
# and (unless it is a previous run of this instance) an expired lease.
_LOST_GUARD = """
   AND comfy_prompt_id = :comfy_prompt_id AND owner IS :owner
   AND (:lease_before IS NULL OR lease_expires_at IS NULL OR lease_expires_at < :lease_before)
"""
UNCLAIM_LOST_PROMPT = f"""
UPDATE prompt SET status = 'pending', attempt = attempt - 1, comfy_prompt_id = NULL,
       claim_token = NULL, owner = NULL, lease_expires_at = NULL, queued_at = NULL,
       started_at = NULL, updated_at = :now
 WHERE id = :id AND status = 'queued' AND started_at IS NULL {_LOST_GUARD}
RETURNING {PROMPT_COLUMNS}
"""
# A lost prompt that started: interrupted (then requeued or failed in the same transaction).
INTERRUPT_LOST_PROMPT = f"""
UPDATE prompt SET status = 'interrupted', error_json = :error, updated_at = :now
 WHERE id = :id AND status IN ('queued', 'running') {_LOST_GUARD}
RETURNING {PROMPT_COLUMNS}
"""
# interrupted -> failed (attempts used up), outside the transition table's guard helper.
FAIL_INTERRUPTED_PROMPT = f"""
UPDATE prompt SET status = 'failed', error_json = :error, finished_at = :now, updated_at = :now
 WHERE id = :id AND status = 'interrupted'
RETURNING {PROMPT_COLUMNS}
"""

# --- idempotency keys of POST /jobs ---

SELECT_IDEMPOTENCY_KEY = "SELECT * FROM idempotency_key WHERE key = ? AND created_at >= ?"
DELETE_OLD_IDEMPOTENCY_KEYS = "DELETE FROM idempotency_key WHERE created_at < ?"
INSERT_IDEMPOTENCY_KEY = """
INSERT OR REPLACE INTO idempotency_key (key, body_sha256, job_id, created_at)
VALUES (:key, :sha, :job_id, :now)
"""

SELECT_PROMPT = f"SELECT {PROMPT_COLUMNS} FROM prompt WHERE id = ?"
SELECT_PROMPT_GRAPH = "SELECT graph_json FROM prompt WHERE id = ?"
SELECT_JOB_PROMPTS = f"SELECT {PROMPT_COLUMNS} FROM prompt WHERE job_id = ? ORDER BY idx"
SELECT_PROMPTS_IN = f"SELECT {PROMPT_COLUMNS} FROM prompt WHERE status IN ({{statuses}}) ORDER BY id"
SELECT_ATTEMPTS = "SELECT * FROM attempt WHERE prompt_id IN ({ids}) ORDER BY prompt_id, attempt"
SELECT_JOB = "SELECT * FROM job WHERE id = ?"
SELECT_JOBS_BY_ID = "SELECT * FROM job WHERE id IN ({ids})"
SELECT_PROMPT_TOTALS = "SELECT status, n FROM prompt_total"
SELECT_JOB_TOTALS = "SELECT status, COUNT(*) AS n FROM job GROUP BY status"
SELECT_MAX_ACTIVE_PRIORITY = (
    "SELECT MAX(priority) FROM job WHERE status IN ('pending', 'running') AND id != ?"
)

# --- bulk actions (set-based: a handful of statements for any number of prompts) ---

# Cancel every pending prompt of one job (:job_id) or of every job (:job_id NULL).
CANCEL_PENDING = """
UPDATE prompt SET status = 'canceled', finished_at = :now, updated_at = :now
 WHERE status = 'pending' AND (:job_id IS NULL OR job_id = :job_id)
"""
# Logged first (the counters still say how many), and it names the jobs the cancel moves.
LOG_CANCEL_PENDING = """
INSERT INTO job_log (job_id, prompt_id, at, level, event, message)
SELECT id, NULL, :now, 'info', 'canceled', 'canceled ' || n_pending || ' pending prompt(s) ' || :why
  FROM job WHERE n_pending > 0 AND (:job_id IS NULL OR id = :job_id)
RETURNING job_id
"""
# Retry: every failed / canceled / interrupted prompt of a job back to pending.
RETRY_JOB_PROMPTS = f"""
UPDATE prompt SET status = 'pending', max_attempts = MAX(max_attempts, attempt + :budget),
       comfy_prompt_id = NULL, claim_token = NULL, owner = NULL, lease_expires_at = NULL,
       queued_at = NULL, started_at = NULL, finished_at = NULL, cancel_reason = NULL, updated_at = :now
 WHERE job_id = :job_id AND status IN ({in_list(RETRYABLE)})
"""
SELECT_IN_COMFY_OF_JOB = f"SELECT {PROMPT_COLUMNS} FROM prompt WHERE job_id = ? AND status IN ({in_list(IN_COMFY)}) ORDER BY id"
UPDATE_JOB_PRIORITY = "UPDATE job SET priority = :priority, updated_at = :now WHERE id = :id"

INSERT_LOG = """
INSERT INTO job_log (job_id, prompt_id, at, level, event, message)
VALUES (:job_id, :prompt_id, :at, :level, :event, :message)
"""


def insert_logs(rows: int) -> str:
    """One INSERT of ``rows`` log lines (positional: job_id, prompt_id, at, level, event, message)."""
    return _INSERT_LOGS + ", ".join(["(?, ?, ?, ?, ?, ?)"] * rows)


_INSERT_LOGS = "INSERT INTO job_log (job_id, prompt_id, at, level, event, message) VALUES "
SELECT_LOG = "SELECT * FROM job_log WHERE job_id = ? AND id > ? ORDER BY id LIMIT ?"

SELECT_SETTING = "SELECT value FROM setting WHERE key = ?"
UPSERT_SETTING = """
INSERT INTO setting (key, value) VALUES (:key, :value)
ON CONFLICT (key) DO UPDATE SET value = excluded.value
"""

SELECT_AUTOPROMPT = "SELECT value FROM autoprompt_cache WHERE kind = ? AND key = ?"
UPSERT_AUTOPROMPT = """
INSERT INTO autoprompt_cache (kind, key, value) VALUES (:kind, :key, :value)
ON CONFLICT (kind, key) DO UPDATE SET value = excluded.value
"""

JOB_ORDER = {
    "actionable": "status_rank, created_at DESC, id DESC",
    "created": "created_at, id",
    "-created": "created_at DESC, id DESC",
    "priority": "priority DESC, created_at, id",
}
JOB_SORTS = tuple(JOB_ORDER)
SELECT_JOBS = "SELECT * FROM job {where} ORDER BY {order} LIMIT ? OFFSET ?"
COUNT_JOBS = "SELECT COUNT(*) FROM job {where}"

# --- staging references ---

# Per staged name: is a prompt using it live, is any job using it unfinished, when did the last finish.
SELECT_STAGED_REFERENCES = f"""
SELECT p.staged_name AS name,
       MAX(p.status IN ({in_list(ACTIVE)})) AS live,
       MAX(j.finished_at IS NULL) AS unfinished,
       MAX(j.finished_at) AS last_finished
  FROM prompt p JOIN job j ON j.id = p.job_id
 WHERE p.staged_name IS NOT NULL
 GROUP BY p.staged_name
"""
INSERT_AUDIT = """
INSERT INTO staging_audit (at, action, path, bytes, result, detail)
VALUES (:at, :action, :path, :bytes, :result, :detail)
"""
# Newest first.
SELECT_AUDIT = "SELECT * FROM staging_audit ORDER BY id DESC LIMIT ?"

# --- deleting finished jobs (prompts, attempts and log go with them: ON DELETE CASCADE) ----

_FINISHED_JOB = f"""
j.status IN ('succeeded', 'failed', 'canceled')
 AND NOT EXISTS (SELECT 1 FROM prompt p WHERE p.job_id = j.id AND p.status IN ({in_list(ACTIVE)}))
"""
# One job, only when finished (the caller tells "unknown" from "not finished" by reading it).
DELETE_FINISHED_JOB = f"DELETE FROM job WHERE id = :id AND id IN (SELECT j.id FROM job j WHERE {_FINISHED_JOB})"
# Retention: finished jobs whose last prompt finished before the cutoff, oldest first.
SELECT_FINISHED_BEFORE = f"""
SELECT j.id FROM job j
 WHERE {_FINISHED_JOB} AND COALESCE(j.finished_at, j.updated_at) < :cutoff
 ORDER BY j.id LIMIT :limit
"""
DELETE_JOBS = "DELETE FROM job WHERE id IN ({marks})"


# --- "stuck?" ------------------------------------------------------------------------------

# Running prompts with the mean run time of succeeded prompts of the same workflow (raw-graph
# jobs: of the same job), for the "stuck?" hint; the average is NULL when nothing succeeded yet.
# From the jobs' kept run_seconds / run_count (issue 11), not an AVG over every prompt.
SELECT_RUNNING_WITH_AVERAGE = """
SELECT p.id, p.job_id, p.idx, p.started_at, j.workflow,
       CASE WHEN j.workflow IS NULL THEN j.run_seconds / NULLIF(j.run_count, 0)
            ELSE (SELECT SUM(k.run_seconds) / NULLIF(SUM(k.run_count), 0) FROM job k WHERE k.workflow = j.workflow)
       END AS average
  FROM prompt p JOIN job j ON j.id = p.job_id
 WHERE p.status = 'running' AND p.started_at IS NOT NULL
"""
