"""Live progress of running prompts: in memory only (it changes every sampler step and
means nothing after a restart). Written by the dispatcher, read by views."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class Progress:
    prompt_id: int
    job_id: int
    value: float = 0
    max: float = 0
    node: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "max": self.max, "node": self.node}


class LiveProgress:
    def __init__(self) -> None:
        self._by_prompt: dict[int, Progress] = {}

    def get(self, prompt_id: int) -> Progress | None:
        return self._by_prompt.get(prompt_id)

    def update(self, prompt_id: int, job_id: int, **fields: Any) -> Progress:
        progress = self._by_prompt.setdefault(prompt_id, Progress(prompt_id, job_id))
        for name, value in fields.items():
            setattr(progress, name, value)
        return progress

    def drop(self, prompt_id: int) -> None:
        self._by_prompt.pop(prompt_id, None)

    def for_job(self, job_id: int) -> Progress | None:
        return next((p for p in self._by_prompt.values() if p.job_id == job_id), None)


@dataclass
class WorkerState:
    """The dispatcher's runtime state, as health and the status bar show it."""

    paused: bool = False
    in_flight: int = 0
    error: str | None = None  # set when the dispatcher task died
    running: bool = False  # the dispatcher task is alive

    @property
    def label(self) -> str:
        if self.error:
            return "error"
        if self.paused:
            return "paused"
        return "running" if self.in_flight else "idle"
