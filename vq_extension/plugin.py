"""Wiring: config -> store -> services -> dispatcher -> routes. The only place that
builds vq's objects; ``install()`` is what ComfyUI's import of the package runs."""

from __future__ import annotations

import logging
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from . import __version__, routes
from .comfy.bridge import ComfyBridge
from .config import Settings, load_settings
from .files.service import FilesService
from .queue.executor import Database
from .queue.dispatcher import Dispatcher
from .api.events import EventPublisher
from .queue.presets import PresetService
from .queue.progress import LiveProgress, WorkerState
from .api.reader import QueueReader
from .queue.service import JobService
from .files.paths import AllowedRoots
from .files.staging import Stager
from .queue.store import SqliteQueueStore
from .queue.submit import Submitter
from .workflows.service import WorkflowService

log = logging.getLogger("vq")
DB_FILE = "vq.sqlite3"
SHIPPED_WORKFLOWS = Path(__file__).resolve().parent.parent / "workflow_defs_v2"
USER_WORKFLOWS = "workflows"  # under the data dir: the user's own definitions
UPLOADS = "vq/uploads"  # under ComfyUI's input dir
COMFY_DIRS_SETTING = "comfy_dirs"  # ComfyUI's input/output folders, for the CLI's offline mode
GUARD_ATTRIBUTE = "_vq_plugin"  # on PromptServer.instance: install once per server


@dataclass
class Plugin:
    bridge: ComfyBridge
    settings: Settings
    data_dir: Path
    store: SqliteQueueStore
    db: Database
    reader: QueueReader
    dispatcher: Dispatcher
    jobs: JobService
    workflows: WorkflowService
    api: routes.Api
    files: FilesService

    async def on_startup(self, _app: web.Application) -> None:
        dirs = {"input": self.bridge.input_dir(), "output": self.bridge.output_dir()}
        await self.db.run(self.store.set_setting, COMFY_DIRS_SETTING, dirs)
        found = await self.workflows.reload()
        log.info("vq: %d workflow definition(s) loaded, %d problem(s)", len(found["workflows"]), len(found["problems"]))
        await self.dispatcher.start()
        log.info("vq: dispatcher started (%s)", self.bridge.capabilities.submit)
        self.files.start_sweeps()

    async def on_cleanup(self, _app: web.Application) -> None:
        await self.files.stop_sweeps()
        await self.dispatcher.stop()
        self.db.close()
        self.store.close()


def build(bridge: ComfyBridge, settings: Settings, data_dir: Path) -> Plugin:
    input_dir, output_dir = Path(bridge.input_dir()), Path(bridge.output_dir())
    store = SqliteQueueStore(data_dir / DB_FILE)
    db = Database()
    live, worker = LiveProgress(), WorkerState()
    stager = Stager(input_dir)
    reader = QueueReader(store, db, live, worker, settings.max_in_flight)
    events = EventPublisher(bridge.broadcast, reader, live)
    dispatcher = Dispatcher(store=store, db=db, bridge=bridge, events=events, live=live, worker=worker,
                            settings=settings, input_problem=stager.verify)
    workflows = WorkflowService([SHIPPED_WORKFLOWS, data_dir / USER_WORKFLOWS], preflight=bridge)

    def roots() -> AllowedRoots:
        return AllowedRoots([input_dir, output_dir, *map(Path, settings.allowed_roots)])

    submitter = Submitter(
        catalog=workflows.catalog,
        roots=roots,
        stager=stager,
        uploads_dir=input_dir / UPLOADS,
        output_dir=output_dir,
        preflight=bridge,
        stage_by_default=settings.stage_on_submit,
        max_attempts=settings.max_attempts,
    )
    jobs = JobService(store=store, db=db, reader=reader, dispatcher=dispatcher, events=events, settings=settings,
                      submitter=submitter)
    dispatcher.on_job_succeeded = jobs.after_success

    async def health() -> dict[str, Any]:
        return await describe_health(bridge, settings, data_dir, store, reader)

    files = FilesService(roots=roots, input_dir=input_dir, uploads_dir=input_dir / UPLOADS, stager=stager,
                         settings=settings, catalog=workflows.catalog, store=store, db=db)
    api = routes.Api(jobs, reader, workflows, files, PresetService(store, db), health)
    return Plugin(bridge, settings, data_dir, store, db, reader, dispatcher, jobs, workflows, api, files)


async def describe_health(
    bridge: ComfyBridge, settings: Settings, data_dir: Path, store: SqliteQueueStore, reader: QueueReader
) -> dict[str, Any]:
    worker = reader.worker
    return {
        "ok": worker.running and worker.error is None,
        "vq_version": __version__,
        "comfyui_version": bridge.capabilities.comfyui_version,
        "strategies": bridge.capabilities.to_dict(),
        "queue": await reader.queue_state(),
        "data_dir": str(data_dir),
        "db": {
            "path": str(store.path),
            "schema_version": store.schema_version,
            "sqlite_version": store.sqlite_version,
        },
        "settings": settings.model_dump(
            include={"max_in_flight", "max_attempts", "prompt_timeout_seconds", "stage_on_submit",
                     "upload_max_bytes", "staging_retention_days", "staging_sweep_hours"}
        ),
    }


def install() -> Plugin | None:
    """Load vq into the running ComfyUI. Idempotent; never raises into ComfyUI."""
    try:
        bridge = ComfyBridge.from_comfyui(client_id=f"vq-{uuid.uuid4().hex}")
        existing = getattr(bridge.server, GUARD_ATTRIBUTE, None)
        if existing is not None:  # already installed (or already failed: False)
            return existing or None
        data_dir = Path(os.environ.get("VQ_DATA_DIR") or bridge.data_dir())
        plugin = build(bridge, load_settings(data_dir), data_dir)
        routes.register(bridge.routes, plugin.api)
        bridge.on_startup(plugin.on_startup)
        bridge.on_cleanup(plugin.on_cleanup)
        setattr(bridge.server, GUARD_ATTRIBUTE, plugin)
        caps = bridge.capabilities
        log.info("vq: Video Queue %s loaded on ComfyUI %s (queue in %s; submit: %s, cancel: %s)",
                 __version__, caps.comfyui_version, plugin.store.path, caps.submit, caps.cancel)
        return plugin
    except Exception as exc:
        log.exception("vq: Video Queue failed to load (%s); ComfyUI continues without it", exc)
        _report_failure(exc)
        return None


def _report_failure(exc: Exception) -> None:
    """Answer GET /vq/v1/health with why vq is not running, so the sidebar and the CLI can
    say it instead of "not installed" (e.g. a bad vq.yaml, a database from a newer vq)."""
    try:
        server = ComfyBridge.server_instance()
        if getattr(server, GUARD_ATTRIBUTE, None) is not None:
            return
        message = f"vq failed to load: {exc} (details in ComfyUI's log)"

        async def health(_request: web.Request) -> web.Response:
            return routes.error_response(503, "unavailable", message)

        server.routes.get(routes.PREFIX + "/health")(health)
        setattr(server, GUARD_ATTRIBUTE, False)  # registered once; a later install stays a no-op
    except Exception:
        log.exception("vq: could not even register the failure report")
