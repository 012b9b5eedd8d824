"""Live progress of running prompts: in memory only (it changes every sampler step and
means nothing after a restart). Written by the dispatcher on the loop, read by views on
the DB thread (job summaries): every access takes the lock, and readers get copies."""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
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
        self._lock = threading.Lock()

    def get(self, prompt_id: int) -> Progress | None:
        with self._lock:
            progress = self._by_prompt.get(prompt_id)
            return replace(progress) if progress is not None else None

    def update(self, prompt_id: int, job_id: int, **fields: Any) -> Progress:
        with self._lock:
            progress = self._by_prompt.setdefault(prompt_id, Progress(prompt_id, job_id))
            for name, value in fields.items():
                setattr(progress, name, value)
            return replace(progress)

    def drop(self, prompt_id: int) -> None:
        with self._lock:
            self._by_prompt.pop(prompt_id, None)

    def for_job(self, job_id: int) -> Progress | None:
        with self._lock:
            progress = next((p for p in self._by_prompt.values() if p.job_id == job_id), None)
            return replace(progress) if progress is not None else None


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
