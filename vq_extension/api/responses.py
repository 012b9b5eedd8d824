"""Response models of the REST API (pydantic): the queue, health and errors here; the
workflow routes' in ``workflow_responses.py``, the files routes' in ``file_responses.py``.
They mirror ``api/views.py`` and docs/api.md. They exist for the OpenAPI document (``openapi.py``) and for tests that
check real answers against it; handlers still return plain dicts.

Unknown fields are allowed here (a client must ignore fields it does not know, so v1
can grow); the tests validate real answers with every object closed, so a field the
server adds without a model here fails the suite.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from ..queue.models import JobStatus, PromptStatus
from ..timestamps import Timestamp


class Progress(BaseModel):
    value: float = Field(description="sampler step (or other progress unit) reached")
    max: float = Field(description="steps in total; 0 while unknown")
    node: str | None = Field(description="the ComfyUI node id executing")


class CurrentProgress(Progress):
    prompt_id: int = Field(description="the running prompt this progress belongs to")


class JobSummary(BaseModel):
    id: int
    name: str
    workflow: str | None
    mode: str | None = Field(description="video_gen, image_gen, video_upscale, image_upscale, or null for raw graphs")
    status: JobStatus
    priority: int
    workspace: str | None
    created_at: Timestamp
    started_at: Timestamp | None
    finished_at: Timestamp | None
    total: int = Field(description="prompts in the job")
    done: int = Field(description="terminal prompts: succeeded + failed + canceled")
    counts: dict[PromptStatus, int] = Field(description="non-zero prompt counts by status")
    current: CurrentProgress | None = Field(description="the running prompt's progress")
    eta_seconds: float | None = Field(description="null until one prompt finished")


class PromptError(BaseModel):
    type: str
    message: str
    node_id: str | None
    node_type: str | None
    traceback: list[str]
    details: dict[str, Any]


class Output(BaseModel):
    kind: Literal["image", "video", "audio", "3d", "other"]
    filename: str
    subfolder: str
    type: str = Field(description="ComfyUI folder type: output, temp or input")
    node: str
    format: str | None = None
    url: str = Field(description="ComfyUI /view URL, relative to the server root")
    path: str | None = Field(None, description="absolute path on the ComfyUI host, when known")


class Attempt(BaseModel):
    attempt: int
    comfy_prompt_id: str
    status: PromptStatus
    queued_at: Timestamp | None
    started_at: Timestamp | None
    finished_at: Timestamp | None
    error: PromptError | None


class PromptBrief(BaseModel):
    """What a ``vq.prompt`` websocket event carries."""

    id: int
    job_id: int
    index: int
    status: PromptStatus
    attempt: int
    comfy_prompt_id: str | None
    progress: Progress | None
    error: PromptError | None


class PromptDetail(PromptBrief):
    max_attempts: int
    seed: int | None
    input_file: str | None = Field(description="the user's original path, for display")
    staged_name: str | None = Field(description="the file name the graph uses, inside ComfyUI's input folder")
    try_index: int
    params: dict[str, Any] | None = Field(description="resolved parameters of this prompt")
    outputs: list[Output]
    created_at: Timestamp
    queued_at: Timestamp | None
    started_at: Timestamp | None
    finished_at: Timestamp | None
    attempts: list[Attempt]


class PromptWithGraph(PromptDetail):
    graph: dict[str, Any] | None = Field(description="the API-format graph this prompt runs")


class JobDetail(JobSummary):
    params: dict[str, Any]
    options: dict[str, Any]
    source: dict[str, Any] | None
    prompts: list[PromptDetail]


class JobList(BaseModel):
    jobs: list[JobSummary]
    total: int = Field(description="jobs matching the filter (all pages)")
    limit: int
    offset: int
    counts: dict[JobStatus, int] = Field(description="all jobs by status, ignoring the filter")


class CancelJobResult(BaseModel):
    job: JobSummary
    canceled: int = Field(description="prompts canceled at once")
    canceling: int = Field(description="running prompts being interrupted")


class DeletedJob(BaseModel):
    id: int
    deleted: bool = Field(description="always true: the job, its prompts, attempts and log are gone")


class RetryJobResult(BaseModel):
    job: JobSummary
    retried: int


class LogEntry(BaseModel):
    id: int
    at: Timestamp
    level: Literal["debug", "info", "warning", "error"]
    event: str
    message: str
    prompt_id: int | None


class LogPage(BaseModel):
    entries: list[LogEntry]
    next_after: int = Field(description="pass as ?after= to read on")


class StuckPrompt(BaseModel):
    prompt_id: int
    job_id: int
    index: int
    workflow: str | None
    running_seconds: float
    average_seconds: float = Field(description="mean run time of its workflow's succeeded prompts")


class QueueState(BaseModel):
    paused: bool
    worker: Literal["running", "idle", "paused", "error"]
    worker_error: str | None = Field(description="why the dispatcher failed, when worker is error")
    in_flight: int
    max_in_flight: int
    counts: dict[PromptStatus, int]
    stuck: list[StuckPrompt] = Field(description="running prompts over 3x their workflow's average run time: "
                                     "maybe hung; interrupt with POST /prompts/{id}/cancel")


class ClearResult(BaseModel):
    cleared: int


class Strategies(BaseModel):
    """How vq drives this ComfyUI version (detected by capability, not version)."""

    comfyui_version: str
    submit: str
    validate_: str = Field(alias="validate")
    queue_item_arity: int
    queue_item_arity_from: str = Field(description="task_done_signature, or version when it cannot be read")
    cancel: str
    queue_read: str
    data_dir: str


class DbInfo(BaseModel):
    path: str
    schema_version: int
    sqlite_version: str


class InstanceInfo(BaseModel):
    """A ComfyUI process with vq that uses this database (several: one per GPU, say)."""

    id: str
    host: str
    port: int | None
    pid: int
    started_at: float
    heartbeat_at: float


class Health(BaseModel):
    ok: bool = Field(description="the dispatcher runs and its last tick succeeded")
    vq_version: str
    comfyui_version: str
    strategies: Strategies
    queue: QueueState
    data_dir: str
    db: DbInfo
    settings: dict[str, Any]
    instance: str | None = Field(description="this ComfyUI process's vq instance id (host:port:pid:start:random)")
    instances: list[InstanceInfo] = Field(description="every instance whose lease on this database is live, "
                                                      "this one included")


class ErrorInfo(BaseModel):
    code: str = Field(description="invalid_request, path_not_allowed, not_found, conflict, count_changed, "
                                  "internal, unavailable, ...")
    message: str = Field(description="for people; names the field at fault")
    details: dict[str, Any] = Field(description="machine-readable specifics, e.g. errors[] for 400")
    hint: str | None = Field(None, description="what to do about it, when vq knows (e.g. autoprompt_unavailable: "
                                               "'Start LM Studio and load <model>')")


class ErrorEnvelope(BaseModel):
    error: ErrorInfo
