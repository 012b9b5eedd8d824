"""Request models of the REST API (pydantic). Response shapes are in docs/api.md and
``queue/views.py``."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..autoprompt.service import AutopromptRequest
from ..errors import InvalidRequest
from ..queue.models import JobStatus
from ..queue.store import JOB_SORTS
from ..queue.submit import WorkflowRequest

MAX_INT = 2**63 - 1  # SQLite's integers: ids, offsets and counts above it are refused with 400
MAX_SEED = 2**64 - 1  # ComfyUI's samplers take seeds up to this

JobSort = Enum("JobSort", {name.replace("-", "minus_"): name for name in JOB_SORTS}, type=str)  # type: ignore[misc]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SubmitJob(Body):
    """Either ``graphs`` (raw API-format graphs, one prompt each) or ``workflow`` (a workflow
    definition rendered once per input file and try)."""

    name: str | None = Field(None, max_length=200, description="shown in the queue; defaults to a description")
    priority: int = Field(0, ge=-1_000_000, le=1_000_000, description="higher runs first")
    max_attempts: int | None = Field(None, ge=1, le=10, description="interruptions tolerated per prompt")
    graphs: list[dict[str, Any]] | None = Field(None, min_length=1, max_length=10000,
                                                description="API-format graphs, one prompt each")
    workflow: str | None = Field(None, min_length=1, max_length=200, description="a workflow definition's name")
    input: str | list[str] | None = Field(None, description="a folder, a file, or a list of files (none for T2I)")
    params: dict[str, Any] = Field(default_factory=dict, description="parameter values by name")
    per_file_params: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="file (path or unique base name) -> parameter overrides for it")
    prompt_mode: Literal["manual", "per-image manual", "per-image auto"] | None = Field(
        None, description="default: per-image manual when per_file_params is given, else manual")
    tries: int = Field(1, ge=1, le=100, description="prompts per input file, each with its own seed")
    seed: int | None = Field(None, ge=0, le=MAX_SEED - 100,
                             description="fixed seed (try t uses seed + t); default: random")
    randomize_seed: bool | None = Field(None, description="default: random when no seed is given")
    stage: bool | None = Field(None, description="copy inputs into ComfyUI's input folder; default from settings")
    move_processed: bool = Field(False, description="move inputs to <folder>/_processed/ when the job succeeds")
    dry_run: bool = Field(False, description="answer with the prompts that would be queued; queue nothing")
    dry_run_offset: int = Field(0, ge=0, le=MAX_INT, description="the dry run lists 500 planned prompts from "
                                "this index (its next_offset gives the next page)")
    workspace: str | None = Field(None, max_length=100)

    @model_validator(mode="after")
    def _one_kind(self) -> SubmitJob:
        if (self.graphs is None) == (self.workflow is None):
            raise ValueError("give either graphs (raw API-format graphs) or workflow (a workflow name), not both")
        if self.graphs is not None:
            extra = [f for f in WORKFLOW_FIELDS if f in self.model_fields_set]
            if extra:
                raise ValueError(f"{', '.join(extra)} only apply to workflow submits")
        return self

    def to_request(self) -> WorkflowRequest:
        """The workflow submit this body asks for (routes and the CLI's offline mode)."""
        return WorkflowRequest(
            workflow=self.workflow or "",
            input=[self.input] if isinstance(self.input, str) else list(self.input or []),
            params=self.params, per_file_params=self.per_file_params, prompt_mode=self.prompt_mode,
            tries=self.tries, seed=self.seed, randomize_seed=self.randomize_seed, stage=self.stage,
            move_processed=self.move_processed, dry_run=self.dry_run, dry_run_offset=self.dry_run_offset, name=self.name, priority=self.priority,
            max_attempts=self.max_attempts, workspace=self.workspace,
        )


WORKFLOW_FIELDS = ("input", "params", "per_file_params", "prompt_mode", "tries", "seed", "randomize_seed",
                   "stage", "move_processed", "dry_run", "dry_run_offset")


class SetPriority(Body):
    priority: int = Field(..., ge=-1_000_000, le=1_000_000)


class ClearQueue(Body):
    expected_count: int = Field(..., ge=0, le=MAX_INT, description="the count the user confirmed (GET /vq/v1/queue)")
    include_running: bool = Field(False, description="also interrupt running prompts")


class ListJobs(Body):
    status: list[JobStatus] = Field(default_factory=list, description="comma-separated job statuses")
    search: str = Field("", max_length=200)
    sort: JobSort = JobSort("actionable")  # type: ignore[call-arg]
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0, le=MAX_INT)

    @field_validator("status", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value


class LogQuery(Body):
    after: int = Field(0, ge=0, le=MAX_INT, description="return entries with a larger id")
    limit: int = Field(500, ge=1, le=5000)


# --- the files routes ------------------------------------------------------------------


class NormalizePath(Body):
    path: str = Field(..., max_length=8192, description="a path as pasted: Linux, Windows, WSL share, file:// URI")
    workflow: str | None = Field(None, max_length=200, description="count the files this workflow would take")


class BrowseQuery(Body):
    path: str | None = Field(None, max_length=8192, description="folder to list; default: ComfyUI's input folder")
    workflow: str | None = Field(None, max_length=200, description="list and count the files this workflow takes")
    extensions: list[str] | None = Field(None, description="comma-separated, e.g. png,jpg; default: images+videos")
    limit: int = Field(1000, ge=1, le=1000, description="folders + files returned")

    @field_validator("extensions", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value


class ThumbnailQuery(Body):
    path: str = Field(..., max_length=8192, description="an image inside the allowed roots")
    size: int = Field(256, ge=32, le=512, description="longest side in pixels")
    v: str | None = Field(None, max_length=100, description="cache key (the browse listing sets it); ignored")


class UploadQuery(Body):
    subfolder: str = Field("", max_length=1000, description="folder inside input/vq/uploads, e.g. batch1")


class StagingQuery(Body):
    audit: int = Field(20, ge=0, le=500, description="newest cleanup audit entries to include")


class CleanupBody(Body):
    dry_run: bool | None = Field(None, description="list what would be removed (the default)")
    apply: bool | None = Field(None, description="the same switch, inverted (what `vq cleanup --apply` sends)")

    @property
    def is_dry_run(self) -> bool:
        if self.dry_run is not None and self.apply is not None and self.dry_run == self.apply:
            raise InvalidRequest("dry_run and apply contradict each other; give one of them", {"param": "dry_run"})
        if self.dry_run is not None:
            return self.dry_run
        return not self.apply


# --- auto-prompt ---------------------------------------------------------------------


class Autoprompt(Body):
    """One auto-prompt request: the synchronous route and background runs take the same body.
    The LM Studio address is a setting, never a field here: no request can make vq call
    another URL."""

    image_paths: list[Annotated[str, Field(min_length=1, max_length=8192)]] = Field(
        ..., min_length=1, max_length=2000, description="images inside the allowed roots")
    workflow_name: str = Field(..., min_length=1, max_length=200,
                               description="the workflow the prompts are for: its timing and clip count")
    stage: Literal["caption", "motion", "both"] = Field("both", description="caption: stage 1 only; motion: "
                                                        "stage 2 only, from captions; both")
    captions: dict[str, str] | None = Field(None, description="image path (as in image_paths) -> caption; "
                                            "required for stage motion")
    system_prompt_override: str | None = Field(None, max_length=20000,
                                               description="replaces the stage-2 instructions (the output format "
                                                           "is still appended)")
    params: dict[str, Any] = Field(default_factory=dict, description="workflow parameter values the timing "
                                   "comes from (fps, frames, stage count); defaults otherwise")
    regenerate: bool = Field(False, description="ask LM Studio even when the cache has an answer, and replace it")

    @model_validator(mode="after")
    def _captions_for_motion(self) -> Autoprompt:
        if self.stage == "motion" and not self.captions:
            raise ValueError("captions are required for stage motion (path -> caption, e.g. from a caption run)")
        return self

    def to_request(self) -> AutopromptRequest:
        return AutopromptRequest(self.image_paths, self.workflow_name, self.stage, self.captions,
                                 self.system_prompt_override, dict(self.params), self.regenerate)
