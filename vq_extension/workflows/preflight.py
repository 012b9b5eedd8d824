"""ComfyUI's view of a graph before hundreds of copies are queued (the ComfyUI bridge
implements it; offline there is none)."""

from __future__ import annotations

from typing import Any, Protocol

from ..errors import PromptError


class Preflight(Protocol):
    async def object_info(self) -> dict[str, Any] | None: ...

    async def validate(self, graph: dict[str, Any]) -> PromptError | None: ...
