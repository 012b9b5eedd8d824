"""Auto-prompt's errors. Each carries an HTTP status, an error code and, where the user can
fix the cause, a ``hint`` that says how; routes turn them into the error envelope, so
nothing about LM Studio failing can look like a vq failure."""

from __future__ import annotations

from typing import Any

from ..errors import VqError


class AutopromptError(VqError):
    status = 502
    code = "autoprompt_failed"

    def __init__(self, message: str, *, hint: str | None = None, stage: str | None = None,
                 details: dict[str, Any] | None = None) -> None:
        super().__init__(message, {**(details or {}), **({"stage": stage} if stage else {})}, hint=hint)
        self.stage = stage  # "caption" or "motion": the UI shows the error on that stage


class AutopromptUnavailable(AutopromptError):
    """LM Studio is not there, or cannot serve the model a stage needs: the user has to act
    (start it, load a model), so the answer is 503 with a hint."""

    status = 503
    code = "autoprompt_unavailable"


class AutopromptTimeout(AutopromptError):
    """LM Studio accepted the request but did not answer in ``autoprompt_timeout_seconds``
    (a JIT model load, a big model on a busy GPU)."""

    status = 504
    code = "autoprompt_timeout"


class AutopromptBackendError(AutopromptError):
    """LM Studio answered with an error we cannot attribute to the user's setup."""

    code = "autoprompt_backend_error"


class AutopromptOutputError(AutopromptError):
    """The model answered, but not with something usable (empty, or split output that stayed
    unparseable after one re-ask)."""

    code = "autoprompt_bad_output"
