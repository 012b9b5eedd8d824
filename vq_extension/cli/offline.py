"""``vq submit --offline``: prepare a job through the same ``JobService`` and ``Submitter``
the server uses (catalog, parameter checks, input discovery, staging, planning) and write
it straight into the queue database; ComfyUI's dispatcher claims it on its next start (or
within a poll interval when it runs but cannot be reached over HTTP).

Safe next to a running ComfyUI: the store runs SQLite in WAL mode with ``BEGIN
IMMEDIATE`` writes and a busy timeout, and ``create_job`` is one transaction.

What differs from an online submit: no preflight (ComfyUI's node schemas, installed
models and graph validation are not available), so ComfyUI checks each prompt when it
runs; and ComfyUI's input/output folders are the ones the plugin recorded in the database
when ComfyUI last started (before that, the data dir's standard place:
``<base>/user/__video_queue`` -> ``<base>/input``, ``<base>/output``).

``JobService`` takes a queue control (``nudge``, ``cancel_in_comfy``, ``set_paused``) and
an event sink; offline there is no dispatcher and no browser, so tiny stand-ins serve.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from .errors import ApiError, CliError, UsageError

T = TypeVar("T")

DATA_DIR_HELP = "the folder that holds vq.sqlite3, usually <ComfyUI>/user/__video_queue"
SKIPPED_CHECKS = ("offline: ComfyUI's checks (installed models, node inputs) were skipped; "
                  "ComfyUI checks each prompt when it runs it")


class _NoDispatcher:
    """No ComfyUI in this process: nothing to nudge. The plugin's dispatcher reads the
    database at start-up and on every poll, so the new prompts are found without it."""

    def nudge(self) -> None:
        pass

    async def cancel_in_comfy(self, prompt: Any, *, reason: str = "user") -> None:
        raise CliError("canceling a prompt inside ComfyUI needs ComfyUI running")

    async def set_paused(self, paused: bool) -> None:
        raise CliError("pausing needs ComfyUI running")


class _NoEvents:
    """No browsers to tell: the sidebar refetches when ComfyUI starts."""

    def job(self, job_id: int) -> None:
        pass

    def prompt(self, prompt: Any) -> None:
        pass

    def queue(self) -> None:
        pass

    async def drain(self) -> None:
        pass


def resolve_data_dir(data_dir: str | None) -> Path:
    from ..plugin import DB_FILE

    if not data_dir:
        raise UsageError(f"--offline needs --data-dir DIR (or VQ_DATA_DIR): {DATA_DIR_HELP}")
    path = Path(data_dir).expanduser().resolve()
    if not (path / DB_FILE).is_file():
        # Creating a fresh database where ComfyUI does not look would lose the job silently.
        raise UsageError(f"no queue database at {path / DB_FILE}; point --data-dir at {DATA_DIR_HELP} "
                         "(it exists once ComfyUI has started with vq)")
    return path


def comfy_dirs(data_dir: Path, recorded: dict[str, str] | None = None) -> tuple[Path, Path]:
    """ComfyUI's input and output folders: as the plugin recorded them at start-up, else
    from the data dir's standard place."""
    if recorded and Path(recorded.get("input", "")).is_dir():
        return Path(recorded["input"]), Path(recorded["output"])
    base = data_dir.parent.parent
    input_dir, output_dir = base / "input", base / "output"
    if data_dir.parent.name != "user" or not input_dir.is_dir():
        raise UsageError(f"cannot find ComfyUI's input folder for {data_dir}: expected the data dir at "
                         "<ComfyUI>/user/__video_queue beside <ComfyUI>/input")
    return input_dir, output_dir


class OfflineQueue:
    """The queue's services on a data dir, without ComfyUI. Use as a context manager."""

    def __init__(self, data_dir: Path, *, with_submitter: bool = False) -> None:
        # Imported here: the online CLI never needs the store, services or aiohttp.
        from ..config import ConfigError, load_settings
        from ..plugin import DB_FILE
        from ..queue.executor import Database
        from ..queue.migrations import SchemaTooNew
        from ..queue.progress import LiveProgress, WorkerState
        from ..api.reader import QueueReader
        from ..queue.service import JobService
        from ..queue.store import SqliteQueueStore

        self.data_dir = data_dir
        try:
            self.settings = load_settings(data_dir)
            self.store = SqliteQueueStore(data_dir / DB_FILE)
        except (ConfigError, SchemaTooNew) as exc:
            raise CliError(str(exc)) from exc
        self.db = Database()
        self.reader = QueueReader(self.store, self.db, LiveProgress(), WorkerState(), self.settings.max_in_flight)
        self.submitter = self._submitter() if with_submitter else None
        self.jobs = JobService(store=self.store, db=self.db, reader=self.reader,
                               dispatcher=_NoDispatcher(), events=_NoEvents(),
                               settings=self.settings, submitter=self.submitter)

    def _submitter(self) -> Any:
        """The server's Submitter, wired as plugin.build wires it, minus ComfyUI."""
        from ..plugin import SHIPPED_WORKFLOWS, UPLOADS, USER_WORKFLOWS
        from ..files.paths import AllowedRoots
        from ..files.staging import Stager
        from ..queue.submit import Submitter
        from ..workflows import Catalog

        from ..plugin import COMFY_DIRS_SETTING

        input_dir, output_dir = comfy_dirs(self.data_dir, self.store.get_setting(COMFY_DIRS_SETTING))
        extra = [Path(p) for p in self.settings.allowed_roots]
        self.catalog = Catalog([SHIPPED_WORKFLOWS, self.data_dir / USER_WORKFLOWS])
        return Submitter(
            catalog=self.catalog,
            roots=lambda: AllowedRoots([input_dir, output_dir, *extra]),
            stager=Stager(input_dir),
            uploads_dir=input_dir / UPLOADS,
            output_dir=output_dir,
            preflight=None,
            stage_by_default=self.settings.stage_on_submit,
            max_attempts=self.settings.max_attempts,
        )

    def run(self, make: Callable[[], Awaitable[T]]) -> T:
        async def go() -> T:
            return await make()

        return asyncio.run(go())

    def close(self) -> None:
        self.db.close()
        self.store.close()

    def __enter__(self) -> OfflineQueue:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def submit_offline(args: Any, io: Any, raw_params: dict[str, str],
                   raw_per_file: dict[str, dict[str, str]]) -> dict[str, Any]:
    """Type the parameters by the local catalog, validate the body as the route does, and
    submit through JobService. Server-side refusals keep their HTTP meaning (400 -> exit 2)."""
    from pydantic import ValidationError

    from ..errors import VqError
    from ..api.requests import SubmitJob
    from ..workflows import WorkflowNotFound
    from .submit import submit_body

    data_dir = resolve_data_dir(args.data_dir)
    with OfflineQueue(data_dir, with_submitter=True) as queue:
        try:
            description = queue.catalog.describe(args.workflow)
        except WorkflowNotFound as exc:
            raise ApiError(404, "not_found", f"no workflow named {exc.name!r}; known workflows: "
                                             f"{', '.join(exc.known) or 'none'}") from None
        body = submit_body(args, description, raw_params, raw_per_file)
        try:
            request = SubmitJob.model_validate(body).to_request()
        except ValidationError as exc:
            raise UsageError("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())) from None
        io.err(f"vq: warning: {SKIPPED_CHECKS}")
        try:
            return queue.run(lambda: queue.jobs.submit_workflow(request))
        except VqError as exc:
            raise ApiError(exc.status, exc.code, exc.message, exc.details) from None
