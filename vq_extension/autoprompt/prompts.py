"""The two stages' instructions (reference section 5).

Stage 1 (a vision model) writes down what could move; stage 2 (a text model, which never
sees the image) turns that caption into a WAN motion prompt. Timing goes into the user
message, not the system prompt, so a user's stage-2 override keeps it; the output format
contract is appended to any system prompt, so an override cannot break parsing.
"""

from __future__ import annotations

from .timing import ClipTiming

CAPTION_SYSTEM = """\
You describe a still image that will be the first frame of a short video. A second writer,
who cannot see the image, will invent the motion from your description alone.
Describe the physical facts that matter for motion:
- the main subject(s): who or what, position in the frame, pose, where limbs, head and gaze point;
- clothing, hair and accessories, and how loose or heavy they are (what could sway, flutter, swing);
- the environment: ground, water, plants, smoke, light sources, weather, anything that could move;
- framing and camera: shot size, angle, distance to the subject.
Be concrete and literal. Do not invent a story, do not describe motion that has not happened,
do not judge quality or style. Plain English, one paragraph, under 150 words. Output only the description."""

CAPTION_USER = "Describe this image."

MOTION_SYSTEM = """\
You write motion prompts for an image-to-video model (WAN 2.2). The described image is the first frame.
Describe only what moves and how the camera moves; never restate static appearance, colors or style.
Ground every action in the description: name the subject as described ("the woman in the red coat").
Use 1-3 simple actions in order (first, then, finally) with speed words (slowly, gently, suddenly),
and the secondary motion they cause (hair, clothing, water, leaves).
Name at most one camera movement (push in, pull back, pan, tilt, orbit, tracking) or say the camera is static.
Present tense, English, under 80 words per prompt, no preamble."""


def motion_system(override: str | None, clips: int) -> str:
    """The stage-2 system prompt: the user's override or ours, then the output contract."""
    base = override.strip() if override and override.strip() else MOTION_SYSTEM
    return base + "\n\n" + output_contract(clips)


def output_contract(clips: int) -> str:
    if clips == 1:
        return "Output only the prompt: one paragraph of plain text."
    return (f"The video is {clips} clips generated one after another; clip k+1 starts from the last frame of "
            f"clip k. Write one prompt per clip. Each clip continues from the pose and state where the previous "
            f"one ends and does not describe the scene again.\n"
            f'Output only JSON, exactly {clips} strings: {{"clips": ["clip 1 prompt", ..., "clip {clips} prompt"]}}')


def motion_user(caption: str, timing: ClipTiming) -> str:
    marks = ", ".join(timing.markers())
    clip = (f"Each clip lasts {timing.seconds:.1f} seconds ({timing.frames} frames at {timing.fps:g} fps). "
            f"Plan its beats at {marks} of the clip, then write them in order with first/then/finally; "
            f"do not write the timestamps.")
    count = "One clip." if timing.clips == 1 else f"{timing.clips} clips."
    return f"Image description:\n{caption.strip()}\n\n{count} {clip}"


def reask(reason: str, clips: int) -> str:
    """The one second chance a split answer gets (the model's bad answer is in the history)."""
    return (f"That answer could not be used: {reason}. Answer again with only the JSON object "
            f'{{"clips": [...]}} holding exactly {clips} non-empty strings, and nothing else.')
