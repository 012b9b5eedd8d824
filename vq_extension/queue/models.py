"""The queue's state machines, stated once. Pure: no I/O, no ComfyUI, no SQL.

A *prompt* is one ComfyUI execution; a *job* is a batch of prompts whose status is
derived from theirs. Every status write in the store is a guarded transition built
from ``ALLOWED_FROM`` below, so a late event can never resurrect or double-finish
a prompt.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum


class PromptStatus(str, Enum):
    PENDING = "pending"  # waiting in vq's queue
    QUEUED = "queued"  # handed to ComfyUI (comfy_prompt_id set), not started
    RUNNING = "running"  # ComfyUI is executing it
    CANCELING = "canceling"  # an interrupt was sent; waiting for ComfyUI to confirm
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"
    INTERRUPTED = "interrupted"  # lost by ComfyUI (restart, cleared queue); transient

    def __str__(self) -> str:
        return self.value


class JobStatus(str, Enum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"

    def __str__(self) -> str:
        return self.value


P = PromptStatus

# For each target status, the statuses a prompt may move to it from.
ALLOWED_FROM: Mapping[PromptStatus, frozenset[PromptStatus]] = {
    # claim; or pulled back out of ComfyUI on pause; or retry / recovery
    P.PENDING: frozenset({P.QUEUED, P.FAILED, P.CANCELED, P.INTERRUPTED}),
    P.QUEUED: frozenset({P.PENDING}),  # claimed and handed to ComfyUI
    P.RUNNING: frozenset({P.QUEUED}),  # ComfyUI started it
    P.CANCELING: frozenset({P.QUEUED, P.RUNNING}),  # interrupt sent
    # a fast prompt can finish before vq ever saw it running; a cancel can lose the race
    P.SUCCEEDED: frozenset({P.QUEUED, P.RUNNING, P.CANCELING}),
    # validation failure, execution error, timeout, attempts exhausted
    P.FAILED: frozenset({P.QUEUED, P.RUNNING, P.CANCELING, P.INTERRUPTED}),
    P.CANCELED: frozenset({P.PENDING, P.QUEUED, P.RUNNING, P.CANCELING}),
    P.INTERRUPTED: frozenset({P.QUEUED, P.RUNNING}),
}

TERMINAL: frozenset[PromptStatus] = frozenset({P.SUCCEEDED, P.FAILED, P.CANCELED})
IN_COMFY: frozenset[PromptStatus] = frozenset({P.QUEUED, P.RUNNING, P.CANCELING})
RETRYABLE: frozenset[PromptStatus] = frozenset({P.FAILED, P.CANCELED, P.INTERRUPTED})
CANCELABLE: frozenset[PromptStatus] = frozenset({P.PENDING, P.QUEUED, P.RUNNING})
ACTIVE: frozenset[PromptStatus] = frozenset({P.PENDING, P.QUEUED, P.RUNNING, P.CANCELING, P.INTERRUPTED})

# Most urgent first: what a user should look at.
# Prompt counts are listed most urgent first (the CLI's and the sidebar's order).
PROMPT_URGENCY: tuple[PromptStatus, ...] = (P.RUNNING, P.CANCELING, P.QUEUED, P.PENDING, P.INTERRUPTED, P.FAILED,
                                            P.CANCELED, P.SUCCEEDED)
ACTIONABLE_ORDER: tuple[JobStatus, ...] = (
    JobStatus.RUNNING,
    JobStatus.FAILED,
    JobStatus.PENDING,
    JobStatus.CANCELED,
    JobStatus.SUCCEEDED,
)


def can_transition(frm: PromptStatus, to: PromptStatus) -> bool:
    return frm in ALLOWED_FROM[to]


def derive_job_status(counts: Mapping[PromptStatus, int]) -> JobStatus:
    """Job status from its prompts' status counts (DESIGN §3)."""
    total = sum(counts.values())
    terminal = sum(counts.get(s, 0) for s in TERMINAL)
    if total == 0:  # never stored: a job is created with its prompts
        return JobStatus.PENDING
    if terminal == total:
        if counts.get(P.SUCCEEDED, 0) == total:
            return JobStatus.SUCCEEDED
        if counts.get(P.FAILED, 0):
            return JobStatus.FAILED
        return JobStatus.CANCELED
    if any(counts.get(s, 0) for s in IN_COMFY) or terminal or counts.get(P.INTERRUPTED, 0):
        return JobStatus.RUNNING
    return JobStatus.PENDING


