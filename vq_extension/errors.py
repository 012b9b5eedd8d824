"""Errors, defined once: the ``VqError`` family (each knows its HTTP status and error code;
routes map them in one place) and ``PromptError``, why one ComfyUI execution failed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class VqError(Exception):
    status = 500
    code = "internal"

    def __init__(self, message: str, details: dict[str, Any] | None = None, *, code: str | None = None,
                 hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}
        self.hint = hint  # what the user can do about it, when vq knows (the envelope's `hint`)
        if code is not None:
            self.code = code


class InvalidRequest(VqError):
    status, code = 400, "invalid_request"


class PathForbidden(VqError):
    status, code = 403, "path_not_allowed"


class NotFound(VqError):
    status, code = 404, "not_found"


class Conflict(VqError):
    status, code = 409, "conflict"


class CountChanged(Conflict):
    code = "count_changed"


class TooLarge(VqError):
    status, code = 413, "upload_too_large"


class UnsupportedMedia(VqError):
    status, code = 415, "unsupported_media"


class Unavailable(VqError):
    status, code = 503, "unavailable"


class StagingUnwritable(Unavailable):
    """A folder vq writes inputs into (staging, uploads) cannot be written: no input is at
    fault, and nothing can be staged or uploaded until the folder is fixed."""

    code = "staging_unwritable"

    def __init__(self, folder: Path, exc: OSError, *, hint: str) -> None:
        super().__init__(f"{folder} cannot be written ({exc.strerror or exc})", {"folder": str(folder)}, hint=hint)


@dataclass(frozen=True)
class PromptError:
    """Why a prompt failed, in ComfyUI's own words where it gave any."""

    type: str
    message: str
    node_id: str | None = None
    node_type: str | None = None
    traceback: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "message": self.message,
            "node_id": self.node_id,
            "node_type": self.node_type,
            "traceback": list(self.traceback),
            "details": dict(self.details),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PromptError:
        return cls(
            type=str(data.get("type", "error")),
            message=str(data.get("message", "")),
            node_id=data.get("node_id"),
            node_type=data.get("node_type"),
            traceback=list(data.get("traceback") or []),
            details=dict(data.get("details") or {}),
        )
