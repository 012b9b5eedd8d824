"""What the queue's store tells the files code and keeps for it (the store imports these)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StagedUse:
    """What the queue says about one staged input name."""

    live: bool  # a prompt naming it is pending, queued, running, canceling or interrupted
    unfinished: bool  # a job with a prompt naming it has not finished
    last_finished: float | None  # newest finished_at of those jobs


@dataclass(frozen=True)
class AuditEntry:
    at: float
    action: str
    path: str
    bytes: int | None
    result: str
    detail: str | None
    id: int | None = None
