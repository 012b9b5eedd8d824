"""Timestamps as vq answers them: ISO 8601 UTC with milliseconds and a Z."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated

from pydantic import WithJsonSchema

# How timestamps appear in answers' JSON schemas, e.g. "2026-11-25T22:31:30.123Z".
Timestamp = Annotated[str, WithJsonSchema({"type": "string", "format": "date-time"})]


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
