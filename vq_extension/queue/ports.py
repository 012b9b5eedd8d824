"""What the queue needs from its neighbours, stated as protocols so the dispatcher and the
job service can run against fakes in unit tests and against stand-ins offline.

The value types (``SubmitResult``, ``QueueSnapshot``, ``Outcome``) belong to the ComfyUI
seam; this module only names the calls."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any, Protocol

from ..comfy.bridge import Outcome, QueueSnapshot, SubmitResult, TapListener
from .records import PromptRecord, Transition


class Bridge(Protocol):
    """ComfyUI as the dispatcher sees it (``comfy.bridge.ComfyBridge`` in ComfyUI)."""

    async def submit(self, graph: dict[str, Any], *, comfy_prompt_id: str, extra_data: dict[str, Any]) -> SubmitResult: ...

    def snapshot(self) -> QueueSnapshot: ...

    def outcome(self, comfy_prompt_id: str) -> Outcome | None: ...

    def delete_pending(self, comfy_prompt_id: str) -> bool: ...

    def interrupt(self, comfy_prompt_id: str) -> bool: ...

    def watch(self, comfy_prompt_ids: Collection[str]) -> None: ...

    def install_tap(self, listener: TapListener) -> None: ...


class EventSink(Protocol):
    """Where changes are announced to browsers (``api.events.EventPublisher`` in ComfyUI)."""

    def job(self, job_id: int) -> None: ...

    def prompt(self, prompt: PromptRecord) -> None: ...

    def progress(self, prompt: PromptRecord) -> None: ...

    def queue(self) -> None: ...

    def jobs_deleted(self, job_ids: Sequence[int]) -> None: ...

    async def drain(self) -> None: ...


class QueueControl(Protocol):
    """What the job service needs of the dispatcher (the CLI's offline mode has none running)."""

    def nudge(self) -> None: ...

    async def cancel_in_comfy(self, prompt: PromptRecord, *, reason: str = "user") -> Transition | None: ...

    async def set_paused(self, paused: bool) -> None: ...


class Reader(Protocol):
    """The read side the job service answers with (``api.reader.QueueReader``)."""

    async def job_summary(self, job_id: int) -> dict[str, Any]: ...

    async def job_detail(self, job_id: int) -> dict[str, Any]: ...

    async def prompt_detail(self, prompt_id: int, *, with_graph: bool = False) -> dict[str, Any]: ...

    async def queue_state(self) -> dict[str, Any]: ...
