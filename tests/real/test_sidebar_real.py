"""The Video Queue tab inside a real ComfyUI 0.8.0 page (issue 6's acceptance, automated):
it appears, lists jobs submitted from the CLI, updates live while model-free prompts run,
and shows image and video outputs. Needs VQ_COMFYUI_DIR and Debian's /usr/bin/chromium."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from PIL import Image

from tests.real.conftest import TAB_BUTTON


def vq(real_comfy: Any, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vq_extension", "--url", real_comfy.url, *args],
                          capture_output=True, text=True, timeout=300)


def images(folder: Path, count: int) -> Path:
    folder.mkdir(exist_ok=True)
    for i in range(count):
        buf = io.BytesIO()
        Image.new("RGB", (64, 48), (40 * i, 100, 180)).save(buf, format="PNG")
        (folder / f"tab{i + 1}.png").write_bytes(buf.getvalue())
    return folder


def test_the_tab_lists_cli_jobs_updates_live_and_shows_outputs(real_comfy: Any, page: Any) -> None:
    from playwright.sync_api import expect

    folder = images(real_comfy.input_dir / "tab_batch", 3)
    done = vq(real_comfy, "submit", "smoke-image", str(folder), "--name", "tab stills", "--wait")
    assert done.returncode == 0, done.stderr

    page.click(TAB_BUTTON)
    stills = page.locator("[data-testid=job-card]").filter(has_text="tab stills")
    expect(stills).to_have_count(1, timeout=15_000)
    expect(stills).to_contain_text("Succeeded")

    # A job submitted while the tab is open appears and finishes without a reload.
    vq(real_comfy, "pause")
    queued = vq(real_comfy, "submit", "smoke-video", str(folder), "--name", "tab clips")
    assert queued.returncode == 0, queued.stderr
    clips = page.locator("[data-testid=job-card]").filter(has_text="tab clips")
    expect(clips).to_contain_text("Pending", timeout=15_000)
    vq(real_comfy, "resume")
    expect(clips).to_contain_text("Succeeded", timeout=120_000)
    expect(clips).to_contain_text("3 / 3")

    clips.locator("[data-testid=job-toggle]").click()
    video = clips.locator("[data-testid=output-video]").first
    video.scroll_into_view_if_needed()
    expect(video.locator("video")).to_have_attribute("src", re.compile(r"/view\?filename=.+\.(mp4|webm)"))
    page.wait_for_function("v => v.readyState >= 1", arg=video.locator("video").element_handle(), timeout=20_000)

    stills.locator("[data-testid=job-toggle]").click()
    image = stills.locator("[data-testid=output-image] img").first
    image.scroll_into_view_if_needed()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle(), timeout=20_000)
    assert not [e for e in page.errors if "vq" in e.lower()], page.errors
