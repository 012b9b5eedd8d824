"""The workflow catalog as a service: listing, describing and reloading definitions, with
node schemas and live option lists (LoRAs, checkpoints, ...) read from the running ComfyUI."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from ..errors import NotFound
from .catalog import Catalog, WorkflowNotFound
from .modelcheck import options_from_object_info
from .preflight import Preflight


class WorkflowService:
    def __init__(self, dirs: list[Path], preflight: Preflight | None,
                 file_work: Callable[..., Awaitable[Any]]) -> None:
        self._preflight = preflight
        self._file_work = file_work  # vq's file executor (files.work.FileWork.run): reading definitions is file work
        self._object_info: dict[str, Any] | None = None
        self.catalog = Catalog(dirs, object_info=lambda: self._object_info, options=self._options)

    def _options(self, source: str) -> list[str]:
        return options_from_object_info(self._object_info)(source) if self._object_info else []

    async def reload(self) -> dict[str, Any]:
        """Re-read node schemas from ComfyUI and every definition file."""
        if self._preflight is not None:
            self._object_info = await self._preflight.object_info()
        problems = await self._file_work(self.catalog.reload)
        return {"workflows": self.catalog.names(), "problems": [p.as_dict() for p in problems]}

    async def list(self) -> dict[str, Any]:
        summaries = await self._file_work(self.catalog.summaries)
        return {"workflows": summaries, "problems": [p.as_dict() for p in self.catalog.problems()]}

    async def describe(self, name: str) -> dict[str, Any]:
        try:
            return await self._file_work(self.catalog.describe, name)
        except WorkflowNotFound as exc:
            known = ", ".join(exc.known) or "none"
            raise NotFound(f"no workflow named {name!r}; known workflows: {known}", {"known": exc.known}) from None
