"""aiohttp handlers: parse the request, call a service, answer JSON. Nothing else.

Every handler is wrapped by ``api.http.wrap``, which guards against other sites, validates
the query/body with pydantic and maps errors to the ``{"error": {code, message, details}}``
envelope (DESIGN §7).
Routes go on ComfyUI's own route table at import time, so ComfyUI serves each twice:
``/vq/v1/...`` and ``/api/vq/v1/...``.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol

from aiohttp import BodyPartReader, web
from aiohttp.helpers import parse_mimetype
from aiohttp.http_exceptions import HttpProcessingError

from .api import requests as schemas
from .api.http import Reply, wrap
from .api.reader import QueueReader
from .api.spec import PREFIX, AlsoOk, RouteSpec
from .autoprompt.service import AutopromptService
from .config import Settings
from .errors import InvalidRequest
from .files.cleanup import StagingCleanup
from .files.service import FilesService
from .queue.service import JobService
from .workflows.service import WorkflowService

log = logging.getLogger("vq.routes")

class Services(Protocol):
    """What the handlers call: ``app.App`` inside ComfyUI, a test's stand-in elsewhere."""

    settings: Settings
    jobs: JobService
    reader: QueueReader
    workflows: WorkflowService
    files: FilesService
    staging: StagingCleanup
    autoprompt: AutopromptService

    async def health(self) -> dict[str, Any]: ...


Handler = Callable[..., Awaitable[Any]]
SPECS: list[tuple[RouteSpec, Handler]] = []


def route(method: str, path: str, summary: str, **facts: Any) -> Callable[[Handler], Handler]:
    """Add the handler to the table; ``facts`` are ``RouteSpec`` fields."""

    def register(fn: Handler) -> Handler:
        SPECS.append((RouteSpec(method, PREFIX + path, summary, **facts), fn))
        return fn

    return register


def register(routes: web.RouteTableDef, api: Services) -> None:
    """Put every vq route on ``routes`` (ComfyUI's PromptServer.routes inside ComfyUI)."""
    for spec, fn in SPECS:
        routes.route(spec.method, spec.path)(wrap(spec, fn, api))


# --- the routes -------------------------------------------------------------------------


@route("GET", "/health", "ComfyUI and vq status, chosen ComfyUI strategies, queue state", response="Health")
async def health(api: Services) -> dict[str, Any]:
    return await api.health()


@route("GET", "/jobs", "List jobs (filter, search, sort, page)", query=schemas.ListJobs, response="JobList")
async def list_jobs(api: Services, query: schemas.ListJobs) -> dict[str, Any]:
    return await api.reader.list_jobs(statuses=query.status, search=query.search, sort=query.sort.value,
                                      limit=query.limit, offset=query.offset)


@route("POST", "/jobs", "Submit a job: raw graphs, or a workflow over input files (dry_run: answer 200 with "
       "the prompts that would be queued). With an Idempotency-Key header (kept 24 h), a repeat answers "
       "200 with the job the key created; the key with a different body is 409",
       body=schemas.SubmitJob, status=201, response="JobDetail", errors=(403, 404, 503), idempotent=True,
       also_ok=AlsoOk(200, "DryRun", "dry_run: true: the prompts that would be queued; nothing queued"))
async def submit_job(api: Services, body: schemas.SubmitJob, idempotency_key: str | None = None
                     ) -> dict[str, Any] | Reply:
    idempotency = None
    if idempotency_key is not None and not body.dry_run:
        idempotency = (idempotency_key, hashlib.sha256(body.model_dump_json().encode()).hexdigest())
        before = await api.jobs.replayed(*idempotency)
        if before is not None:
            return Reply(200, before)
    if body.graphs is not None:
        return await api.jobs.submit_graphs(name=body.name, graphs=body.graphs, priority=body.priority,
                                            max_attempts=body.max_attempts, idempotency=idempotency)
    answer = await api.jobs.submit_workflow(body.to_request(), idempotency=idempotency)
    return Reply(200, answer) if body.dry_run else answer


@route("GET", "/jobs/{job_id}", "A job with its prompts", response="JobDetail")
async def get_job(api: Services, job_id: int) -> dict[str, Any]:
    return await api.reader.job_detail(job_id)


@route("PATCH", "/jobs/{job_id}", "Change a job's priority", body=schemas.SetPriority, response="JobSummary")
async def patch_job(api: Services, job_id: int, body: schemas.SetPriority) -> dict[str, Any]:
    return await api.jobs.set_priority(job_id, body.priority)


@route("POST", "/jobs/{job_id}/top", "Move a job above every other waiting job", response="JobSummary")
async def move_to_top(api: Services, job_id: int) -> dict[str, Any]:
    return await api.jobs.move_to_top(job_id)


@route("POST", "/jobs/{job_id}/cancel", "Cancel a job's pending, queued and running prompts",
       response="CancelJobResult")
async def cancel_job(api: Services, job_id: int) -> dict[str, Any]:
    return await api.jobs.cancel_job(job_id)


@route("POST", "/jobs/{job_id}/retry", "Retry a job's failed, canceled and interrupted prompts",
       response="RetryJobResult")
async def retry_job(api: Services, job_id: int) -> dict[str, Any]:
    return await api.jobs.retry_job(job_id)


@route("DELETE", "/jobs/{job_id}", "Delete a finished job with its prompts and log (outputs stay on disk); "
       "409 while it has unfinished prompts", response="DeletedJob")
async def delete_job(api: Services, job_id: int) -> dict[str, Any]:
    return await api.jobs.delete_job(job_id)


@route("GET", "/jobs/{job_id}/log", "A job's log", query=schemas.LogQuery, response="LogPage")
async def job_log(api: Services, job_id: int, query: schemas.LogQuery) -> dict[str, Any]:
    return await api.reader.job_log(job_id, after=query.after, limit=query.limit)


@route("GET", "/prompts/{prompt_id}", "One prompt with its graph", response="PromptWithGraph")
async def get_prompt(api: Services, prompt_id: int) -> dict[str, Any]:
    return await api.reader.prompt_detail(prompt_id, with_graph=True)


@route("POST", "/prompts/{prompt_id}/cancel", "Cancel one prompt", response="PromptDetail")
async def cancel_prompt(api: Services, prompt_id: int) -> dict[str, Any]:
    return await api.jobs.cancel_prompt(prompt_id)


@route("POST", "/prompts/{prompt_id}/retry", "Retry one failed, canceled or interrupted prompt",
       response="PromptDetail")
async def retry_prompt(api: Services, prompt_id: int) -> dict[str, Any]:
    return await api.jobs.retry_prompt(prompt_id)


@route("GET", "/queue", "Queue state: paused, worker, counts", response="QueueState")
async def queue_state(api: Services) -> dict[str, Any]:
    return await api.reader.queue_state()


@route("POST", "/queue/pause", "Stop dispatching; take unstarted prompts back out of ComfyUI", response="QueueState", conflicts=False)
async def pause(api: Services) -> dict[str, Any]:
    return await api.jobs.pause()


@route("POST", "/queue/resume", "Resume dispatching", response="QueueState", conflicts=False)
async def resume(api: Services) -> dict[str, Any]:
    return await api.jobs.resume()


@route("POST", "/queue/clear", "Cancel all waiting prompts (running ones only if asked)", body=schemas.ClearQueue,
       response="ClearResult")
async def clear(api: Services, body: schemas.ClearQueue) -> dict[str, Any]:
    return await api.jobs.clear(expected_count=body.expected_count, include_running=body.include_running)


# --- files ---


@route("POST", "/paths/normalize", "Check a pasted path: its normalized form, whether it exists and how many "
       "input files it holds for a workflow (outside the allowed roots: 403)", body=schemas.NormalizePath,
       response="NormalizedPath", errors=(403,), conflicts=False)
async def normalize_path(api: Services, body: schemas.NormalizePath) -> dict[str, Any]:
    return await api.files.normalize(body.path, body.workflow)


@route("GET", "/browse", "List the sub-folders and matching files of a folder inside the allowed roots "
       "(default: ComfyUI's input folder)", query=schemas.BrowseQuery, response="FolderListing", errors=(403, 404),
       same_site_only=True)
async def browse_folder(api: Services, query: schemas.BrowseQuery) -> dict[str, Any]:
    return await api.files.browse(query.path, query.workflow, query.extensions, query.limit)


@route("GET", "/thumbnail", "A small WebP of an image inside the allowed roots", query=schemas.ThumbnailQuery, raw=True,
       content_type="image/webp", errors=(403, 404, 415), same_site_only=True)
async def thumbnail(api: Services, query: schemas.ThumbnailQuery, request: web.Request) -> web.Response:
    thumb = await api.files.thumbnail(query.path, query.size, request.headers.get("If-None-Match"))
    headers = {"ETag": thumb.etag, "Cache-Control": "private, max-age=3600"}
    if thumb.data is None:
        return web.Response(status=304, headers=headers)
    return web.Response(body=thumb.data, content_type="image/webp", headers=headers)


@route("POST", "/uploads", "Upload one image or video (multipart/form-data, streamed to disk; an optional "
       "subfolder field goes before the file)", query=schemas.UploadQuery, status=201, response="UploadResult", raw=True,
       errors=(403, 413, 415), conflicts=False)
async def upload(api: Services, query: schemas.UploadQuery, request: web.Request) -> dict[str, Any]:
    api.files.refuse_if_too_large(request.content_length)
    if request.content_type != "multipart/form-data":
        raise InvalidRequest(
            f"send the file as multipart/form-data (curl -F file=@clip.mp4), not {request.content_type}")
    boundary = parse_mimetype(request.headers.get("Content-Type", "")).parameters.get("boundary", "").strip('"')
    if not boundary:
        raise InvalidRequest("the multipart Content-Type has no boundary; let the client build the body "
                             "(curl -F file=@clip.mp4, or FormData in a browser)")
    subfolder, answer = query.subfolder, None
    try:
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if answer is not None:
                await api.files.discard_upload(answer)
                raise InvalidRequest("send one file per request, with the subfolder field before the file")
            if not isinstance(part, BodyPartReader):
                raise InvalidRequest("nested multipart bodies are not supported; send one file per request")
            if part.filename is None:
                subfolder = await _subfolder_field(part, query.subfolder)
            else:
                answer = await api.files.upload(_chunks(part), part.filename, subfolder)
    except (ValueError, AssertionError, HttpProcessingError, web.HTTPException) as exc:
        # aiohttp's multipart reader raises these on a malformed or cut-off body; a
        # half-written file was already removed by files.upload (see _chunks).
        if answer is not None:
            await api.files.discard_upload(answer)
        raise InvalidRequest(f"the multipart body is malformed or incomplete: {exc}") from None
    if answer is None:
        raise InvalidRequest(
            "the upload holds no file; send it as a form field with a file name (curl -F file=@clip.mp4)")
    return answer


@route("GET", "/staging", "Staged inputs: files and bytes, referenced vs reclaimable; retention settings; "
       "recent cleanup audit entries", query=schemas.StagingQuery, response="StagingUsage")
async def staging_usage(api: Services, query: schemas.StagingQuery) -> dict[str, Any]:
    return await api.staging.usage(query.audit)


@route("POST", "/staging/cleanup", "Remove staged inputs that no live prompt needs and that are past retention "
       "(dry_run, the default, only lists them)", body=schemas.CleanupBody, response="CleanupResult")
async def staging_cleanup(api: Services, body: schemas.CleanupBody) -> dict[str, Any]:
    return await api.staging.cleanup(body.is_dry_run)


async def _subfolder_field(part: BodyPartReader, from_query: str) -> str:
    if part.name != "subfolder":
        raise InvalidRequest(f"unknown form field {part.name!r}; this route takes a subfolder field and one file")
    raw = b""
    while len(raw) <= 4096 and (chunk := await part.read_chunk(4096)):
        raw += chunk
    if len(raw) > 4096:
        raise InvalidRequest("the subfolder field is longer than 4096 bytes")
    value = raw.decode("utf-8", errors="replace")
    if from_query and value != from_query:
        raise InvalidRequest(
            f"subfolder is given twice ({from_query!r} in the query, {value!r} in the form); give it once")
    return value


async def _chunks(part: BodyPartReader) -> AsyncIterator[bytes]:
    while chunk := await part.read_chunk(1 << 20):
        yield chunk
    if not part.at_eof():  # the body ended before the part's closing boundary
        raise InvalidRequest("the upload is incomplete (the body was truncated before the file's end); "
                             "nothing was kept, send it again")


@route("GET", "/workflows", "Workflow definitions (and any that failed to load, with the reason)",
       response="WorkflowList")
async def list_workflows(api: Services) -> dict[str, Any]:
    return await api.workflows.list()


@route("GET", "/workflows/{name}", "One workflow: parameters, types, defaults, ranges, options, UI hints",
       response="WorkflowDescription")
async def describe_workflow(api: Services, name: str) -> dict[str, Any]:
    return await api.workflows.describe(name)


@route("POST", "/workflows/reload", "Re-read workflow definitions and ComfyUI's node schemas",
       response="WorkflowReload", conflicts=False)
async def reload_workflows(api: Services) -> dict[str, Any]:
    return await api.workflows.reload()


# --- auto-prompt ---


@route("GET", "/autoprompt/status", "Is LM Studio there, which models it has (loaded, vision), and whether each "
       "auto-prompt stage can run (else the hint)", response="AutopromptStatus")
async def autoprompt_status(api: Services) -> dict[str, Any]:
    return await api.autoprompt.status()


@route("POST", "/autoprompt", "Caption images and/or write their motion prompts, waiting for the answer (up to "
       "20 images; LM Studio unavailable: 503 with a hint)", body=schemas.Autoprompt, response="AutopromptResult",
       errors=(403, 404, 502, 503, 504), conflicts=False)  # LM Studio: error (502), down (503), slow (504)
async def autoprompt(api: Services, body: schemas.Autoprompt) -> dict[str, Any]:
    return await api.autoprompt.generate(body.to_request())


@route("POST", "/autoprompt/runs", "Start auto-prompt as a background run (progress as vq.autoprompt events)",
       body=schemas.Autoprompt, status=202, response="AutopromptRun", errors=(403, 404, 503), conflicts=False)
async def start_autoprompt_run(api: Services, body: schemas.Autoprompt) -> dict[str, Any]:
    return await api.autoprompt.start_run(body.to_request())


@route("GET", "/autoprompt/runs/{run_id}", "An auto-prompt run: progress per stage; the result when done",
       response="AutopromptRun")
async def get_autoprompt_run(api: Services, run_id: int) -> dict[str, Any]:
    return api.autoprompt.run(run_id)


@route("POST", "/autoprompt/runs/{run_id}/cancel", "Cancel an auto-prompt run (a finished run is unchanged)",
       response="AutopromptRun", conflicts=False)
async def cancel_autoprompt_run(api: Services, run_id: int) -> dict[str, Any]:
    return await api.autoprompt.cancel_run(run_id)


@route("GET", "/openapi.json", "This API as an OpenAPI 3.1 document")
async def openapi_document(api: Services) -> dict[str, Any]:
    from .api.openapi import document  # late: only this route needs the response models

    return document(SPECS)
