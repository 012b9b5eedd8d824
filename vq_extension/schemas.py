"""Request models of the REST API (pydantic). Response shapes are in docs/api.md and
``queue/views.py``."""

from __future__ import annotations

from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .queue.models import JobStatus
from .queue.store import JOB_SORTS

JobSort = Enum("JobSort", {name.replace("-", "minus_"): name for name in JOB_SORTS}, type=str)  # type: ignore[misc]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SubmitJob(Body):
    name: str | None = Field(None, max_length=200, description="shown in the queue; defaults to a count")
    graphs: list[dict[str, Any]] = Field(..., min_length=1, max_length=10000,
                                         description="API-format graphs, one prompt each")
    priority: int = Field(0, ge=-1_000_000, le=1_000_000, description="higher runs first")
    max_attempts: int | None = Field(None, ge=1, le=10, description="interruptions tolerated per prompt")


class SetPriority(Body):
    priority: int = Field(..., ge=-1_000_000, le=1_000_000)


class ClearQueue(Body):
    expected_count: int = Field(..., ge=0, description="the count the user confirmed (GET /vq/v1/queue)")
    include_running: bool = Field(False, description="also interrupt running prompts")


class ListJobs(Body):
    status: list[JobStatus] = Field(default_factory=list, description="comma-separated job statuses")
    search: str = Field("", max_length=200)
    sort: JobSort = JobSort("actionable")  # type: ignore[call-arg]
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0)

    @field_validator("status", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value


class LogQuery(Body):
    after: int = Field(0, ge=0, description="return entries with a larger id")
    limit: int = Field(500, ge=1, le=5000)
