"""Failures the panel must ride out on its own: the vq API answering 500 for a while, and
the websocket dropping (events lost while it is down)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_api_500_shows_an_inline_error_and_recovers_by_itself(ui):
    page, host = ui.page, ui.host
    error = page.locator("[data-testid=poll-error]")
    expect(error).to_be_hidden()
    host.call("POST", "/__harness/fault", {"prefix": "/api/vq/v1/", "status": 500})  # until cleared
    try:
        expect(error).to_be_visible(timeout=8000)
        expect(error).to_contain_text("fault injected by the test harness")
        expect(error).to_contain_text("Retrying automatically")
        # Non-blocking: the rest of the panel keeps working meanwhile.
        page.locator("[data-testid=tab-submit]").click()
        page.locator("[data-testid=tab-queue]").click()
        expect(page.locator("[data-testid=chip-failed]")).to_be_enabled()
        # The fault ends; the next poll clears the error without any click.
        host.call("POST", "/__harness/fault/clear", {})
        expect(error).to_be_hidden(timeout=20000)
        job = host.submit("after the outage", 1)
        expect(ui.card("after the outage")).to_have_count(1)
        host.wait_job(job["id"], "succeeded")
        expect(ui.card("after the outage").locator(".vq-card-head .vq-badge")).to_have_text("Succeeded")
    finally:
        host.call("POST", "/__harness/fault/clear", {})


def test_list_failure_recovers_through_retry_now(ui):
    page, host = ui.page, ui.host
    error = page.locator("[data-testid=poll-error]")
    host.call("POST", "/__harness/fault", {"prefix": "/api/vq/v1/jobs", "status": 500, "count": 1})
    try:
        page.locator("[data-testid=chip-succeeded]").click()  # a refetch that fails once
        expect(error).to_be_visible()
        expect(error).to_contain_text("job list")
        error.get_by_role("button", name="Retry now").click()
        expect(error).to_be_hidden()
        expect(ui.card("after the outage")).to_have_count(1)
    finally:
        host.call("POST", "/__harness/fault/clear", {})
        page.locator("[data-testid=chip-all]").click()


def test_dropped_websocket_reconnects_and_refetches_what_it_missed(ui):
    page, host = ui.page, ui.host
    host.vq("POST", "/queue/pause")
    try:
        job = host.submit("missed while offline", 2)
        card = ui.card("missed while offline")
        expect(card.locator(".vq-card-head .vq-badge")).to_have_text("Pending")
        # Drop the socket and refuse reconnects until the cancel is done; the job is canceled
        # from elsewhere, so its vq.job event never reaches this page.
        host.call("POST", "/__harness/drop_ws", {"refuse": True})
        expect(page.locator("[data-testid=comfy-state]")).to_contain_text("reconnecting", timeout=5000)
        host.vq("POST", f"/jobs/{job['id']}/cancel")
        host.call("POST", "/__harness/fault/clear", {})
        # Back online: the "reconnected" handler refetches at once (not the 10 s safety poll).
        expect(page.locator("[data-testid=live]")).to_have_text("Connection to ComfyUI restored", timeout=10000)
        expect(page.locator("[data-testid=comfy-state]")).to_contain_text("connected")
        expect(page.locator("[data-testid=comfy-state]")).not_to_contain_text("reconnecting")
        expect(card.locator(".vq-card-head .vq-badge")).to_have_text("Canceled", timeout=4000)
        # Live events flow again on the new socket.
        host.vq("POST", "/queue/resume")
        again = host.submit("after reconnect", 1)
        host.wait_job(again["id"], "succeeded")
        expect(ui.card("after reconnect").locator(".vq-card-head .vq-badge")).to_have_text("Succeeded")
    finally:
        host.call("POST", "/__harness/fault/clear", {})
        host.vq("POST", "/queue/resume")
