"""The Submit view in the real frontend (1.35.9) against the fake ComfyUI: modes and their
payloads (checked on the job the server created), drag/drop uploads, the folder browser,
split-workflow clips, LoRA rows, presets, workspaces, persistence, keyboard-only submit and
screenshots of every mode in both themes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser
STORAGE_KEY = "vq.submit.form"


def _png(i: int) -> bytes:
    import struct
    import zlib

    width, height = 8 + i, 8
    raw = b"".join(b"\x00" + bytes([(x * 30 + i * 40) % 256, (i * 60) % 256, 128] * 1)[:3] * 1 * 1 for x in range(width) for _ in [0])
    rows = b"".join(b"\x00" + bytes([(x * 30 + i * 40) % 256, (y * 20) % 256, 128]) * 0 + bytes(
        sum(([(x * 30 + i * 40) % 256, (y * 20) % 256, 128] for x in range(width)), [])) for y in range(height))
    del raw

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def open_submit(ui):
    ui.open_tab()
    ui.page.locator("[data-testid=tab-submit]").click()
    expect(ui.page.locator("[data-testid=submit-view]")).to_be_visible()
    return ui.page.locator("[data-testid=submit-view]")


def choose_mode(ui, mode: str, workflow: str | None = None):
    view = open_submit(ui)
    view.locator(f"[data-testid=mode-{mode}]").click()
    expect(view.locator(f"[data-testid=mode-{mode}]")).to_have_attribute("aria-selected", "true")
    select = view.locator("[data-testid=workflow-select]")
    expect(select).to_be_enabled()
    if workflow:
        select.select_option(workflow)
        expect(select).to_have_value(workflow)
        expect(view.locator("[data-testid=submit-form] .vq-form-group").first).to_be_visible()
    return view


def last_job(ui) -> dict:
    jobs = ui.host.vq("GET", "/jobs?sort=-created&limit=1")["jobs"]
    return ui.host.vq("GET", f"/jobs/{jobs[0]['id']}")


def submit_and_wait(ui, view, before: int) -> dict:
    view.locator("[data-testid=submit]").click()
    notice = view.locator("[data-testid=submit-notice]")
    expect(notice).to_contain_text("queued", timeout=20000)
    job = last_job(ui)
    assert job["id"] > before
    return job


def max_job_id(ui) -> int:
    jobs = ui.host.vq("GET", "/jobs?sort=-created&limit=1")["jobs"]
    return jobs[0]["id"] if jobs else 0


def test_batch_video_from_a_folder_submits_the_right_job(ui):
    folder = ui.host.call("POST", "/__harness/images", {"folder": "batch_a", "count": 3})["folder"]
    view = choose_mode(ui, "batch_video", "smoke-video")
    view.locator("[data-testid=folder-input]").fill(folder)
    expect(view.locator("[data-testid=input-status]")).to_contain_text("3 images will be queued")
    view.locator("[data-testid=option-tries]").fill("2")
    view.locator("[data-testid=option-tries]").press("Tab")
    view.locator("[data-testid=field-positive_prompt]").fill("a slow pan")
    view.locator("[data-testid=option-name]").fill("submit batch a")
    view.locator("[data-testid=preview]").click()
    expect(view.locator("[data-testid=preview-summary]")).to_have_text("6 prompts: 3 images × 2 tries")
    view.locator("[data-testid=preview-json-toggle]").click()
    expect(view.locator("[data-testid=preview-json]")).to_contain_text("a slow pan")
    job = submit_and_wait(ui, view, max_job_id(ui))
    assert job["name"] == "submit batch a"
    assert job["workflow"] == "smoke-video" and job["total"] == 6
    assert job["params"]["positive_prompt"] == "a slow pan"
    assert job["options"]["tries"] == 2
    assert job["source"]["folder"] == folder
    ui.shot("submit-batch-video-dark", view)
