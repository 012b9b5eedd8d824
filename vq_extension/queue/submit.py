"""Workflow submits: inputs -> staged files -> planned prompts -> preflight -> one job.

Everything blocking (folder scans, hashing, copying, rendering a thousand graphs) runs in
a worker thread. Staging belongs to the submit's failure domain: if anything after it
fails, the staged files this submit created are removed again.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InvalidRequest, NotFound, PathForbidden, StagingUnwritable
from ..files.browse import refuse_huge_folder
from ..files.paths import AllowedRoots, PathInvalid, PathNotAllowed
from ..files.staging import StagedFile, Stager, StagingError
from ..files.uploads import file_sha256
from ..files.work import Runner
from ..workflows import (
    Catalog,
    InputError,
    LoadedWorkflow,
    ParamError,
    WorkflowNotFound,
    discover_inputs,
    missing_models,
    plan_prompts,
    resolve_params,
)
from ..workflows.preflight import Preflight
from .records import NewJob, NewPrompt

DRY_RUN_GRAPHS = 50  # a dry run returns every graph up to this many prompts, else only the first
DRY_RUN_PAGE = 500  # planned prompts listed per dry-run answer: a 100k plan in one answer blocked the loop


@dataclass(frozen=True)
class WorkflowRequest:
    workflow: str
    input: list[str] = field(default_factory=list)  # a folder, or files; empty for none
    params: dict[str, Any] = field(default_factory=dict)
    per_file_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    prompt_mode: str | None = None
    tries: int = 1
    seed: int | None = None
    randomize_seed: bool | None = None
    stage: bool | None = None
    move_processed: bool = False
    dry_run: bool = False
    dry_run_offset: int = 0  # the page of planned prompts a dry run lists (DRY_RUN_PAGE at a time)
    name: str | None = None
    priority: int = 0
    max_attempts: int | None = None
    workspace: str | None = None


@dataclass
class PreparedJob:
    job: NewJob
    prompts: list[NewPrompt]
    created: list[StagedFile]  # staged by this submit: removed if the submit fails
    warnings: list[str]


class Submitter:
    def __init__(
        self,
        *,
        catalog: Catalog,
        roots: Callable[[], AllowedRoots],
        stager: Stager,
        uploads_dir: Path,
        output_dir: Path | None,
        preflight: Preflight | None,
        stage_by_default: bool,
        max_attempts: int,
        max_folder_files: int,
        file_work: Runner,
    ) -> None:
        self.catalog, self.roots, self.stager = catalog, roots, stager
        self.uploads_dir, self.output_dir = uploads_dir, output_dir
        self.preflight = preflight
        self.stage_by_default, self.max_attempts = stage_by_default, max_attempts
        self.max_folder_files = max_folder_files
        self.file_work = file_work  # vq's file executor: scans and staging never wait behind ComfyUI's file responses

    async def prepare(self, req: WorkflowRequest) -> PreparedJob:
        """Plan (and unless dry-run, stage) a workflow submit; raise a VqError on bad input."""
        wf = self._workflow(req.workflow)
        prepared = await self.file_work(self._prepare_sync, wf, req)
        try:
            await self._preflight(wf, prepared, req.dry_run)
        except BaseException:
            await self.abandon(prepared)
            raise
        return prepared

    async def abandon(self, prepared: PreparedJob) -> None:
        """A prepared submit that will not become a job: its staged files go."""
        await self.file_work(self.discard, prepared)

    def discard(self, prepared: PreparedJob) -> None:
        """Remove the staged files a failed submit created (others may share old ones)."""
        for staged in prepared.created:
            try:
                staged.path.unlink()
            except FileNotFoundError:
                pass

    def dry_run_answer(self, prepared: PreparedJob, offset: int = 0) -> dict[str, Any]:
        prompts = prepared.prompts
        show_all = len(prompts) <= DRY_RUN_GRAPHS
        page = range(offset, min(len(prompts), offset + DRY_RUN_PAGE))
        return {
            "offset": offset,
            "next_offset": page.stop if page.stop < len(prompts) else None,
            "dry_run": True,
            "workflow": prepared.job.workflow,
            "name": prepared.job.name,
            "total": len(prompts),
            "params": prepared.job.params,
            "warnings": prepared.warnings,
            "prompts": [
                {
                    "index": i,
                    "input_file": p.input_file,
                    "staged_name": p.staged_name,
                    "try_index": p.try_index,
                    "seed": p.seed,
                    "params": p.params,
                    "graph": p.graph if show_all or i == 0 else None,
                }
                for i, p in ((i, prompts[i]) for i in page)
            ],
        }

    # --- steps -----------------------------------------------------------------------

    def _workflow(self, name: str) -> LoadedWorkflow:
        try:
            return self.catalog.get(name)
        except WorkflowNotFound as exc:
            known = ", ".join(exc.known) or "none"
            raise NotFound(f"no workflow named {name!r}; known workflows: {known}", {"known": exc.known}) from None

    def _prepare_sync(self, wf: LoadedWorkflow, req: WorkflowRequest) -> PreparedJob:
        sources, source = self._inputs(wf, req.input)
        stage = self.stage_by_default if req.stage is None else req.stage
        names, created = self._comfy_names(sources, stage, req.dry_run)
        randomize = req.seed is None if req.randomize_seed is None else req.randomize_seed
        try:
            planned = plan_prompts(
                wf,
                files=[str(s) for s in sources],
                params=req.params,
                per_file_params=req.per_file_params,
                prompt_mode=req.prompt_mode or ("per-image manual" if req.per_file_params else "manual"),
                tries=req.tries,
                seed=req.seed,
                randomize_seed=randomize,
                rng=random.SystemRandom(),
                input_names=names if sources else None,
            )
            params = resolve_params(wf, {**req.params, **({"seed": req.seed} if req.seed is not None else {})})
            if randomize:  # each prompt has its own seed; the job-wide default would mislead
                params.pop("seed", None)
        except (ParamError, InputError) as exc:
            self.discard(PreparedJob(NewJob(name=""), [], created, []))
            raise _bad_input(exc) from None
        attempts = req.max_attempts or self.max_attempts
        job = NewJob(
            name=req.name or _default_name(wf, source, len(sources)),
            priority=req.priority,
            workflow=wf.name,
            mode=wf.definition.mode,
            params=params,
            options={
                "tries": req.tries,
                "seed": req.seed,
                "randomize_seed": randomize,
                "prompt_mode": req.prompt_mode,
                "stage": stage,
                "move_processed": req.move_processed,
                "max_attempts": attempts,
                "per_file_params": req.per_file_params,
            },
            source=source,
            workspace=req.workspace,
        )
        prompts = [
            NewPrompt(
                graph=p.graph,
                max_attempts=attempts,
                seed=p.seed,
                input_file=p.input_file,
                staged_name=names.get(p.input_file) if p.input_file else None,
                try_index=p.try_index,
                params=p.params,
            )
            for p in planned
        ]
        return PreparedJob(job, prompts, created, [])

    def _inputs(self, wf: LoadedWorkflow, raw: Sequence[str]) -> tuple[list[Path], dict[str, Any] | None]:
        """The input files, resolved inside the allowed roots, and how to describe them."""
        if not raw:
            if wf.definition.input.kind != "none":
                raise InvalidRequest(
                    f"workflow {wf.name} needs an input {wf.definition.input.kind}: give a folder or file(s)",
                    {"param": "input"})
            return [], None
        roots = self.roots()
        paths = [self._allowed(roots, text) for text in raw]
        try:
            if len(paths) == 1 and paths[0].is_dir():
                refuse_huge_folder(paths[0], self.max_folder_files, param="input")
                files = [self._allowed(roots, str(f)) for f in discover_inputs(wf, paths[0])]
                return files, {"kind": "folder", "folder": str(paths[0]), "files": len(files)}
            for path in paths:
                if not path.is_file():
                    raise InputError(f"input file not found: {path}")
                if path.suffix.lower() not in wf.definition.input.suffixes:
                    raise InputError(f"{path.name}: workflow {wf.name} takes "
                                     f"{', '.join(wf.definition.input.suffixes)} files")
        except InputError as exc:
            raise _bad_input(exc) from None
        folders = {str(p.parent) for p in paths}
        return paths, {"kind": "files", "folder": folders.pop() if len(folders) == 1 else None, "files": len(paths)}

    def _allowed(self, roots: AllowedRoots, text: str) -> Path:
        try:
            return roots.resolve(text)
        except PathNotAllowed as exc:
            raise PathForbidden(str(exc), {"path": str(exc.path), "roots": [str(r) for r in exc.roots]}) from None
        except PathInvalid as exc:
            raise InvalidRequest(str(exc), {"param": "input"}) from None

    def _comfy_names(self, sources: list[Path], stage: bool, dry_run: bool) -> tuple[dict[str, str], list[StagedFile]]:
        """Source path -> the name ComfyUI's loaders get, and the staged files created."""
        if not sources:
            return {}, []
        uploads = [s for s in sources if _inside(s, self.uploads_dir)]
        if not stage and not uploads:
            return {str(s): self._unstaged_name(s) for s in sources}, []
        if dry_run:  # name what staging would create, without creating it
            return {str(s): self.stager.name_for(file_sha256(s), s.suffix) for s in sources}, []
        try:
            # Uploads are vq's own files and never rewritten: a hard link is safe for them.
            staged = self.stager.stage(uploads, prefer_link=True) if uploads else []
            others = [s for s in sources if s not in uploads]
            try:
                staged += self.stager.stage(others, prefer_link=False) if others else []
            except (StagingError, StagingUnwritable):  # the uploads staged above go too
                self.discard(PreparedJob(NewJob(name=""), [], [f for f in staged if f.method != "existing"], []))
                raise
        except StagingError as exc:
            raise InvalidRequest(str(exc), {"files": [{"path": str(p), "problem": r} for p, r in exc.problems]}) from None
        names = {str(f.source): f.name_for_comfy for f in staged}
        return names, [f for f in staged if f.method != "existing"]

    def _unstaged_name(self, source: Path) -> str:
        """Without staging ComfyUI must find the file itself: inside input/ (or output/)."""
        for base, suffix in ((self.stager.input_dir, ""), (self.output_dir, " [output]")):
            if base is not None and _inside(source, base):
                return os.path.relpath(source, os.path.realpath(base)).replace(os.sep, "/") + suffix
        raise InvalidRequest(
            f"{source} is outside ComfyUI's input and output folders, so ComfyUI cannot load it "
            "unstaged; submit with staging on (the default) or move the files into ComfyUI's input folder",
            {"param": "stage"})

    async def _preflight(self, wf: LoadedWorkflow, prepared: PreparedJob, dry_run: bool) -> None:
        """Check the first graph against ComfyUI before queueing copies of it."""
        if self.preflight is None:
            prepared.warnings.append("ComfyUI is not running: model files and node inputs were not checked")
            return
        first = prepared.prompts[0].graph
        info = await self.preflight.object_info()
        if info is not None:
            missing = missing_models(first, info)
            if missing:
                lines = "; ".join(m.message for m in missing)
                raise InvalidRequest(
                    f"workflow {wf.name} needs model files this ComfyUI does not have: {lines}",
                    {"missing": [m.as_dict() for m in missing]}, code="missing_models")
        if dry_run:
            return  # the staged inputs do not exist yet, so ComfyUI's validation would fail on them
        error = await self.preflight.validate(first)
        if error is not None:
            raise InvalidRequest(f"ComfyUI refuses the first prompt of this submit: {error.message}",
                                 {"error": error.to_dict()}, code="invalid_graph")


def _inside(path: Path, base: Path) -> bool:
    real, root = os.path.realpath(path), os.path.realpath(base)
    return os.path.commonpath([real, root]) == root


def _bad_input(exc: ParamError | InputError) -> InvalidRequest:
    if isinstance(exc, ParamError):
        details = {"param": exc.param} | ({"file": exc.file} if exc.file else {})
        return InvalidRequest(str(exc), details)
    return InvalidRequest(str(exc), {"param": "input"})


def _default_name(wf: LoadedWorkflow, source: dict[str, Any] | None, count: int) -> str:
    if source and source.get("folder"):
        return f"{wf.name}: {Path(source['folder']).name} ({count})"
    return f"{wf.name} ({count} file(s))" if count else wf.name
