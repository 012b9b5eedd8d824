"""Exit codes and the CLI's error types, with the one function that maps them.

Modelled on httpie's ``ExitStatus`` / ``http_status_to_exit_status``: a script can tell
"you asked for something wrong" (2) from "something went wrong" (1) without parsing text.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any


class ExitCode(IntEnum):
    OK = 0
    FAILURE = 1  # server error, conflict, not found, not reachable, job ended failed under --wait
    USAGE = 2  # bad arguments or a request the server refused as invalid (HTTP 400)
    INTERRUPTED = 130  # Ctrl-C, as a shell reports SIGINT


EXIT_CODES_HELP = """\
exit codes:
  0    success
  1    failure: ComfyUI not reachable, vq not installed there, not found (404),
       path not allowed (403), state conflict (409), server error (5xx), or a job
       that ended failed or canceled under --wait / watch JOB
  2    usage or validation error: bad arguments, malformed --param, or a request
       the server refused as invalid (400); nothing was queued
  130  interrupted (Ctrl-C)"""


def http_status_to_exit_code(status: int) -> ExitCode:
    """HTTP 400 means the request itself was wrong (like a usage error); everything else
    that is not 2xx is a failure the user cannot fix by rephrasing the command."""
    if 200 <= status < 300:
        return ExitCode.OK
    if status == 400:
        return ExitCode.USAGE
    return ExitCode.FAILURE


class CliError(Exception):
    """An error with a message meant for the user (printed without a traceback)."""

    exit_code: ExitCode = ExitCode.FAILURE

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class UsageError(CliError):
    exit_code = ExitCode.USAGE


class Unreachable(CliError):
    """No HTTP answer at all: ComfyUI is not running there (or too slow to answer)."""

    def __init__(self, url: str, *, timed_out: bool = False, timeout: float | None = None) -> None:
        if timed_out:
            message = f"ComfyUI at {url} did not answer within {timeout:g} s (busy? see --timeout)"
        else:
            message = f"ComfyUI is not reachable at {url} (is it running? see --url / VQ_URL)"
        super().__init__(message)
        self.url = url
        self.timed_out = timed_out


class NotInstalled(CliError):
    """ComfyUI answered, but not with vq's routes."""

    def __init__(self, url: str, path: str) -> None:
        super().__init__(
            f"vq is not installed in the ComfyUI at {url}",
            hint=f"{path} is not there: install video-queue into ComfyUI's custom_nodes (or update it) "
            "and restart ComfyUI",
        )
        self.url = url


class ApiError(CliError):
    """vq answered with its error envelope ``{"error": {code, message, details, hint?}}``."""

    def __init__(self, status: int, code: str, message: str, details: dict[str, Any] | None = None,
                 body: Any = None, *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status, self.code, self.details = status, code, details or {}
        self.body = body if body is not None else {"error": {"code": code, "message": message,
                                                             "details": self.details}}
        self.exit_code = http_status_to_exit_code(status)


class JobEnded(CliError):
    """A followed job finished without succeeding (--wait, watch JOB)."""


def exit_code_for(exc: BaseException) -> ExitCode:
    if isinstance(exc, KeyboardInterrupt):
        return ExitCode.INTERRUPTED
    if isinstance(exc, CliError):
        return exc.exit_code
    return ExitCode.FAILURE
