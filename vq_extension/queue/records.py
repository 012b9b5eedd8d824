"""Plain records passed between the store and the services (no I/O)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import PromptError
from .models import JobStatus, PromptStatus


@dataclass(frozen=True)
class NewJob:
    name: str
    priority: int = 0
    workflow: str | None = None
    mode: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    source: dict[str, Any] | None = None
    workspace: str | None = None


@dataclass(frozen=True)
class NewPrompt:
    graph: dict[str, Any]
    max_attempts: int = 2
    seed: int | None = None
    input_file: str | None = None  # the user's original path, for display
    staged_name: str | None = None  # the name the graph uses, relative to ComfyUI's input dir
    try_index: int = 0
    params: dict[str, Any] | None = None  # resolved per-prompt params, for display


@dataclass(frozen=True)
class JobRecord:
    id: int
    name: str
    status: JobStatus
    priority: int
    workflow: str | None
    mode: str | None
    params: dict[str, Any]
    options: dict[str, Any]
    source: dict[str, Any] | None
    workspace: str | None
    created_at: float
    started_at: float | None
    finished_at: float | None
    updated_at: float
    # kept incrementally by the store: the job's prompt counts by status, and the summed run
    # time of its succeeded prompts that have a start time (for the mean: run_seconds / run_count)
    counts: dict[PromptStatus, int] = field(default_factory=dict)
    run_seconds: float = 0.0
    run_count: int = 0

    @property
    def average_seconds(self) -> float | None:
        return self.run_seconds / self.run_count if self.run_count else None


@dataclass(frozen=True)
class PromptRecord:
    id: int
    job_id: int
    index: int
    status: PromptStatus
    attempt: int
    max_attempts: int
    seed: int | None
    input_file: str | None
    staged_name: str | None
    try_index: int
    params: dict[str, Any] | None
    comfy_prompt_id: str | None
    claim_token: str | None
    owner: str | None
    cancel_reason: str | None
    error: PromptError | None
    outputs: list[dict[str, Any]]
    created_at: float
    queued_at: float | None
    started_at: float | None
    finished_at: float | None
    updated_at: float
    lease_expires_at: float | None = None  # the owner's claim, renewed while it runs


@dataclass(frozen=True)
class AttemptRecord:
    prompt_id: int
    attempt: int
    comfy_prompt_id: str
    status: PromptStatus
    queued_at: float
    started_at: float | None
    finished_at: float | None
    error: PromptError | None


@dataclass(frozen=True)
class LogEntry:
    id: int
    job_id: int
    prompt_id: int | None
    at: float
    level: str
    event: str
    message: str


@dataclass(frozen=True)
class LogLine:
    """A job-log entry written in the same transaction as the change it describes."""

    event: str
    message: str
    level: str = "info"


@dataclass(frozen=True)
class Change:
    """One prompt transition a dispatcher tick asks the store for (``store.apply``)."""

    prompt_id: int
    to: PromptStatus
    comfy_prompt_id: str | None = None
    error: PromptError | None = None
    outputs: list[dict[str, Any]] | None = None
    cancel_reason: str | None = None
    started_at: float | None = None
    expected: PromptStatus | None = None
    log: LogLine | None = None


@dataclass(frozen=True)
class Claimed:
    """A prompt claimed for ComfyUI, with the graph to submit."""

    prompt: PromptRecord
    graph: dict[str, Any]


@dataclass(frozen=True)
class TickResult:
    """What ``store.apply`` did: each change's transition (None: it did not apply), then the claims."""

    transitions: list[Transition | None]
    claimed: list[Claimed]
    setting: Any = None  # the value of the setting the tick asked for (None: unset or not asked)


@dataclass(frozen=True)
class BulkResult:
    """A set-based action: how many prompts it moved, and the prompts still in ComfyUI it left to the caller."""

    moved: int
    in_comfy: list[PromptRecord] = field(default_factory=list)
    jobs: list[int] = field(default_factory=list)  # the jobs whose prompts it moved


@dataclass(frozen=True)
class JobChange:
    """A job's status before and after one store transaction."""

    before: JobStatus
    after: JobStatus


@dataclass(frozen=True)
class Transition:
    """A prompt transition that took effect. ``job`` is set on the transaction's last
    transition of a job whose status the transaction changed."""

    prompt: PromptRecord
    line: LogLine | None = None  # what the store logged for it
    job: JobChange | None = None


@dataclass(frozen=True)
class InstanceRecord:
    """One vq instance (a ComfyUI process with the plugin) using the database."""

    id: str
    host: str
    port: int | None
    pid: int
    started_at: float
    heartbeat_at: float
    lease_expires_at: float


@dataclass(frozen=True)
class Replayed:
    """An idempotency key seen before: the job it created, or a different body (conflict)."""

    job_id: int
    same_body: bool


@dataclass(frozen=True)
class NewPreset:
    name: str
    kind: str  # prompt | settings
    mode: str  # the Submit view's mode, e.g. batch_video
    workflow: str | None
    payload: Any
    prompt_preset_id: int | None = None


@dataclass(frozen=True)
class PresetRecord(NewPreset):
    id: int = 0
    created_at: float = 0.0
    updated_at: float = 0.0
