"""The job detail's lazy parts and per-prompt actions: prompt JSON of a 1 MB graph, the
job log (following a running job), loading a prompt's graph into the canvas, cancelling
one prompt, and reloading workflows."""

from __future__ import annotations

import re
import shutil
import time

import pytest
from playwright.sync_api import expect

from tests.helpers import comfy_graph

pytestmark = pytest.mark.browser


def big_graph(target_bytes: int = 1_000_000) -> dict:
    graph = comfy_graph("upscale")
    i = 0
    while len(str(graph)) < target_bytes:
        graph[str(100 + i)] = {"class_type": "PrimitiveString", "inputs": {"value": f"note {i} " + "x" * 240}}
        i += 1
    return graph


def test_prompt_json_is_lazy_and_fast_on_a_1_mb_graph(ui):
    page, host = ui.page, ui.host
    host.vq("POST", "/queue/pause")
    try:
        host.vq("POST", "/jobs", {"name": "huge graph", "graphs": [big_graph()]})
        ui.search("huge graph")
        card = ui.expand("huge graph")
        row = card.locator("[data-testid=prompt-row]").first
        toggle = row.locator("[data-testid=json-toggle]")
        expect(toggle).to_have_attribute("aria-expanded", "false")
        expect(row.locator("[data-testid=json]")).to_be_hidden()
        # Collapsed by default and not fetched until opened.
        with page.expect_response(lambda r: "/api/vq/v1/prompts/" in r.url) as got:
            started = time.monotonic()
            toggle.click()
        assert got.value.ok
        pre = row.locator("[data-testid=json]")
        expect(pre).to_contain_text('"class_type": "LoadImage"')
        elapsed = time.monotonic() - started
        assert elapsed < 2.0, f"showing the JSON took {elapsed:.2f} s"
        expect(toggle).to_have_attribute("aria-expanded", "true")
        more = row.get_by_role("button", name="Show all")
        expect(more).to_contain_text("lines")
        shown = pre.evaluate("el => el.textContent.length")
        assert 30_000 < shown < 100_000, "a preview, not the whole megabyte"
        more.click()
        expect(more).to_be_hidden()
        assert pre.evaluate("el => el.textContent.length") > 1_000_000
        toggle.click()
        expect(pre).to_be_hidden()
    finally:
        host.vq("POST", "/queue/resume")
        ui.reset_filters()


def test_job_log_is_lazy_and_follows_a_running_job(ui):
    page, host = ui.page, ui.host
    host.behavior(hold=["ImageScaleBy"])  # nothing finishes before the log is open
    try:
        job = host.submit("log follow", 4)
        ui.search("log follow")
        card = ui.expand("log follow")
        log = card.locator("[data-testid=log]")
        expect(log).to_be_hidden()
        card.locator("[data-testid=log-toggle]").click()
        expect(log.locator(".vq-log-line").first).to_contain_text("submitted with 4 prompt(s)")
        first_count = log.locator(".vq-log-line").count()
        host.behavior(release=["ImageScaleBy"])
        host.wait_job(job["id"], "succeeded", timeout=30)
        # Followed without touching anything: the log grows while the job runs.
        page.wait_for_function("([el, n]) => el.querySelectorAll('.vq-log-line').length > n",
                               arg=[log.element_handle(), first_count], timeout=10000)
    finally:
        host.behavior(release=["ImageScaleBy"])
        ui.reset_filters()


def test_cancel_one_prompt_and_load_a_graph_into_the_canvas(ui):
    page, host = ui.page, ui.host
    job = host.submit("one of three", 3)
    host.wait_job(job["id"], "succeeded")
    host.vq("POST", "/queue/pause")
    try:
        waiting = host.submit("cancel one prompt", 3)
        ui.search("cancel one prompt")
        card = ui.expand("cancel one prompt")
        rows = card.locator("[data-testid=prompt-row]")
        rows.nth(1).locator("[data-testid=cancel-prompt]").click()  # pending: no confirm needed
        expect(ui.toast("Prompt #2 canceled")).to_be_visible()
        expect(rows.nth(1).locator(".vq-badge")).to_have_text("Canceled")
        expect(rows.nth(0).locator(".vq-badge")).to_have_text("Pending")
        detail = host.vq("GET", f"/jobs/{waiting['id']}")
        assert [p["status"] for p in detail["prompts"]] == ["pending", "canceled", "pending"]
    finally:
        host.vq("POST", "/queue/resume")

    ui.search("one of three")
    card = ui.expand("one of three")
    row = card.locator("[data-testid=prompt-row]").first
    comfy_id = row.locator("[data-testid=comfy-id]")
    expect(comfy_id).to_have_text(host.vq("GET", f"/jobs/{job['id']}")["prompts"][0]["comfy_prompt_id"][:8])
    full_id = host.vq("GET", f"/jobs/{job['id']}")["prompts"][0]["comfy_prompt_id"]
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=host.url.rstrip("/"))
    row.locator("[data-testid=copy-id]").click()
    expect(ui.toast("ComfyUI prompt id copied")).to_be_visible()
    assert page.evaluate("() => navigator.clipboard.readText()") == full_id
    comfy_id.click()
    dialog = page.locator(".vq-dialog")
    expect(dialog).to_contain_text("Load this graph into the canvas?")
    dialog.get_by_role("button", name="Load graph").click()
    expect(ui.toast("Graph loaded into the canvas")).to_be_visible()
    types = page.evaluate("() => window.comfyAPI.app.app.graph.nodes.map(n => n.type).sort()")
    assert types == ["ImageScaleBy", "LoadImage", "SaveImage"], types
    ui.reset_filters()


def test_reload_workflows_reports_what_it_found(ui):
    page = ui.page
    page.get_by_role("button", name="Reload workflows").click()
    expect(ui.toast("Workflows reloaded")).to_contain_text("workflows available")


def test_workflow_job_shows_inputs_params_and_image_and_video_outputs(ui):
    page, host = ui.page, ui.host
    stills = host.call("POST", "/__harness/images", {"folder": "night_stills", "count": 2})
    image_job = host.vq("POST", "/jobs", {"workflow": "smoke-image", "input": stills["folder"], "name": "wf stills",
                                          "params": {"scale_by": 1.25}, "seed": 7})
    video_job = host.vq("POST", "/jobs", {"workflow": "smoke-video", "input": stills["files"][0], "name": "wf clip",
                                          "seed": 3})
    host.wait_job(image_job["id"], "succeeded", timeout=30)
    host.wait_job(video_job["id"], "succeeded", timeout=30)

    ui.search("night_stills")  # the input folder is searchable (the clip's single file is in it too)
    expect(page.locator("[data-testid=job-card] .vq-card-name")).to_have_text(["wf clip", "wf stills"])
    card = ui.expand("wf stills")
    expect(card.locator(".vq-card-workflow")).to_have_text("smoke-image")
    meta = card.locator("[data-testid=job-meta]")
    expect(meta).to_contain_text("Input folder")
    expect(meta).to_contain_text("night_stills")
    expect(card.locator(".vq-params")).to_contain_text("scale_by")
    expect(card.locator(".vq-params")).to_contain_text("1.25")
    rows = card.locator("[data-testid=prompt-row]")
    expect(rows).to_have_count(2)
    expect(rows.first.locator(".vq-prompt-file")).to_have_text("night_stills_01.png")
    expect(rows.first.locator(".vq-prompt-meta")).to_contain_text("seed 7")
    thumb = rows.first.locator("img.vq-thumb")
    thumb.scroll_into_view_if_needed()  # thumbnails load lazily
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=thumb.element_handle())
    assert "/vq/v1/thumbnail?path=" in thumb.get_attribute("src")  # a small WebP, not the full image

    ui.search("wf clip")
    clip = ui.expand("wf clip")
    video = clip.locator("[data-testid=output-video]")
    expect(video).to_have_count(1)
    video.scroll_into_view_if_needed()
    expect(video.locator("video")).to_have_attribute("src", re.compile(r"/view\?filename=.+\.mp4"))
    if shutil.which("ffmpeg"):  # the fake writes a real mp4 only with ffmpeg (else a stub file)
        page.wait_for_function("v => v.readyState >= 1", arg=video.locator("video").element_handle(), timeout=10000)
    # Clicking an output opens it (ComfyUI's /view) in a new tab.
    with page.context.expect_page() as opened:
        video.click()
    new_tab = opened.value
    new_tab.wait_for_load_state()
    assert "/view?filename=" in new_tab.url and "type=output" in new_tab.url
    new_tab.close()
    ui.shot("job-video-dark", clip)
    ui.reset_filters()
