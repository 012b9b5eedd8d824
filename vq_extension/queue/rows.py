"""SQLite rows -> records (the store's read side; no SQL here)."""

from __future__ import annotations

import json
import sqlite3

from ..errors import PromptError
from ..files.records import AuditEntry
from .models import JobStatus, PromptStatus
from .records import (
    AttemptRecord,
    InstanceRecord,
    JobRecord,
    LogEntry,
    PresetRecord,
    PromptRecord,
)


def error(raw: str | None) -> PromptError | None:
    return PromptError.from_dict(json.loads(raw)) if raw else None


def job(row: sqlite3.Row) -> JobRecord:
    return JobRecord(
        id=row["id"],
        name=row["name"],
        status=JobStatus(row["status"]),
        priority=row["priority"],
        workflow=row["workflow"],
        mode=row["mode"],
        params=json.loads(row["params_json"]),
        options=json.loads(row["options_json"]),
        source=json.loads(row["source_json"]) if row["source_json"] else None,
        workspace=row["workspace"],
        created_at=row["created_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        updated_at=row["updated_at"],
        counts={s: n for s in PromptStatus if (n := row[f"n_{s.value}"])},
        run_seconds=row["run_seconds"],
        run_count=row["run_count"],
    )


def prompt(row: sqlite3.Row) -> PromptRecord:
    return PromptRecord(
        id=row["id"],
        job_id=row["job_id"],
        index=row["idx"],
        status=PromptStatus(row["status"]),
        attempt=row["attempt"],
        max_attempts=row["max_attempts"],
        seed=row["seed"],
        input_file=row["input_file"],
        staged_name=row["staged_name"],
        try_index=row["try_index"],
        params=json.loads(row["params_json"]) if row["params_json"] else None,
        comfy_prompt_id=row["comfy_prompt_id"],
        claim_token=row["claim_token"],
        owner=row["owner"],
        cancel_reason=row["cancel_reason"],
        error=error(row["error_json"]),
        outputs=json.loads(row["outputs_json"] or "[]"),
        created_at=row["created_at"],
        queued_at=row["queued_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        updated_at=row["updated_at"],
        lease_expires_at=row["lease_expires_at"],
    )


def attempt(row: sqlite3.Row) -> AttemptRecord:
    return AttemptRecord(
        prompt_id=row["prompt_id"],
        attempt=row["attempt"],
        comfy_prompt_id=row["comfy_prompt_id"],
        status=PromptStatus(row["status"]),
        queued_at=row["queued_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        error=error(row["error_json"]),
    )


def log_entry(row: sqlite3.Row) -> LogEntry:
    return LogEntry(row["id"], row["job_id"], row["prompt_id"], row["at"], row["level"], row["event"], row["message"])


def audit_entry(row: sqlite3.Row) -> AuditEntry:
    return AuditEntry(row["at"], row["action"], row["path"], row["bytes"], row["result"], row["detail"], row["id"])


def instance(row: sqlite3.Row) -> InstanceRecord:
    return InstanceRecord(row["id"], row["host"], row["port"], row["pid"], row["started_at"], row["heartbeat_at"],
                          row["lease_expires_at"])


def preset(row: sqlite3.Row) -> PresetRecord:
    return PresetRecord(
        id=row["id"], name=row["name"], kind=row["kind"], mode=row["mode"], workflow=row["workflow"],
        payload=json.loads(row["payload_json"]), prompt_preset_id=row["prompt_preset_id"],
        created_at=row["created_at"], updated_at=row["updated_at"],
    )
