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

The objects come from ``app.build`` without a host: no dispatcher, no browsers.
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


def resolve_data_dir(data_dir: str | None) -> Path:
    from ..app import DB_FILE

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

    def __init__(self, data_dir: Path) -> None:
        # Imported here: the online CLI never needs the store, services or aiohttp.
        from ..app import Dirs, build, recorded_comfy_dirs
        from ..config import ConfigError, load_settings
        from ..queue.migrations import SchemaTooNew

        try:
            settings = load_settings(data_dir)
            input_dir, output_dir = comfy_dirs(data_dir, recorded_comfy_dirs(data_dir))
            self.app = build(settings, Dirs(data_dir, input_dir, output_dir))
        except (ConfigError, SchemaTooNew) as exc:
            raise CliError(str(exc)) from exc
        self.jobs, self.catalog = self.app.jobs, self.app.workflows.catalog

    def run(self, make: Callable[[], Awaitable[T]]) -> T:
        async def go() -> T:
            return await make()

        return asyncio.run(go())

    def close(self) -> None:
        self.app.close()

    def __enter__(self) -> OfflineQueue:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def submit_offline(args: Any, io: Any, raw_params: dict[str, str],
                   raw_per_file: dict[str, dict[str, str]]) -> dict[str, Any]:
    """Type the parameters by the local catalog, validate the body as the route does, and
    submit through JobService. Server-side refusals keep their HTTP meaning (400 -> exit 2)."""
    from pydantic import ValidationError

    from ..api.requests import SubmitJob
    from ..errors import VqError
    from ..workflows import WorkflowNotFound
    from .body import submit_body

    data_dir = resolve_data_dir(args.data_dir)
    with OfflineQueue(data_dir) as queue:
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
