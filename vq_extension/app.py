"""The composition root: the ONLY place vq's objects are constructed and wired.

``build(settings, dirs, host)`` is used by the plugin inside ComfyUI (``host`` is the
ComfyUI bridge) and by ``vq submit --offline`` (no host: no dispatcher, no browsers,
no ComfyUI checks). Nothing is patched after construction.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import __version__
from .api.events import EventPublisher
from .api.reader import QueueReader
from .autoprompt.cache import PromptCache
from .autoprompt.client import LmStudioClient
from .autoprompt.generator import Generator, GeneratorConfig
from .autoprompt.service import AutopromptService
from .comfy.bridge import ComfyBridge
from .config import Settings
from .errors import Unavailable
from .files.cleanup import StagingCleanup
from .files.paths import AllowedRoots
from .files.service import FilesService
from .files.staging import Stager
from .files.work import FileWork
from .queue.dispatcher import Dispatcher
from .queue.executor import DbExecutor
from .queue.ownership import Instance
from .queue.ports import QueueControl
from .queue.presets import PresetService
from .queue.progress import LiveProgress, WorkerState
from .queue.records import PromptRecord, Transition
from .queue.service import JobService, ProcessedMover
from .queue.store import SqliteQueueStore
from .queue.submit import Submitter
from .workflows.service import WorkflowService

DB_FILE = "vq.sqlite3"
SHIPPED_WORKFLOWS = Path(__file__).resolve().parent.parent / "workflow_defs_v2"
USER_WORKFLOWS = "workflows"  # under the data dir: the user's own definitions
UPLOADS = "vq/uploads"  # under ComfyUI's input dir
COMFY_DIRS_SETTING = "comfy_dirs"  # ComfyUI's input/output folders, for the CLI's offline mode
HEALTH_SETTINGS = ("max_in_flight", "max_attempts", "prompt_timeout_seconds", "stage_on_submit", "lease_seconds",
                   "upload_max_bytes", "staging_retention_days", "staging_sweep_hours", "job_retention_days",
                   "lmstudio_url", "autoprompt_caption_model", "autoprompt_motion_model", "autoprompt_timeout_seconds",
                   "autoprompt_image_long_side")


@dataclass(frozen=True)
class Dirs:
    data: Path  # vq's own folder (the database, the user's workflow definitions)
    input: Path  # ComfyUI's input folder (staged inputs and uploads go under it)
    output: Path  # ComfyUI's output folder


@dataclass
class App:
    settings: Settings
    dirs: Dirs
    store: SqliteQueueStore
    db: DbExecutor
    reader: QueueReader
    jobs: JobService
    workflows: WorkflowService
    files: FilesService
    staging: StagingCleanup
    presets: PresetService
    submitter: Submitter
    work: FileWork
    host: ComfyBridge | None
    dispatcher: Dispatcher | None
    autoprompt: AutopromptService
    lmstudio: LmStudioClient

    async def start(self) -> None:
        """Inside ComfyUI, once its server runs: record its folders, load definitions, feed it."""
        dirs = {"input": str(self.dirs.input), "output": str(self.dirs.output)}
        await self.db.run(self.store.set_setting, COMFY_DIRS_SETTING, dirs)
        await self.workflows.reload()
        if self.dispatcher is not None:
            await self.dispatcher.start()
        self.staging.start_sweeps()

    async def stop(self) -> None:
        await self.staging.stop_sweeps()
        await self.autoprompt.close()
        await self.lmstudio.close()
        if self.dispatcher is not None:
            await self.dispatcher.stop()
        self.close()

    def close(self) -> None:
        self.work.close()
        self.db.close()
        self.store.close()

    async def health(self) -> dict[str, Any]:
        worker = self.reader.worker
        caps = self.host.capabilities if self.host is not None else None
        now = time.time()
        instances = await self.db.run(self.store.instances)
        return {
            "ok": worker.running and worker.error is None,
            "vq_version": __version__,
            "comfyui_version": caps.comfyui_version if caps else None,
            "strategies": caps.to_dict() if caps else {},
            "queue": await self.reader.queue_state(),
            "data_dir": str(self.dirs.data),
            "db": {
                "path": str(self.store.path),
                "schema_version": self.store.schema_version,
                "sqlite_version": self.store.sqlite_version,
            },
            "settings": self.settings.model_dump(include=set(HEALTH_SETTINGS)),
            # Every ComfyUI process whose vq renews its lease on this database (one per GPU, say).
            "instance": self.dispatcher.instance.id if self.dispatcher is not None else None,
            "instances": [
                {"id": i.id, "host": i.host, "port": i.port, "pid": i.pid, "started_at": i.started_at,
                 "heartbeat_at": i.heartbeat_at}
                for i in instances.values() if i.lease_expires_at >= now
            ],
        }


def build(settings: Settings, dirs: Dirs, host: ComfyBridge | None = None) -> App:
    store = SqliteQueueStore(dirs.data / DB_FILE)
    db = DbExecutor()
    work = FileWork()  # vq's file work, off the default executor that serves ComfyUI's files
    live, worker = LiveProgress(), WorkerState()
    stager = Stager(dirs.input)
    reader = QueueReader(store, db, live, worker, settings.max_in_flight)
    workflows = WorkflowService([SHIPPED_WORKFLOWS, dirs.data / USER_WORKFLOWS], preflight=host, file_work=work.run)
    extra_roots = [Path(p) for p in settings.allowed_roots]

    def roots() -> AllowedRoots:
        return AllowedRoots([dirs.input, dirs.output, *extra_roots])

    submitter = Submitter(
        catalog=workflows.catalog,
        roots=roots,
        stager=stager,
        uploads_dir=dirs.input / UPLOADS,
        output_dir=dirs.output,
        preflight=host,
        stage_by_default=settings.stage_on_submit,
        max_attempts=settings.max_attempts,
        max_folder_files=settings.max_folder_files,
        file_work=work.run,
    )
    dispatcher: Dispatcher | None = None
    events: EventPublisher | NoBrowsers  # an EventSink, and the autoprompt notifier
    control: QueueControl
    if host is not None:
        events = EventPublisher(host.broadcast, reader, live)
        instance = Instance.here(host=settings.owner_id, port=host.port(), started_at=time.time())
        dispatcher = Dispatcher(store=store, db=db, bridge=host, events=events, live=live, worker=worker,
                                settings=settings, input_problem=functools.partial(work.run, stager.verify),
                                on_job_succeeded=ProcessedMover(store=store, db=db, roots=roots, file_work=work.run),
                                instance=instance)
        control = dispatcher
    else:
        events, control = NoBrowsers(), NoComfyUI()
    jobs = JobService(store=store, db=db, reader=reader, dispatcher=control, events=events, settings=settings,
                      submitter=submitter)
    files = FilesService(roots=roots, input_dir=dirs.input, uploads_dir=dirs.input / UPLOADS, settings=settings,
                         catalog=workflows.catalog, work=work)
    staging = StagingCleanup(roots=roots, uploads_dir=dirs.input / UPLOADS, stager=stager, settings=settings,
                             store=store, db=db, work=work, on_jobs_deleted=events.jobs_deleted)
    lmstudio = LmStudioClient(settings.lmstudio_url, timeout=settings.autoprompt_timeout_seconds)
    generator = Generator(lmstudio, PromptCache(store, db.run), GeneratorConfig.from_settings(settings),
                          file_work=work.run)
    autoprompt = AutopromptService(settings=settings, generator=generator, lister=lmstudio,
                                   catalog=workflows.catalog, roots=roots, notify=events.autoprompt,
                                   file_work=work.run)
    presets = PresetService(store, db)
    return App(settings, dirs, store, db, reader, jobs, workflows, files, staging, presets, submitter, work, host,
               dispatcher, autoprompt, lmstudio)


def recorded_comfy_dirs(data_dir: Path) -> dict[str, str] | None:
    """ComfyUI's input/output folders as the plugin recorded them when ComfyUI last started."""
    store = SqliteQueueStore(data_dir / DB_FILE)
    try:
        return store.get_setting(COMFY_DIRS_SETTING)
    finally:
        store.close()


class NoComfyUI:
    """Offline there is no ComfyUI in this process: nothing to nudge. The plugin's dispatcher
    reads the database at start-up and on every poll, so new prompts are found without it."""

    def nudge(self) -> None:
        pass

    async def cancel_in_comfy(self, prompt: PromptRecord, *, reason: str = "user") -> Transition | None:
        raise Unavailable("canceling a prompt inside ComfyUI needs ComfyUI running")

    async def set_paused(self, paused: bool) -> None:
        raise Unavailable("pausing needs ComfyUI running")


class NoBrowsers:
    """Offline there are no browsers to tell: the sidebar refetches when ComfyUI starts."""

    def job(self, job_id: int) -> None:
        pass

    def prompt(self, prompt: PromptRecord) -> None:
        pass

    def progress(self, prompt: PromptRecord) -> None:
        pass

    def queue(self) -> None:
        pass

    def jobs_deleted(self, job_ids: Sequence[int]) -> None:
        pass

    def autoprompt(self, event: dict[str, Any]) -> None:
        pass

    async def drain(self) -> None:
        pass
