"""vq autoprompt against the fake API: argument parsing, folder expansion, the run it
starts and follows, --out formats, and the captions-file rerun of stage 2 alone."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import REPO
from tests.unit.cli.fakes import FakeVq, Request, run
from vq_extension.workflows import Catalog

CATALOG = Catalog([REPO / "workflow_defs_v2"])
SPLIT = "wan-context-3stage-split-prompts"


def answer(req: Request, clips: int = 1) -> dict[str, Any]:
    """What the server's run ends with, derived from the request like the real one."""
    body, results = req.body, []
    for path in body["image_paths"]:
        entry: dict[str, Any] = {"path": path}
        caption = (body.get("captions") or {}).get(path) or f"caption of {Path(path).name}"
        if body["stage"] != "motion":
            entry["caption"] = caption
        if body["stage"] != "caption":
            prompts = [f"motion {k} for {caption}" for k in range(1, clips + 1)]
            entry.update({"clip_prompts": prompts} if clips > 1 else {"motion_prompt": prompts[0]})
        results.append(entry)
    return {"results": results, "stage1_model": None if body["stage"] == "motion" else "qwen3-vl",
            "stage2_model": None if body["stage"] == "caption" else "dolphin", "clips": clips,
            "elapsed_seconds": 1.5, "cache_hits": {"caption": 0, "motion": 0}}


class Runs:
    """POST /autoprompt/runs answers 'running'; each GET advances one image."""

    def __init__(self, fake: FakeVq, clips: int = 1, final: dict[str, Any] | None = None) -> None:
        self.posted: list[Request] = []
        self.polls = 0
        self.clips, self.final = clips, final
        fake.on("POST", "/autoprompt/runs", handler=self.start)
        fake.on("GET", "/autoprompt/runs/{id}", handler=self.get)
        fake.on("POST", "/autoprompt/runs/{id}/cancel", {"id": 7, "status": "canceled"})

    def start(self, req: Request) -> tuple[int, Any]:
        self.posted.append(req)
        return 202, self.state()

    def get(self, _req: Request) -> tuple[int, Any]:
        self.polls += 1
        return 200, self.state()

    def state(self) -> dict[str, Any]:
        body = self.posted[-1].body
        n = len(body["image_paths"])
        stages = ["caption", "motion"] if body["stage"] == "both" else [body["stage"]]
        steps = n * len(stages)
        done = min(self.polls, steps)
        progress = {s: {"done": max(0, min(n, done - i * n)), "total": n} for i, s in enumerate(stages)}
        if done < steps:
            return {"id": 7, "status": "running", "stage": body["stage"], "current_stage": stages[done // n],
                    "progress": progress, "result": None, "error": None}
        if self.final is not None:
            return {"id": 7, "progress": progress, **self.final}
        return {"id": 7, "status": "succeeded", "stage": body["stage"], "current_stage": None, "progress": progress,
                "result": answer(self.posted[-1], self.clips), "error": None}


@pytest.fixture
def fake() -> FakeVq:
    fake = FakeVq()
    for name in CATALOG.names():
        fake.on("GET", f"/workflows/{name}", CATALOG.describe(name))
    return fake


@pytest.fixture
def stills(tmp_path: Path) -> Path:
    folder = tmp_path / "stills"
    folder.mkdir()
    for name in ("b.jpg", "a.png", "notes.txt", ".hidden.png"):
        (folder / name).write_bytes(b"x")
    return folder


def test_workflow_is_required_and_out_must_be_json_or_md(fake: FakeVq) -> None:
    assert run(fake, "autoprompt", "x.png").code == 2
    result = run(fake, "autoprompt", "x.png", "--workflow", "wan-i2v", "--out", "x.txt")
    assert result.code == 2 and "--out must end in .json or .md" in result.err
    assert run(fake, "autoprompt", "x.png", "--workflow", "wan-i2v", "--stage", "all").code == 2
    assert fake.requests == []


def test_motion_stage_needs_a_captions_file(fake: FakeVq) -> None:
    result = run(fake, "autoprompt", "x.png", "--workflow", "wan-i2v", "--stage", "motion")
    assert result.code == 2 and "--captions-file" in result.err and fake.requests == []


def test_folder_becomes_its_images_and_progress_shows_per_stage(fake: FakeVq, stills: Path) -> None:
    runs = Runs(fake)
    result = run(fake, "autoprompt", str(stills), "--workflow", "wan-i2v")
    assert result.code == 0, result.err
    assert runs.posted[0].body == {"image_paths": [str(stills / "a.png"), str(stills / "b.jpg")],
                                   "workflow_name": "wan-i2v", "stage": "both"}
    # Piped: one line per finished stage (a terminal gets bars redrawn in place).
    assert [line.split()[0] for line in result.err.splitlines()] == ["caption", "motion"]
    assert "2/2" in result.err.splitlines()[0]
    assert "## a.png" in result.out and "**Caption:** caption of a.png" in result.out
    assert "**Prompt:** motion 1 for caption of a.png" in result.out
    assert result.sleeps == [1.0] * 4


def test_terminal_redraws_the_bar(fake: FakeVq, stills: Path) -> None:
    Runs(fake)
    result = run(fake, "autoprompt", str(stills), "--workflow", "wan-i2v", "--stage", "caption", tty=True)
    assert result.code == 0 and result.err.count("\rcaption") == 3  # 0/2 (current stage), 1/2, 2/2


def test_json_out_then_stage_2_rerun_from_it(fake: FakeVq, stills: Path, tmp_path: Path) -> None:
    runs = Runs(fake)
    out = tmp_path / "captions.json"
    first = run(fake, "autoprompt", str(stills), "--workflow", "wan-i2v", "--stage", "caption", "--out", str(out))
    assert first.code == 0 and f"wrote {out}: 2 files" in first.err
    saved = json.loads(out.read_text())
    assert saved["files"][str(stills / "a.png")] == {"caption": "caption of a.png"}
    override = tmp_path / "wind.txt"
    override.write_text("Only the wind moves.")
    second = run(fake, "autoprompt", "--workflow", "wan-i2v", "--stage", "motion", "--captions-file", str(out),
                 "--system-prompt-override", str(override), "--out", str(tmp_path / "try2.json"))
    assert second.code == 0, second.err
    body = runs.posted[1].body
    assert body["stage"] == "motion" and body["system_prompt_override"] == "Only the wind moves."
    assert body["captions"] == {str(stills / "a.png"): "caption of a.png", str(stills / "b.jpg"): "caption of b.jpg"}
    files = json.loads((tmp_path / "try2.json").read_text())["files"]
    assert files[str(stills / "b.jpg")] == {"motion_prompt": "motion 1 for caption of b.jpg"}


def test_plain_captions_mapping_and_missing_captions(fake: FakeVq, stills: Path, tmp_path: Path) -> None:
    Runs(fake)
    captions = tmp_path / "c.json"
    captions.write_text(json.dumps({str(stills / "a.png"): "A cat."}))
    result = run(fake, "autoprompt", str(stills), "--workflow", "wan-i2v", "--stage", "motion",
                 "--captions-file", str(captions))
    assert result.code == 2 and "no caption for 1 file" in result.err and "b.jpg" in result.err
    ok = run(fake, "autoprompt", str(stills / "a.png"), "--workflow", "wan-i2v", "--stage", "motion",
             "--captions-file", str(captions))
    assert ok.code == 0 and "motion 1 for A cat." in ok.out


def test_split_workflow_markdown_lists_clips(fake: FakeVq, stills: Path, tmp_path: Path) -> None:
    Runs(fake, clips=3)
    out = tmp_path / "review.md"
    result = run(fake, "autoprompt", str(stills), "--workflow", SPLIT, "--out", str(out))
    assert result.code == 0, result.err
    text = out.read_text()
    assert "clips per video: 3" in text and "**Clip 3:** motion 3 for caption of b.jpg" in text


def test_split_output_with_the_wrong_clip_count_fails(fake: FakeVq, stills: Path) -> None:
    runs = Runs(fake, clips=3)
    bad = answer(Request("POST", "/autoprompt/runs", {}, {"image_paths": [str(stills / "a.png")], "stage": "both",
                                                           "workflow_name": SPLIT}, None), 3)
    bad["results"][0]["clip_prompts"] = bad["results"][0]["clip_prompts"][:2]
    runs.final = {"status": "succeeded", "result": bad, "error": None}
    result = run(fake, "autoprompt", str(stills / "a.png"), "--workflow", SPLIT)
    assert result.code == 1 and "expected 3 clip prompts, got 2" in result.err


def test_per_file_errors_exit_1_after_writing_the_rest(fake: FakeVq, stills: Path, tmp_path: Path) -> None:
    runs = Runs(fake)
    bad = {"results": [{"path": str(stills / "a.png"), "error": {"code": "invalid_image", "stage": "caption",
                                                                  "message": "cannot read a.png"}},
                       {"path": str(stills / "b.jpg"), "caption": "c", "motion_prompt": "m"}],
           "clips": 1, "cache_hits": {"caption": 0, "motion": 1}}
    runs.final = {"status": "succeeded", "result": bad, "error": None}
    out = tmp_path / "r.json"
    result = run(fake, "autoprompt", str(stills), "--workflow", "wan-i2v", "--out", str(out))
    assert result.code == 1 and "a.png: caption failed: cannot read a.png" in result.err
    assert "1 file of 2 failed" in result.err and json.loads(out.read_text())["files"][str(stills / "b.jpg")]


def test_lm_studio_unavailable_shows_the_hint(fake: FakeVq, stills: Path) -> None:
    runs = Runs(fake)
    runs.final = {"status": "failed", "result": None, "error": {
        "status": 503, "code": "autoprompt_unavailable", "message": "LM Studio is not reachable at http://lm:1234",
        "hint": "Start LM Studio and load Qwen3-VL-8B-NSFW-Caption-V4.5"}}
    result = run(fake, "autoprompt", str(stills), "--workflow", "wan-i2v")
    assert result.code == 1
    assert "LM Studio is not reachable" in result.err and "hint: Start LM Studio and load" in result.err


def test_503_when_starting_exits_1(fake: FakeVq, stills: Path) -> None:
    fake.on("POST", "/autoprompt/runs", {"error": {"code": "autoprompt_unavailable", "message": "LM Studio down",
                                                   "hint": "Start LM Studio", "details": {}}}, 503)
    result = run(fake, "autoprompt", str(stills), "--workflow", "wan-i2v")
    assert result.code == 1 and "LM Studio down" in result.err and "hint: Start LM Studio" in result.err


def test_ctrl_c_cancels_the_run(fake: FakeVq, stills: Path) -> None:
    Runs(fake)
    result = run(fake, "autoprompt", str(stills), "--workflow", "wan-i2v", max_sleeps=1)
    assert result.code == 130 and ("POST", "/autoprompt/runs/7/cancel") in fake.calls("POST")


def test_json_prints_the_api_result(fake: FakeVq, stills: Path) -> None:
    Runs(fake)
    result = run(fake, "autoprompt", str(stills / "a.png"), "--workflow", "wan-i2v", "--json")
    assert result.code == 0 and result.json()["results"][0]["path"] == str(stills / "a.png")


def test_empty_folder_is_a_usage_error(fake: FakeVq, tmp_path: Path) -> None:
    result = run(fake, "autoprompt", str(tmp_path), "--workflow", "wan-i2v")
    assert result.code == 2 and "has no images" in result.err
