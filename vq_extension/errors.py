"""Domain errors. Each knows its HTTP status and error code; routes map them in one place."""

from __future__ import annotations

from typing import Any


class VqError(Exception):
    status = 500
    code = "internal"

    def __init__(self, message: str, details: dict[str, Any] | None = None, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}
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
