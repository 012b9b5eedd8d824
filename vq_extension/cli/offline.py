"""``vq submit --offline``: prepare a job through the same ``JobService`` the server uses
and write it straight into the queue database; ComfyUI's dispatcher claims it on its next
start (or within a poll interval when it runs but cannot be reached over HTTP).

Safe next to a running ComfyUI: the store runs SQLite in WAL mode with ``BEGIN
IMMEDIATE`` writes and a busy timeout, and ``create_job`` is one transaction.

``JobService`` wants a dispatcher (``nudge``, ``cancel_in_comfy``, ``set_paused``) and an
event publisher; offline there is neither, so tiny stand-ins take their place until the
service takes narrower interfaces (see ``OFFLINE_INTERFACE`` below).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar, cast

from .errors import CliError, UsageError

T = TypeVar("T")

# What the offline path needs from JobService, stated for the refactor it waits on.
OFFLINE_INTERFACE = """\
JobService(dispatcher=..., events=...) should accept two small protocols instead of the
concrete Dispatcher and EventPublisher:
    class Nudge(Protocol):           # what submit / retry call
        def nudge(self) -> None: ...
    class QueueControl(Nudge, Protocol):   # only cancel / pause need ComfyUI
        async def cancel_in_comfy(self, prompt, *, reason="user") -> Transition | None: ...
        async def set_paused(self, paused: bool) -> None: ...
    class EventSink(Protocol):
        def job(self, job_id: int) -> None: ...
        def prompt(self, prompt: PromptRecord) -> None: ...
        def queue(self) -> None: ...
or take dispatcher/events as Optional with None meaning "no live ComfyUI in this process"."""

DATA_DIR_HELP = "the folder that holds vq.sqlite3, usually <ComfyUI>/user/__video_queue"


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
    path = Path(data_dir).expanduser()
    if not (path / DB_FILE).is_file():
        # Creating a fresh database where ComfyUI does not look would lose the job silently.
        raise UsageError(f"no queue database at {path / DB_FILE}; point --data-dir at {DATA_DIR_HELP} "
                         "(it exists once ComfyUI has started with vq)")
    return path


class OfflineQueue:
    """The queue's services on a data dir, without ComfyUI. Use as a context manager."""

    def __init__(self, data_dir: Path) -> None:
        # Imported here: the online CLI never needs the store, services or aiohttp.
        from ..config import load_settings
        from ..plugin import DB_FILE
        from ..queue.database import Database
        from ..queue.progress import LiveProgress, WorkerState
        from ..queue.reader import QueueReader
        from ..queue.service import JobService
        from ..queue.store import SqliteQueueStore

        from ..config import ConfigError
        from ..queue.migrations import SchemaTooNew

        self.data_dir = data_dir
        try:
            self.settings = load_settings(data_dir)
            self.store = SqliteQueueStore(data_dir / DB_FILE)
        except (ConfigError, SchemaTooNew) as exc:
            raise CliError(str(exc)) from exc
        self.db = Database()
        self.reader = QueueReader(self.store, self.db, LiveProgress(), WorkerState(), self.settings.max_in_flight)
        self.jobs = JobService(store=self.store, db=self.db, reader=self.reader,
                               dispatcher=cast(Any, _NoDispatcher()), events=cast(Any, _NoEvents()),
                               settings=self.settings)

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
    """Type the parameters by the local catalog, then submit through JobService."""
    data_dir = resolve_data_dir(args.data_dir)
    with OfflineQueue(data_dir) as queue:
        submit = getattr(queue.jobs, "submit_workflow", None)
        if submit is None:
            raise CliError("offline submit of workflows needs JobService.submit_workflow, which this vq lacks")
        raise CliError("offline submit: not wired yet")  # filled in with the workflow submit service
