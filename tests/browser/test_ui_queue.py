"""The Video Queue tab in the real frontend (1.35.9) against the fake ComfyUI: opening,
live updates, filters, the job detail and its actions, keyboard use, themes."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_tab_appears_opens_and_remounts_cleanly(ui):
    page = ui.page
    button = page.locator('[class~="vq.queue-tab-button"]')
    expect(button).to_be_visible()
    expect(ui.root.locator(".vq-title")).to_have_text("Video Queue")
    expect(page.locator("[data-testid=worker-state]")).to_contain_text("Idle")
    expect(page.locator("[data-testid=comfy-state]")).to_contain_text("connected")
    # The frontend mounts the panel on every open: render must be idempotent.
    for _ in range(3):
        ui.close_tab()
        ui.open_tab()
    expect(page.locator("[data-testid=vq-root]")).to_have_count(1)
    expect(page.locator("[data-testid=tab-queue]")).to_have_attribute("aria-selected", "true")
    page.locator("[data-testid=tab-submit]").click()
    expect(page.locator("[data-testid=submit-view]")).to_be_visible()
    page.locator("[data-testid=tab-queue]").click()
    expect(page.locator("#vq-view-queue")).to_be_visible()


def test_submitted_job_goes_running_to_succeeded_live_and_expansion_survives(ui):
    page, host = ui.page, ui.host
    # Each prompt reports progress, then stays running at SaveImage until released.
    host.behavior(node_seconds={"ImageScaleBy": 0.2}, progress_steps={"ImageScaleBy": 2}, hold=["SaveImage"])
    try:
        job = host.submit("live run", 2)
        card = ui.card("live run")
        expect(card).to_have_count(1)  # arrives through vq.job, no reload
        card.locator("[data-testid=job-toggle]").click()
        expect(card.locator("[data-testid=job-toggle]")).to_have_attribute("aria-expanded", "true")
        card.evaluate("el => { el.__vqProbe = 1; }")  # same node later = patched in place
        badge = card.locator(".vq-card-head .vq-badge")
        expect(badge).to_have_text("Running", timeout=10000)
        expect(card.locator(".vq-card-current [role=progressbar]")).to_have_attribute("aria-valuenow", re.compile(r"[1-9]\d*"))
        icon_badge = page.locator('[class~="vq.queue-tab-button"] .p-badge')
        expect(icon_badge).to_have_text(re.compile(r"^[12]$"))  # running + waiting prompts
        rows = card.locator("[data-testid=prompt-row]")
        expect(rows).to_have_count(2)
        host.behavior(release=["SaveImage"])
        expect(badge).to_have_text("Succeeded", timeout=20000)
        expect(card.locator("[data-testid=job-progress]")).to_have_text("2 / 2 done")
        expect(icon_badge).to_have_count(0)
        assert card.evaluate("el => el.__vqProbe") == 1, "the card was rebuilt instead of patched"
        expect(card.locator("[data-testid=job-toggle]")).to_have_attribute("aria-expanded", "true")
        # Outputs arrive with the detail refetch and load from ComfyUI's /view.
        img = rows.first.locator("[data-testid=output-image] img")
        expect(img).to_have_count(1, timeout=10000)
        img.scroll_into_view_if_needed()  # a lazy image loads only near the viewport
        page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=img.element_handle())
        href = rows.first.locator("[data-testid=output-image]").get_attribute("href")
        assert "/view?filename=" in href and "type=output" in href
        assert job["id"] == int(card.get_attribute("data-job-id"))
    finally:
        host.behavior(node_seconds={}, progress_steps={}, release=["SaveImage"])


def _names(ui):
    return ui.page.locator("[data-testid=job-card] .vq-card-name").all_inner_texts()


def test_chips_search_and_sort(ui):
    page, host = ui.page, ui.host
    ui.reset_filters()
    host.behavior(fail_nodes={"ImageScaleBy": ["RuntimeError", "scripted failure"]})
    failed = host.submit("filter failed", 1)
    host.wait_job(failed["id"], "failed")
    host.behavior(fail_nodes={})
    done = host.submit("filter done", 1)
    host.wait_job(done["id"], "succeeded")
    host.vq("POST", "/queue/pause")
    try:
        pend_a = host.submit("filter pending a", 1)
        pend_b = host.submit("filter pending b", 2)
        ui.search("filter")
        expect(page.locator("[data-testid=job-card]")).to_have_count(4)
        # Actionable default: failed, then pending (newest first), then succeeded.
        expect(page.locator("[data-testid=job-card] .vq-card-name")).to_have_text(
            ["filter failed", "filter pending b", "filter pending a", "filter done"])

        failed_chip = page.locator("[data-testid=chip-failed]")
        failed_chip.click()
        expect(failed_chip).to_have_attribute("aria-pressed", "true")
        expect(page.locator("[data-testid=chip-all]")).to_have_attribute("aria-pressed", "false")
        expect(page.locator("[data-testid=job-card] .vq-card-name")).to_have_text(["filter failed"])
        page.locator("[data-testid=chip-pending]").click()
        expect(page.locator("[data-testid=job-card] .vq-card-name")).to_have_text(
            ["filter failed", "filter pending b", "filter pending a"])
        expect(page.locator("[data-testid=chip-pending] .vq-chip-count")).to_have_text(re.compile(r"^[2-9]$|^\d\d+$"))
        failed_chip.click()
        expect(failed_chip).to_have_attribute("aria-pressed", "false")
        expect(page.locator("[data-testid=job-card] .vq-card-name")).to_have_text(["filter pending b", "filter pending a"])
        page.locator("[data-testid=chip-all]").click()

        page.locator("[data-testid=sort]").select_option("created")
        expect(page.locator("[data-testid=job-card] .vq-card-name")).to_have_text(
            ["filter failed", "filter done", "filter pending a", "filter pending b"])
        page.locator("[data-testid=sort]").select_option("-created")
        expect(page.locator("[data-testid=job-card] .vq-card-name")).to_have_text(
            ["filter pending b", "filter pending a", "filter done", "filter failed"])

        ui.search("pending a")
        expect(page.locator("[data-testid=job-card] .vq-card-name")).to_have_text(["filter pending a"])
        ui.search(f"#{pend_b['id']}")
        expect(page.locator("[data-testid=job-card] .vq-card-name")).to_have_text(["filter pending b"])
        ui.search("no such job anywhere")
        expect(page.locator("[data-testid=empty]")).to_have_text("No jobs match the filters.")
    finally:
        ui.reset_filters()
        host.vq("POST", f"/jobs/{pend_a['id']}/cancel")
        host.vq("POST", f"/jobs/{pend_b['id']}/cancel")
        host.vq("POST", "/queue/resume")


def test_cancel_job_confirm_flow(ui):
    page, host = ui.page, ui.host
    ui.reset_filters()
    host.vq("POST", "/queue/pause")
    try:
        host.submit("cancel me", 3)
        ui.search("cancel me")
        card = ui.expand("cancel me")
        cancel = card.locator("[data-testid=cancel-job]")
        cancel.click()
        dialog = page.locator(".vq-dialog")
        expect(dialog).to_be_visible()
        expect(dialog).to_have_attribute("aria-modal", "true")
        expect(dialog).to_have_attribute("role", "alertdialog")
        expect(dialog).to_contain_text("3 waiting prompts will be canceled at once.")
        # The safe choice has focus; Escape closes without doing anything.
        expect(dialog.get_by_role("button", name="Keep it")).to_be_focused()
        page.keyboard.press("Escape")
        expect(dialog).to_have_count(0)
        expect(cancel).to_be_focused()
        expect(card.locator(".vq-card-head .vq-badge")).to_have_text("Pending")

        cancel.click()
        dialog.get_by_role("button", name="Cancel job").click()
        expect(dialog).to_have_count(0)
        expect(ui.toast("canceled")).to_contain_text("3 prompts canceled")
        expect(card.locator(".vq-card-head .vq-badge")).to_have_text("Canceled")
        expect(card.locator("[data-testid=prompt-row] .vq-badge").first).to_have_text("Canceled")
        expect(card.locator("[data-testid=cancel-job]")).to_be_hidden()
    finally:
        host.vq("POST", "/queue/resume")
        ui.reset_filters()


def test_cancel_running_job_explains_the_interrupt(ui):
    page, host = ui.page, ui.host
    host.behavior(hold=["ImageScaleBy"])  # running until interrupted
    try:
        job = host.submit("stop running", 2)
        ui.search("stop running")
        card = ui.expand("stop running")
        expect(card.locator(".vq-card-head .vq-badge")).to_have_text("Running", timeout=10000)
        card.locator("[data-testid=cancel-job]").click()
        dialog = page.locator(".vq-dialog")
        expect(dialog).to_contain_text("running prompt will be interrupted")
        dialog.get_by_role("button", name="Cancel job").click()
        host.wait_job(job["id"], "canceled", timeout=15)
        expect(card.locator(".vq-card-head .vq-badge")).to_have_text("Canceled", timeout=10000)
    finally:
        host.behavior(release=["ImageScaleBy"])
        ui.reset_filters()


def test_retry_failed_job_and_prompt(ui):
    host = ui.host
    host.behavior(fail_nodes={"ImageScaleBy": ["RuntimeError", "scripted failure for retry"]})
    try:
        job = host.submit("retry me", 2)
        host.wait_job(job["id"], "failed")
    finally:
        host.behavior(fail_nodes={})
    ui.search("retry me")
    card = ui.expand("retry me")
    expect(card.locator(".vq-card-head .vq-badge")).to_have_text("Failed")
    row = card.locator("[data-testid=prompt-row]").first
    expect(row.locator(".vq-error-msg")).to_contain_text("scripted failure for retry")
    expect(row.locator(".vq-error")).to_contain_text("in node 2 (ImageScaleBy)")
    tb_toggle = row.get_by_role("button", name="Show traceback")
    if tb_toggle.count():
        tb_toggle.click()
        expect(row.locator(".vq-traceback")).to_be_visible()
        expect(row.get_by_role("button", name="Hide traceback")).to_have_attribute("aria-expanded", "true")
    # One prompt first, then the rest of the job.
    row.locator("[data-testid=retry-prompt]").click()
    expect(ui.toast("queued again")).to_be_visible()
    expect(row.locator(".vq-badge")).to_have_text("Succeeded", timeout=15000)
    retry = card.locator("[data-testid=retry-job]")
    expect(retry).to_contain_text("Retry 1 failed")
    retry.click()
    expect(ui.toast("Retrying")).to_contain_text("1 prompt back in the queue")
    expect(card.locator(".vq-card-head .vq-badge")).to_have_text("Succeeded", timeout=15000)
    ui.reset_filters()


def test_clear_queue_shows_count_and_needs_confirm(ui):
    page, host = ui.page, ui.host
    host.vq("POST", "/queue/pause")
    try:
        host.submit("clear one", 2)
        host.submit("clear two", 3)
        clear = page.locator("[data-testid=clear]")
        expect(clear).to_have_text("Clear queue (5)")
        clear.click()
        dialog = page.locator(".vq-dialog")
        expect(dialog).to_contain_text("5 waiting prompts will be canceled.")
        expect(clear).to_have_attribute("aria-disabled", "true")  # single-flight while the dialog is open
        expect(dialog.get_by_role("button", name="Keep them")).to_be_focused()
        dialog.get_by_role("button", name="Keep them").click()
        expect(dialog).to_have_count(0)
        expect(clear).to_be_focused()
        expect(clear).not_to_have_attribute("aria-disabled", "true")
        assert host.vq("GET", "/queue")["counts"].get("pending") == 5

        clear.click()
        dialog.get_by_role("button", name="Cancel 5 prompts").click()
        expect(ui.toast("Queue cleared")).to_contain_text("5 prompts canceled")
        expect(clear).to_have_text("Clear queue")
        expect(page.locator("[data-testid=count-pending]")).to_have_text("0 pending")
        assert host.vq("GET", "/queue")["counts"].get("pending", 0) == 0
    finally:
        host.vq("POST", "/queue/resume")


DEEP_ACTIVE = "let el = document.activeElement; while (el && el.shadowRoot && el.shadowRoot.activeElement) el = el.shadowRoot.activeElement;"


def _focused(page):
    return page.evaluate("""() => {
        """ + DEEP_ACTIVE + """
        return el ? (el.dataset.testid || el.getAttribute('aria-label') || el.textContent.trim()).slice(0, 40) : null;
    }""")


def _focus_visible(page):
    return page.evaluate("""() => {
        """ + DEEP_ACTIVE + """
        const s = getComputedStyle(el);
        return s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0;
    }""")


def test_keyboard_only_walk_through_the_main_actions(ui):
    page, host = ui.page, ui.host
    ui.reset_filters()
    job = None
    try:
        kb = page.keyboard
        page.locator("[data-testid=tab-queue]").focus()
        kb.press("ArrowRight")
        assert _focused(page) == "tab-submit"
        expect(page.locator("[data-testid=submit-view]")).to_be_visible()
        kb.press("ArrowLeft")
        assert _focused(page) == "tab-queue"
        expect(page.locator("#vq-view-queue")).to_be_visible()

        kb.press("Tab")
        assert _focused(page) == "pause"
        assert _focus_visible(page), "keyboard focus must be visible"
        kb.press("Enter")
        expect(page.locator("[data-testid=worker-state]")).to_contain_text("Paused")
        expect(page.locator("[data-testid=live]")).to_have_text("Queue paused")
        kb.press("Enter")
        expect(page.locator("[data-testid=worker-state]")).not_to_contain_text("Paused")
        expect(page.locator("[data-testid=live]")).to_have_text("Queue resumed")
        kb.press("Enter")
        expect(page.locator("[data-testid=worker-state]")).to_contain_text("Paused")
        job = host.submit("kbd walk", 2)  # stays pending while paused
        expect(ui.card("kbd walk")).to_have_count(1)
        assert _focused(page) == "pause"

        order = []
        for _ in range(9):
            kb.press("Tab")
            order.append(_focused(page))
        assert order == ["Reload workflows", "clear", "chip-all", "chip-running", "chip-failed", "chip-pending",
                         "chip-canceled", "chip-succeeded", "search"], order
        kb.type("kbd walk")
        expect(page.locator("[data-testid=job-card]")).to_have_count(1)
        kb.press("Tab")
        assert _focused(page) == "sort"
        kb.press("Tab")
        assert _focused(page) == "job-toggle"
        kb.press("Enter")
        card = ui.card("kbd walk")
        expect(card.locator("[data-testid=job-toggle]")).to_have_attribute("aria-expanded", "true")
        kb.press("Tab")
        assert _focused(page) == "cancel-job"
        kb.press("Enter")
        dialog = page.locator(".vq-dialog")
        expect(dialog).to_be_visible()
        assert _focused(page) == "Keep it"
        kb.press("Tab")
        assert _focused(page) == "Cancel job"
        kb.press("Tab")
        assert _focused(page) == "Keep it", "focus stays trapped in the dialog"
        kb.press("Shift+Tab")
        assert _focused(page) == "Cancel job"
        kb.press("Escape")
        expect(dialog).to_have_count(0)
        assert _focused(page) == "cancel-job"
        kb.press("Tab")
        assert _focused(page) == "top"
        kb.press("Enter")
        expect(ui.toast("moved to the top")).to_be_visible()
        kb.press("Shift+Tab")
        kb.press("Enter")
        dialog.get_by_role("button", name="Cancel job").wait_for()
        kb.press("Tab")
        kb.press("Enter")  # confirm with the keyboard
        expect(card.locator(".vq-card-head .vq-badge")).to_have_text("Canceled")
        assert host.vq("GET", f"/jobs/{job['id']}")["status"] == "canceled"
    finally:
        host.vq("POST", "/queue/resume")
        ui.reset_filters()


def test_screenshots_dark_and_light(ui):
    page = ui.page
    ui.reset_filters()
    ui.collapse_all()
    card = ui.card("live run")
    panel = page.locator(".sidebar-content-container")
    set_palette = "id => window.comfyAPI.app.app.extensionManager.setting.set('Comfy.ColorPalette', id)"
    fg = "() => getComputedStyle(document.querySelector('[data-vq-host]').shadowRoot.querySelector('.vq-root')).color"
    page.set_viewport_size({"width": 1400, "height": 1400})  # room for a whole expanded card
    try:
        page.evaluate(set_palette, "dark")
        dark_fg = page.evaluate(fg)
        scroll_top = "el => { el.scrollTop = 0; }"
        ui.root.evaluate(scroll_top)
        ui.shot("queue-dark", panel)
        page.evaluate(set_palette, "light")
        page.wait_for_function(f"({fg})() !== {dark_fg!r}")
        ui.shot("queue-light", panel)
        ui.expand("live run")
        card.locator("[data-testid=output-image] img").first.wait_for()
        ui.shot("job-expanded-light", card)
        page.evaluate(set_palette, "dark")
        page.wait_for_function(f"({fg})() === {dark_fg!r}")
        ui.shot("job-expanded-dark", card)
    finally:
        page.evaluate(set_palette, "dark")
        page.set_viewport_size({"width": 1400, "height": 900})
