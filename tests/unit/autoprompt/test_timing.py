"""Clip timing and temporal markers, and where they land in the stage-2 prompts."""

from __future__ import annotations

import pytest

from vq_extension.autoprompt import prompts
from vq_extension.autoprompt.timing import ClipTiming


@pytest.mark.parametrize("frames, fps, markers", [
    (81, 24, ["0s", "1.5s", "3s"]),  # the default
    (81, 16, ["0s", "2.5s", "5s"]),  # WAN 2.2 14B's native 5 s
    (121, 24, ["0s", "2.5s", "5s"]),
    (80, 16, ["0s", "2s", "4s"]),  # exactly 5 s: no mark on the last instant
    (33, 16, ["0s", "1s", "2s"]),
    (17, 16, ["0s", "0.5s", "1s"]),
    (9, 16, ["0s"]),  # too short for beats
])
def test_markers(frames: int, fps: int, markers: list[str]) -> None:
    assert ClipTiming(fps, frames).markers() == markers


def test_from_workflow_timing() -> None:
    timing = ClipTiming.from_workflow({"fps": 24, "frames_per_stage": 81, "stages": 3, "total_frames": 241})
    assert timing == ClipTiming(24.0, 81, 3) and timing.seconds == 3.375


def test_user_message_carries_caption_and_timing() -> None:
    text = prompts.motion_user("  A cat on a wall.  ", ClipTiming(24, 81, 2))
    assert text.startswith("Image description:\nA cat on a wall.\n\n2 clips.")
    assert "3.4 seconds (81 frames at 24 fps)" in text and "0s, 1.5s, 3s" in text


def test_override_replaces_instructions_but_keeps_the_output_contract() -> None:
    system = prompts.motion_system("Only describe the wind.", 3)
    assert system.startswith("Only describe the wind.") and prompts.MOTION_SYSTEM not in system
    assert "exactly 3 strings" in system
    assert prompts.motion_system("   ", 1).startswith(prompts.MOTION_SYSTEM)
    assert "JSON" not in prompts.motion_system(None, 1)
