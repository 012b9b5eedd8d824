"""The Submit view inside a real ComfyUI 0.8.0 page (issue 12's acceptance, automated): a
user drops 5 images, picks the model-free smoke video workflow and submits; 5 videos
appear in the Queue view. Then the same from a folder picked in the folder browser with
tries 2: 10 prompts. Needs VQ_COMFYUI_DIR and Debian's /usr/bin/chromium."""

from __future__ import annotations

import io
import re
from typing import Any

from PIL import Image

from tests.real.conftest import TAB_BUTTON

DROP = """(zone, files) => {
  const dt = new DataTransfer();
  for (const [name, bytes] of files) dt.items.add(new File([new Uint8Array(bytes)], name, {type: "image/png"}));
  zone.dispatchEvent(new DragEvent("drop", {dataTransfer: dt, bubbles: true, cancelable: true}));
}"""


def png(i: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (40 * i, 90, 200 - 20 * i)).save(buf, format="PNG")
    return buf.getvalue()


def open_submit(page: Any) -> Any:
    from playwright.sync_api import expect

    if not page.locator("[data-testid=vq-root]").count():
        page.click(TAB_BUTTON)
    page.locator("[data-testid=tab-submit]").click()
    view = page.locator("[data-testid=submit-view]")
    view.locator("[data-testid=mode-batch_video]").click()
    view.locator("[data-testid=workflow-select]").select_option(label="Smoke test: video")
    expect(view.locator("[data-testid=submit-form]")).to_have_attribute("data-workflow", "smoke-video")
    expect(view.locator("[data-testid=field-positive_prompt]")).to_be_visible()
    return view


def submit(page: Any, view: Any, name: str) -> Any:
    from playwright.sync_api import expect

    view.locator("[data-testid=option-name]").fill(name)
    view.locator("[data-testid=submit]").click()
    expect(view.locator("[data-testid=submit-notice]")).to_contain_text(f"“{name}” queued", timeout=60_000)
    view.locator("[data-testid=open-job]").click()  # the success notice's link opens it in the Queue view
    card = page.locator("[data-testid=job-card]").filter(has_text=name)
    expect(card).to_have_count(1, timeout=15_000)
    return card


def test_drop_five_images_then_a_browsed_folder_with_two_tries(real_comfy: Any, page: Any) -> None:
    from playwright.sync_api import expect

    view = open_submit(page)
    view.locator("[data-testid=dropzone]").evaluate(DROP, [[f"real_drop_{i}.png", list(png(i))] for i in range(5)])
    expect(view.locator("[data-testid=thumb]")).to_have_count(5, timeout=30_000)
    card = submit(page, view, "real dropped five")
    expect(card).to_contain_text("Succeeded", timeout=180_000)
    expect(card).to_contain_text("5 / 5")
    videos = card.locator("[data-testid=output-video]")
    expect(videos).to_have_count(5, timeout=20_000)
    expect(videos.first.locator("video")).to_have_attribute("src", re.compile(r"/view\?filename=.+\.(mp4|webm)"))

    folder = real_comfy.input_dir / "submit_real_folder"
    folder.mkdir(exist_ok=True)
    for i in range(5):
        (folder / f"still_{i}.png").write_bytes(png(i + 5))
    page.locator("[data-testid=search]").fill("")
    view = open_submit(page)
    view.locator("[data-testid=clear-dropped]").click()
    view.locator("[data-testid=folder-input]").fill("")
    view.locator("[data-testid=browse]").click()
    view.locator("[data-testid=browse-folder]", has_text="submit_real_folder").click()
    view.locator("[data-testid=browse-use]").click()
    expect(view.locator("[data-testid=input-status]")).to_contain_text("5 images will be queued")
    view.locator("[data-testid=option-tries]").fill("2")
    view.locator("[data-testid=option-tries]").press("Tab")
    view.locator("[data-testid=preview]").click()
    expect(view.locator("[data-testid=preview-summary]")).to_have_text("10 prompts: 5 images × 2 tries", timeout=60_000)
    card = submit(page, view, "real folder tries")
    expect(card).to_contain_text("Succeeded", timeout=300_000)
    expect(card).to_contain_text("10 / 10")
    assert not [e for e in page.errors if "vq" in e.lower()], page.errors
