"""Response models of the REST API (pydantic), mirroring ``queue/views.py`` and
docs/api.md. They exist for the OpenAPI document (``openapi.py``) and for tests that
check real answers against it; handlers still return plain dicts.

Unknown fields are allowed here (a client must ignore fields it does not know, so v1
can grow); the tests validate real answers with every object closed, so a field the
server adds without a model here fails the suite.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, WithJsonSchema

from ..queue.models import JobStatus, PromptStatus

# ISO 8601 UTC, e.g. "2026-11-25T22:31:30.123Z"
Timestamp = Annotated[str, WithJsonSchema({"type": "string", "format": "date-time"})]


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


class QueueState(BaseModel):
    paused: bool
    worker: Literal["running", "idle", "paused", "error"]
    worker_error: str | None = Field(description="why the dispatcher failed, when worker is error")
    in_flight: int
    max_in_flight: int
    counts: dict[PromptStatus, int]


class ClearResult(BaseModel):
    cleared: int


class Strategies(BaseModel):
    """How vq drives this ComfyUI version (detected by capability, not version)."""

    comfyui_version: str
    submit: str
    validate_: str = Field(alias="validate")
    queue_item_arity: int
    cancel: str
    queue_read: str
    data_dir: str


class DbInfo(BaseModel):
    path: str
    schema_version: int
    sqlite_version: str


class Health(BaseModel):
    ok: bool = Field(description="the dispatcher runs and its last tick succeeded")
    vq_version: str
    comfyui_version: str
    strategies: Strategies
    queue: QueueState
    data_dir: str
    db: DbInfo
    settings: dict[str, Any]


class ErrorInfo(BaseModel):
    code: str = Field(description="invalid_request, path_not_allowed, not_found, conflict, count_changed, "
                                  "internal, unavailable, ...")
    message: str = Field(description="for people; names the field at fault")
    details: dict[str, Any] = Field(description="machine-readable specifics, e.g. errors[] for 400")


class ErrorEnvelope(BaseModel):
    error: ErrorInfo


# --- workflows (answers of workflow_service.py / workflows.Catalog.describe) -----------------


class WorkflowSummary(BaseModel):
    name: str
    display_name: str
    description: str
    mode: Literal["video_gen", "image_gen", "video_upscale", "image_upscale"]
    tags: list[str]


class Preset(BaseModel):
    id: int
    name: str
    kind: Literal["prompt", "settings"]
    mode: str
    workflow: str | None
    payload: dict[str, Any]
    prompt_preset_id: int | None
    created_at: Timestamp
    updated_at: Timestamp


class PresetList(BaseModel):
    presets: list[Preset]


class PresetDeleted(BaseModel):
    deleted: int


class DefinitionProblem(BaseModel):
    file: str
    field: str = Field(description="dotted path in the definition; empty for the whole file")
    reason: str


class WorkflowList(BaseModel):
    workflows: list[WorkflowSummary]
    problems: list[DefinitionProblem] = Field(description="definitions that failed to load, and why")


class WorkflowReload(BaseModel):
    workflows: list[str] = Field(description="names of the definitions now loaded")
    problems: list[DefinitionProblem]


class ParamOption(BaseModel):
    value: str | int | float | bool
    label: str | None


class ChainTarget(BaseModel):
    name: str
    label: str


class UiHints(BaseModel):
    widget: str | None
    multiline: bool
    group: str | None
    order: int | None
    placeholder: str | None
    help: str | None
    advanced: bool


class ParamDescription(BaseModel):
    name: str = Field(description="per-stage names hold {k}: positive_prompt_stage{k} is set as "
                                  "positive_prompt_stage1, positive_prompt_stage2, ...")
    label: str
    type: Literal["text", "int", "float", "bool", "select", "image", "lora"]
    default: Any = None
    min: int | float | None
    max: int | float | None
    step: int | float | None
    options: list[ParamOption] | None
    options_live: bool = Field(description="options were read from ComfyUI (installed files): suggestions, "
                                           "not a closed list")
    options_source: str | None
    options_error: str | None = Field(None, description="reading the live option list failed")
    derived: str | None = Field(description="an expression: the value is computed, not set")
    per_stage: bool
    per_file: bool = Field(description="may be set per input file (per_file_params)")
    removable: bool = Field(description="a LoRA that an empty value removes")
    chain: list[ChainTarget] | None = Field(None, description="a LoRA list: one file per chain and a strength")
    max_items: int | None = None
    ui: UiHints


class InputDescription(BaseModel):
    kind: Literal["image", "video", "none"]
    multiple: bool
    glob: str
    extensions: list[str]


class ResolutionPreset(BaseModel):
    name: str
    label: str
    width: int
    height: int


class ResolutionDescription(BaseModel):
    default: str
    flip: bool
    width_param: str
    height_param: str
    presets: list[ResolutionPreset]


class StagesDescription(BaseModel):
    count_param: str
    min: int
    max: int
    default: int


class OutputDescription(BaseModel):
    node: str
    kind: Literal["image", "video", "audio"]


class WorkflowDescription(BaseModel):
    name: str
    display_name: str
    description: str
    mode: Literal["video_gen", "image_gen", "video_upscale", "image_upscale"]
    tags: list[str]
    file: str | None = Field(description="the definition file on the ComfyUI host")
    input: InputDescription
    params: list[ParamDescription] = Field(description="in form order, with the resolution preset and flip")
    groups: list[str]
    resolution: ResolutionDescription | None
    timing: dict[str, Any] | None = Field(description="fps, frames and seconds per stage, for auto-prompt")
    stages: StagesDescription | None
    prompt_params: list[str] = Field(description="declared names of the per-file (prompt) parameters")
    default_prompt_params: list[str] = Field(description="their concrete names at the default stage count")
    outputs: list[OutputDescription]


class PlannedPrompt(BaseModel):
    index: int
    input_file: str | None
    staged_name: str | None = Field(description="the name staging would give the file")
    try_index: int
    seed: int | None
    params: dict[str, Any]
    graph: dict[str, Any] | None = Field(description="the rendered graph (beyond 50 prompts, the first only)")


class DryRun(BaseModel):
    """``POST /vq/v1/jobs`` with ``dry_run: true``: answered 200, nothing queued."""

    dry_run: Literal[True]
    workflow: str | None
    name: str
    total: int
    params: dict[str, Any] = Field(description="the job's resolved parameters")
    warnings: list[str]
    prompts: list[PlannedPrompt]


# --- files routes: paths, browse, uploads, staging (answers of files_service.py) ---------


class NormalizedPath(BaseModel):
    input: str = Field(description="the text as sent")
    path: str = Field(description="absolute, symlinks resolved")
    allowed: bool = Field(description="always true here: a path outside the allowed roots is answered 403")
    exists: bool
    kind: Literal["folder", "file"] | None = Field(description="null when it does not exist (or is neither)")
    root: str = Field(description="the allowed root it lies in")
    workflow: str | None
    extensions: list[str] = Field(description="the file extensions counted")
    matching_files: int | None = Field(description="input files it holds (a file: 1 or 0); null if unknown")


class FolderEntry(BaseModel):
    name: str
    path: str
    hidden: bool = Field(description="the name starts with a dot")
    processed: bool = Field(description="a _processed folder (finished sources are moved there)")
    file_count: int | None = Field(description="matching files directly inside; null if unreadable")


class FileEntry(BaseModel):
    name: str
    path: str
    size: int
    mtime: Timestamp
    kind: Literal["image", "video"] | None
    thumbnail_url: str | None = Field(description="images only; relative to the API base (GET /vq/v1/thumbnail)")


class FolderListing(BaseModel):
    path: str
    root: str = Field(description="the allowed root this folder lies in")
    parent: str | None = Field(description="null at the root: navigation stops there")
    folders: list[FolderEntry]
    files: list[FileEntry]
    truncated: bool = Field(description="entries were left out (limit, or a huge folder)")
    roots: list[str] = Field(description="every allowed root")
    extensions: list[str] = Field(description="the file extensions listed")


class UploadResult(BaseModel):
    name: str = Field(description="final file name (sanitized; __2, __3 ... on a collision)")
    original_filename: str = Field(description="the name the client sent")
    subfolder: str = Field(description="relative to ComfyUI's input folder, e.g. vq/uploads")
    type: Literal["input"]
    path: str = Field(description="absolute; can be submitted as a workflow input")
    size: int
    reused: bool = Field(description="an identical file of the same name was kept instead of a new copy")


class FileTally(BaseModel):
    files: int
    bytes: int


class AuditRecord(BaseModel):
    id: int
    at: Timestamp
    action: str = Field(description="delete_staged, delete_temp or delete_partial_upload")
    path: str
    bytes: int | None
    result: Literal["deleted", "gone", "failed", "kept"]
    detail: str | None


class SweepInfo(BaseModel):
    at: Timestamp
    removed: int
    freed_bytes: int
    failed: int
    error: str | None


class StagingUsage(BaseModel):
    root: str
    files: int = Field(description="staged input files")
    bytes: int
    referenced: FileTally = Field(description="kept: a live prompt or an unfinished job uses them")
    waiting: FileTally = Field(description="not needed, but within retention (or just staged)")
    reclaimable: FileTally = Field(description="a cleanup would remove them now")
    leftovers: FileTally = Field(description="temp and partial-upload files a cleanup would remove too")
    retention_days: float
    sweep_hours: float = Field(description="periodic cleanup interval; 0 = off")
    stage_on_submit: bool
    last_sweep: SweepInfo | None
    audit: list[AuditRecord] = Field(description="newest first")


class StagingFile(BaseModel):
    path: str
    name: str = Field(description="relative to ComfyUI's input folder")
    kind: Literal["staged", "temp", "partial_upload"]
    bytes: int
    shared: bool = Field(description="another hard link (the upload) keeps the data: removing it frees nothing")
    reason: str


class FailedStagingFile(StagingFile):
    error: str


class CleanupResult(BaseModel):
    dry_run: bool
    retention_days: float
    referenced: FileTally
    waiting: FileTally
    files: list[StagingFile] = Field(description="dry run: what would be removed; apply: what was removed")
    bytes: int = Field(description="size of those files")
    freed_bytes: int = Field(description="disk space they free (hard-linked uploads excluded)")
    failed: list[FailedStagingFile] = Field(description="could not be removed; run the cleanup again")
    skipped: list[StagingFile] = Field(description="needed again since the survey; kept")
