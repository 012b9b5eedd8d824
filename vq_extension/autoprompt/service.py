"""The auto-prompt service behind the routes: checks a request (workflow, timing, paths
inside the allowed roots), then runs the generator synchronously (small sets) or as a
background run (progress per image as ``vq.autoprompt`` events, cancelable).

LM Studio being absent touches nothing else in vq: every failure here is an
AutopromptError (503 with a hint when the user has to act), and runs live in memory only
(their results are in the cache, so a restart loses nothing worth keeping).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from ..config import Settings
from ..errors import InvalidRequest, NotFound
from ..files.paths import AllowedRoots
from ..files.service import checked
from ..files.work import Runner
from ..timestamps import iso
from ..workflows import Catalog, ParamError, WorkflowNotFound, resolve_params, timing
from .errors import AutopromptError
from .generator import BatchResult, Generator, Stage
from .probe import ModelLister, probe
from .timing import ClipTiming

log = logging.getLogger("vq.autoprompt")

SYNC_MAX_IMAGES = 20  # more images than this go through a run, so no HTTP request waits minutes
KEEP_FINISHED_RUNS = 50
Notify = Callable[[dict[str, Any]], None]  # broadcasts one vq.autoprompt event
RunStatus = Literal["running", "succeeded", "failed", "canceled"]


@dataclass(frozen=True)
class AutopromptRequest:
    image_paths: list[str]
    workflow_name: str
    stage: Stage = "both"
    captions: dict[str, str] | None = None
    system_prompt_override: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    regenerate: bool = False


@dataclass(frozen=True)
class _Checked:
    """A request after its checks: real paths to send, the paths as given to answer with."""

    request: AutopromptRequest
    paths: list[str]
    given: dict[str, str]  # checked path -> path as given
    captions: dict[str, str]  # checked path -> caption
    timing: ClipTiming


@dataclass
class Run:
    id: int
    request: AutopromptRequest
    progress: dict[str, dict[str, int]]
    created_at: float
    status: RunStatus = "running"
    current_stage: str | None = None
    finished_at: float | None = None
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    task: asyncio.Task[None] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "status": self.status, "workflow_name": self.request.workflow_name,
                "stage": self.request.stage, "current_stage": self.current_stage,
                "progress": {k: dict(v) for k, v in self.progress.items()},
                "created_at": iso(self.created_at), "finished_at": iso(self.finished_at),
                "result": self.result, "error": self.error}


class AutopromptService:
    def __init__(self, *, settings: Settings, generator: Generator, lister: ModelLister, catalog: Catalog,
                 roots: Callable[[], AllowedRoots], notify: Notify, file_work: Runner,
                 clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.file_work = file_work  # checking the images' paths: vq's file executor
        self.generator = generator
        self.lister = lister
        self.catalog = catalog
        self.roots = roots
        self.notify = notify
        self.clock = clock
        self._runs: dict[int, Run] = {}
        self._next_id = 1

    async def status(self) -> dict[str, Any]:
        """The capability probe, per stage, for the UI (never 503: unavailable is an answer)."""
        found = await probe(self.lister)
        s = self.settings
        return {**found.as_dict(s.autoprompt_caption_model, s.autoprompt_motion_model),
                "settings": s.model_dump(include={"lmstudio_url", "autoprompt_caption_model",
                                                  "autoprompt_motion_model", "autoprompt_timeout_seconds",
                                                  "autoprompt_image_long_side"})}

    async def generate(self, request: AutopromptRequest) -> dict[str, Any]:
        checked = await self.file_work(self._check, request)
        if len(checked.paths) > SYNC_MAX_IMAGES:
            raise InvalidRequest(f"{len(checked.paths)} images are too many to wait for; the synchronous route "
                                 f"takes up to {SYNC_MAX_IMAGES}: start a run (POST /vq/v1/autoprompt/runs)",
                                 {"param": "image_paths", "max": SYNC_MAX_IMAGES})
        models = await self.generator.models(request.stage)
        return await self._generate(checked, models, None)

    async def start_run(self, request: AutopromptRequest) -> dict[str, Any]:
        """Checks and the LM Studio probe happen now (so a bad request is a 4xx and an
        absent LM Studio a 503, not a failed run); the work runs in the background."""
        checked = await self.file_work(self._check, request)
        models = await self.generator.models(request.stage)
        stages = ["caption", "motion"] if request.stage == "both" else [request.stage]
        run = Run(self._next_id, request, {s: {"done": 0, "total": len(checked.paths)} for s in stages},
                  self.clock(), current_stage=stages[0])
        self._next_id += 1
        self._runs[run.id] = run
        self._forget_old_runs()
        run.task = asyncio.get_running_loop().create_task(self._run(run, checked, models))
        return run.as_dict()

    def run(self, run_id: int) -> dict[str, Any]:
        return self._get(run_id).as_dict()

    async def cancel_run(self, run_id: int) -> dict[str, Any]:
        """Stops the run at its current LM Studio request; a finished run stays as it was."""
        run = self._get(run_id)
        if run.task is not None and not run.task.done():
            run.task.cancel()
            try:
                await run.task
            except asyncio.CancelledError:
                pass
        return run.as_dict()

    async def close(self) -> None:
        for run in self._runs.values():
            if run.task is not None and not run.task.done():
                run.task.cancel()
        await asyncio.gather(*(r.task for r in self._runs.values() if r.task is not None), return_exceptions=True)

    # --- running ---------------------------------------------------------------------------

    async def _run(self, run: Run, checked: _Checked, models: tuple[str | None, str | None]) -> None:
        try:
            run.result = await self._generate(checked, models, run)
            run.status = "succeeded"
        except asyncio.CancelledError:
            run.status = "canceled"
            raise
        except AutopromptError as exc:
            run.status = "failed"
            run.error = {"status": exc.status, "code": exc.code, "message": exc.message, "hint": exc.hint,
                         "stage": exc.stage}
        except Exception as exc:  # a bug in vq: the run says so, ComfyUI's log has the traceback
            log.exception("vq: auto-prompt run %s failed", run.id)
            run.status = "failed"
            run.error = {"status": 500, "code": "internal", "message": f"{type(exc).__name__}: {exc}",
                         "hint": None, "stage": run.current_stage}
        finally:
            run.finished_at, run.current_stage = self.clock(), None
            self.notify({"run_id": run.id, "status": run.status, "error": run.error})

    async def _generate(self, checked: _Checked, models: tuple[str | None, str | None],
                        run: Run | None) -> dict[str, Any]:
        request = checked.request

        def progress(stage: str, path: str, i: int, total: int) -> None:
            if run is not None:
                run.progress[stage]["done"] = i
                run.current_stage = stage if i < total else _next_stage(run, stage)
            self.notify({"run_id": run.id if run else None, "status": "running", "stage": stage,
                         "path": checked.given[path], "index": i, "total": total})

        batch = await self.generator.generate_batch(
            checked.paths, progress, stage=request.stage, timing=checked.timing, captions=checked.captions,
            system_prompt_override=request.system_prompt_override, fresh=request.regenerate, models=models)
        return self._answer(checked, batch)

    def _answer(self, checked: _Checked, batch: BatchResult) -> dict[str, Any]:
        answer = batch.as_dict()
        for entry in answer["results"]:
            entry["path"] = checked.given[entry["path"]]
        return {"workflow_name": checked.request.workflow_name, "stage": checked.request.stage, **answer}

    # --- checks ----------------------------------------------------------------------------

    def _check(self, request: AutopromptRequest) -> _Checked:
        """Workflow and timing first (400/404), then every path (403 outside the roots, 404
        when an image to caption is missing). Runs in a worker thread: it touches the disk."""
        clip_timing = self._timing(request)
        roots = self.roots()
        paths, given, captions = [], {}, {}
        by_given = request.captions or {}
        for raw in request.image_paths:
            path = str(checked(roots, raw, "image_paths"))
            if request.stage != "motion" and not os.path.isfile(path):
                raise NotFound(f"no image at {path}", {"param": "image_paths", "path": raw})
            if path not in given:
                paths.append(path)
                given[path] = raw
            caption = by_given.get(raw) or by_given.get(path)
            if caption:
                captions[path] = caption
        return _Checked(request, paths, given, captions, clip_timing)

    def _timing(self, request: AutopromptRequest) -> ClipTiming:
        try:
            wf = self.catalog.get(request.workflow_name)
        except WorkflowNotFound as exc:
            raise NotFound(f"no workflow named {request.workflow_name!r}; known workflows: "
                           f"{', '.join(exc.known) or 'none'}", {"known": exc.known}) from None
        try:
            values = resolve_params(wf, request.params)
        except ParamError as exc:
            raise InvalidRequest(f"params.{exc.param}: {exc.message}", {"param": exc.param}) from None
        found = timing(wf, values)
        if found is None:
            if request.stage != "caption":
                raise InvalidRequest(f"workflow {wf.name} declares no timing, so it takes no motion prompts; "
                                     "choose a video workflow", {"param": "workflow_name"})
            return ClipTiming(16, 81)  # captions do not depend on timing
        return ClipTiming.from_workflow(found)

    def _get(self, run_id: int) -> Run:
        run = self._runs.get(run_id)
        if run is None:
            raise NotFound(f"no auto-prompt run {run_id} (runs are kept in memory until ComfyUI restarts)")
        return run

    def _forget_old_runs(self) -> None:
        finished = [r for r in self._runs.values() if r.status != "running"]
        for old in sorted(finished, key=lambda r: r.id)[:max(0, len(finished) - KEEP_FINISHED_RUNS)]:
            del self._runs[old.id]


def _next_stage(run: Run, stage: str) -> str | None:
    stages = list(run.progress)
    at = stages.index(stage)
    return stages[at + 1] if at + 1 < len(stages) else None

