"""Clip timing from a workflow's frames and fps, and the temporal markers stage 2 plans with.

Open WAN 2.2 has no timing conditioning (reference section 5): markers only help the
model order at most three beats inside one clip, which it then writes as first/then/finally.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

BEATS = 3  # the reference's budget: 1-3 beats per ~5 s clip
MARKER_STEP = 0.5  # seconds; finer marks read as precision WAN does not have


@dataclass(frozen=True)
class ClipTiming:
    fps: float
    frames: int  # per clip (WAN stage)
    clips: int = 1  # 1: one prompt; more: a split workflow, one prompt per stage

    @classmethod
    def from_workflow(cls, timing: dict[str, Any]) -> ClipTiming:
        """From ``workflows.params.timing()`` (fps, frames_per_stage, stages)."""
        return cls(float(timing["fps"]), int(timing["frames_per_stage"]), int(timing["stages"]))

    @property
    def seconds(self) -> float:
        return self.frames / self.fps

    def markers(self) -> list[str]:
        """Up to three marks from 0 s, evenly spaced on half seconds, all inside the clip:
        81 frames at 24 fps (3.375 s) gives 0s, 1.5s, 3s; at 16 fps (5.06 s) 0s, 2.5s, 5s."""
        half = self.seconds / (BEATS - 1)
        # The largest half-second step that keeps the last mark before the clip's end.
        step = math.ceil(half / MARKER_STEP - 1e-9) * MARKER_STEP - MARKER_STEP
        if step < MARKER_STEP:
            return ["0s"]
        return [f"{k * step:g}s" for k in range(BEATS)]

    def key(self) -> dict[str, Any]:
        """What of the timing changes a motion prompt (the cache key's part)."""
        return {"fps": self.fps, "frames": self.frames, "clips": self.clips}
