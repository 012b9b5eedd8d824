"""vq's own small thread pool for file work (path checks, folder scans, thumbnails,
cleanup). Not the loop's default executor: aiohttp serves ComfyUI's own file responses
(GET /view, the frontend) from that one, and slow scans of a huge folder must never make
them wait. Created once in ``app.build`` and passed down."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")
Runner = Callable[..., Awaitable[Any]]  # FileWork.run, or asyncio.to_thread where no FileWork is wired (tests)
FILE_WORKERS = 2


class FileWork:
    def __init__(self, workers: int = FILE_WORKERS) -> None:
        self.workers = workers
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="vq-files")

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
