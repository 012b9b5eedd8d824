"""What the dispatcher's reconcile asks of the store, from what ComfyUI reported: pure
functions from a prompt (and its history outcome) to a ``Change``. No I/O."""

from __future__ import annotations

from typing import Any

from ..comfy.bridge import Outcome
from ..errors import PromptError
from .models import PromptStatus
from .records import Change, LogLine, PromptRecord

P = PromptStatus


def finish(prompt: PromptRecord, outcome: Outcome, timeout_seconds: float) -> Change:
    """The transition a prompt's ending in ComfyUI's history calls for."""
    timed_out = prompt.cancel_reason == "timeout"
    if outcome.status == "succeeded":
        count = len(outcome.outputs)
        return change(prompt, P.SUCCEEDED, "succeeded", f"succeeded with {count} output file(s)",
                      outputs=outcome.outputs, started_at=outcome.started_at)
    if outcome.status == "failed" and not timed_out:
        error = outcome.error or PromptError("execution_error", "ComfyUI reported an error")
        where = f" in node {error.node_id} ({error.node_type})" if error.node_id else ""
        return change(prompt, P.FAILED, "failed", f"failed{where}: {error.message}",
                      error=error, outputs=outcome.outputs, started_at=outcome.started_at, level="error")
    if timed_out:
        error = PromptError("timeout", f"ran longer than the {timeout_seconds:g} s prompt timeout and was interrupted")
        return change(prompt, P.FAILED, "timeout", error.message, error=error, level="error")
    if prompt.status is P.CANCELING:
        return change(prompt, P.CANCELED, "canceled", "interrupted as asked")
    error = PromptError("interrupted", "interrupted in ComfyUI from outside vq (e.g. its Cancel button)")
    return change(prompt, P.CANCELED, "canceled", error.message, error=error, level="warning")


def change(prompt: PromptRecord, to: PromptStatus, event: str, message: str, *, level: str = "info",
           **fields: Any) -> Change:
    """A transition of ``prompt`` as the tick saw it (only while it still runs under the same ComfyUI id)."""
    return Change(prompt.id, to, comfy_prompt_id=prompt.comfy_prompt_id, log=LogLine(event, message, level), **fields)
