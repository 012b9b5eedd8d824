"""Runs store calls on one dedicated thread, so the event loop never waits on disk."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


class DbExecutor:
    def __init__(self) -> None:
        # One thread: SQLite serializes writers anyway, and one thread keeps ordering simple.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vq-db")

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))

    def close(self) -> None:
        self._executor.shutdown(wait=True)
