"""Auto-prompt in a real ComfyUI 0.8.0 with the fake LM Studio as a separate process on
another port (issue 13's acceptance): captions and motion prompts for 3 staged images;
with the LM Studio process stopped, 503 autoprompt_unavailable with a hint, and
`vq submit` still works."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def lmstudio() -> Iterator[tuple[subprocess.Popen[str], str]]:
    proc = subprocess.Popen([sys.executable, "-m", "tests.fixtures.fake_lmstudio"], cwd=REPO_ROOT,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    url = proc.stdout.readline().strip()  # printed once it listens
    assert url.startswith("http://127.0.0.1:"), url
    try:
        yield proc, url
    finally:
        proc.kill()
        proc.wait(timeout=10)


def png(color: tuple[int, int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), color).save(buf, format="PNG")
    return buf.getvalue()


def test_three_staged_images_then_lm_studio_stopped(real_comfy_factory: Any,
                                                    lmstudio: tuple[subprocess.Popen[str], str]) -> None:
    proc, url = lmstudio
    comfy = real_comfy_factory(env={"VQ_LMSTUDIO_URL": url})
    health = comfy.get_json("/api/vq/v1/health")
    assert health["settings"]["lmstudio_url"] == url
    paths = []
    for i, color in enumerate([(200, 30, 30), (30, 200, 30), (30, 30, 200)]):
        answer = comfy.upload(f"autoprompt_{i}.png", png(color), subfolder="autoprompt")
        paths.append(str(comfy.input_dir / answer["subfolder"] / answer["name"]))
    body = {"image_paths": paths, "workflow_name": "wan-context-2stage-split-prompts"}

    status = comfy.get_json("/api/vq/v1/autoprompt/status")
    assert status["reachable"] and status["stages"]["caption"]["available"] and status["stages"]["motion"]["available"]
    result = comfy.post_json("/api/vq/v1/autoprompt", body)
    assert [r["path"] for r in result["results"]] == paths
    assert "#c81e1e" in result["results"][0]["caption"] and "#1e1ec8" in result["results"][2]["caption"]
    assert all(len(r["clip_prompts"]) == 2 for r in result["results"])

    proc.kill()
    proc.wait(timeout=10)
    code, raw = comfy.post("/api/vq/v1/autoprompt", json.dumps(body).encode(),
                           headers={"Content-Type": "application/json"})
    error = json.loads(raw)["error"]
    assert code == 503 and error["code"] == "autoprompt_unavailable"
    assert "lms server start" in error["hint"] and url in error["message"]

    submitted = subprocess.run([sys.executable, "-m", "vq_extension", "--url", comfy.url, "submit", "smoke-image",
                                paths[0], "--wait"], capture_output=True, text=True, timeout=300, cwd=REPO_ROOT)
    assert submitted.returncode == 0, submitted.stderr
