"""The auto-prompt panel of the Submit view (per-image auto) in the real frontend, with the
fake LM Studio served by the harness (``--lmstudio``) on a loopback port: caption, motion,
edit, apply and submit (the job's prompts checked server-side), Clip 1..N for a split
workflow, and LM Studio stopped: the hint, and normal submits unaffected. Screenshots of
the panel in both themes go to ``test-artifacts/``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Host, started_host
from tests.browser.test_ui_submit import FG, SET_PALETTE, choose_mode, submit_and_wait

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Host]:
    yield from started_host(tmp_path_factory, "comfy-ap", lmstudio=True)


def lmstudio(ui: Any, **body: Any) -> dict[str, Any]:
    return ui.host.call("POST", "/__harness/lmstudio", body)


def auto_panel(ui: Any, workflow: str, folder: str, count: int) -> Any:
    """Batch video with ``workflow``, a folder of ``count`` images, per-image auto on."""
    lmstudio(ui, running=True, reset=True)
    path = ui.host.call("POST", "/__harness/images", {"folder": folder, "count": count})["folder"]
    view = choose_mode(ui, "batch_video", workflow)
    view.locator("[data-testid=folder-input]").fill(path)
    expect(view.locator("[data-testid=input-status]")).to_contain_text("will be queued")
    toggle = view.locator("[data-testid=per-image-toggle]")
    if not toggle.is_checked():
        toggle.check()
    view.locator("[data-testid=prompt-mode-auto]").click()
    expect(view.locator("[data-testid=prompt-mode-auto]")).to_have_attribute("aria-pressed", "true")
    panel = view.locator("[data-testid=autoprompt-panel]")
    expect(panel.locator("[data-testid=autoprompt-row]")).to_have_count(count)
    expect(panel.locator("fieldset")).to_be_enabled()
    return view


def test_caption_motion_edit_apply_submit_sends_the_edited_prompts(ui):
    view = auto_panel(ui, "smoke-video", "ap_single", 3)
    panel = view.locator("[data-testid=autoprompt-panel]")
    rows = panel.locator("[data-testid=autoprompt-row]")
    panel.locator("[data-testid=ap-captions]").click()
    expect(panel.locator("[data-testid=autoprompt-progress]")).to_have_text("Captions 3/3")
    expect(rows.locator("[data-testid=autoprompt-caption]")).to_contain_text(["caption of a"] * 3)
    rows.nth(0).locator("[data-testid=autoprompt-caption-toggle]").click()  # expandable, read-only
    expect(rows.nth(0).locator("[data-testid=autoprompt-caption]")).to_be_visible()
    panel.locator("[data-testid=ap-motion]").click()
    expect(panel.locator("[data-testid=autoprompt-progress]")).not_to_have_text("Motion prompts 0/3…")
    assert panel.locator("[data-testid=autoprompt-error]").is_hidden(), panel.locator("[data-testid=autoprompt-error]").inner_text()
    expect(panel.locator("[data-testid=autoprompt-progress]")).to_have_text("Motion prompts 3/3")
    areas = rows.locator("[data-testid=autoprompt-positive_prompt]")
    for i in range(3):
        expect(areas.nth(i)).not_to_have_value("")
    areas.nth(1).fill("the edited prompt, by hand")
    expect(panel.locator("[data-testid=autoprompt-applied]")).to_contain_text("not applied")
    panel.locator("[data-testid=ap-apply]").click()
    expect(panel.locator("[data-testid=autoprompt-applied]")).to_contain_text("Applied")
    wanted = {rows.nth(i).get_attribute("data-path").rsplit("/", 1)[-1]: areas.nth(i).input_value() for i in range(3)}
    assert wanted[rows.nth(1).get_attribute("data-path").rsplit("/", 1)[-1]] == "the edited prompt, by hand"
    assert all(v.startswith("motion for caption") for k, v in wanted.items() if v != "the edited prompt, by hand")
    job = submit_and_wait(ui, view, "autoprompt single")
    texts = {p["input_file"].rsplit("/", 1)[-1]: p["params"]["positive_prompt"] for p in job["prompts"]}
    assert texts == wanted
    # Regenerate motion: stage 2 only, no image sent again.
    before = lmstudio(ui)["chats"]
    panel.locator("[data-testid=ap-regenerate]").click()
    expect(panel.locator("[data-testid=autoprompt-progress]")).to_have_text("Motion prompts 3/3")
    expect(panel.locator("[data-testid=ap-captions]")).not_to_have_attribute("aria-disabled", "true")
    assert lmstudio(ui)["chats"] == before + 3
    panel.locator("[data-testid=ap-clear]").click()
    expect(rows.locator("[data-testid=autoprompt-caption]")).to_have_text(["No caption yet."] * 3)


def test_split_workflow_shows_clip_1_to_n_and_fills_each(ui):
    view = auto_panel(ui, "wan-context-2stage-split-prompts", "ap_split", 2)
    panel = view.locator("[data-testid=autoprompt-panel]")
    rows = panel.locator("[data-testid=autoprompt-row]")
    expect(rows.nth(0).locator(".vq-ap-prompt-label")).to_have_text(["Clip 1", "Clip 2"])
    panel.locator("[data-testid=ap-motion]").click()  # no captions yet: both stages
    expect(panel.locator("[data-testid=autoprompt-progress]")).to_have_text("Captions 2/2 · Motion prompts 2/2")
    expect(rows.nth(0).locator("[data-testid=autoprompt-positive_prompt_stage1]")).not_to_have_value("")
    assert rows.nth(0).locator("[data-testid=autoprompt-positive_prompt_stage1]").input_value().startswith("clip 1 of 2")
    assert rows.nth(1).locator("[data-testid=autoprompt-positive_prompt_stage2]").input_value().startswith("clip 2 of 2")
    panel.locator("[data-testid=ap-apply]").click()
    expect(panel.locator("[data-testid=autoprompt-applied]")).to_contain_text("Applied")
    # the N-stage workflow: its stage count sets the clips
    view = choose_mode(ui, "batch_video", "wan-i2v-nstage")
    labels = panel.locator("[data-testid=autoprompt-row]").first.locator(".vq-ap-prompt-label")
    expect(labels).to_have_text(["Clip 1", "Clip 2", "Clip 3"])
    view.locator("[data-testid=stage-add]").click()
    expect(labels).to_have_text(["Clip 1", "Clip 2", "Clip 3", "Clip 4"])
    view.locator("[data-testid=stage-remove]").click()
    expect(labels).to_have_text(["Clip 1", "Clip 2", "Clip 3"])
    _screenshots(ui)


def _screenshots(ui):
    page = ui.page
    panel = page.locator("[data-testid=autoprompt-panel]")
    try:
        for palette in ("dark", "light"):
            page.evaluate(SET_PALETTE, palette)
            if palette == "light":
                page.wait_for_function(f"({FG})() !== 'rgb(221, 221, 221)'")
            ui.shot(f"autoprompt-panel-{palette}", panel)
    finally:
        page.evaluate(SET_PALETTE, "dark")


def test_lmstudio_absent_shows_the_hint_and_normal_submits_work(ui):
    view = auto_panel(ui, "smoke-video", "ap_absent", 2)
    lmstudio(ui, running=False)
    panel = view.locator("[data-testid=autoprompt-panel]")
    view.locator("[data-testid=prompt-mode-manual]").click()
    view.locator("[data-testid=prompt-mode-auto]").click()  # entering auto probes again
    expect(panel.locator("[data-testid=autoprompt-hint]")).to_contain_text("lms server start")
    expect(panel.locator("fieldset")).to_be_disabled()
    expect(panel.locator("[data-testid=ap-captions]")).to_be_disabled()
    ui.shot("autoprompt-panel-unavailable-dark", panel)
    view.locator("[data-testid=per-image-toggle]").uncheck()
    view.locator("[data-testid=field-positive_prompt]").fill("the same for all")
    job = submit_and_wait(ui, view, "autoprompt absent manual")
    assert {p["params"]["positive_prompt"] for p in job["prompts"]} == {"the same for all"}
    assert len(job["prompts"]) == 2
    lmstudio(ui, running=True)
