"""ComfyUI restarts mid-run: vq recovers what it had handed over, from its own database."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.helpers import (
    comfyui_process,
    submit,
    upscale,
    wait_for,
    wait_job,
    wait_prompt,
)


async def test_restart_requeues_running_prompt_and_finishes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, profile: str, fast_settings: None
) -> None:
    base = tmp_path / "comfy"
    async with comfyui_process(base, profile, monkeypatch) as (host, client):
        host.behavior.hold("ImageScaleBy")  # running until ComfyUI goes away
        created = await submit(client, [upscale(1.1), upscale(1.2), upscale(1.3)])
        await wait_prompt(client, created["prompts"][0]["id"], {"running"})
    # ComfyUI is gone; its in-memory queue with it. A new process starts on the same files.
    async with comfyui_process(base, profile, monkeypatch) as (host, client):
        done = await wait_job(client, created["id"], {"succeeded", "failed"}, timeout=15)
        assert done["status"] == "succeeded"
        first, second, third = done["prompts"]
        assert [a["status"] for a in first["attempts"]] == ["interrupted", "succeeded"]
        # The second one only waited in ComfyUI's queue: it never started, so no attempt was used.
        assert second["attempt"] == 1 and third["attempt"] == 1
        assert [a["status"] for a in second["attempts"]] == ["succeeded"]
        log = await (await client.get(f"/api/vq/v1/jobs/{created['id']}/log")).json()
        messages = [e["message"] for e in log["entries"]]
        assert any("attempt 1 was interrupted while running: ComfyUI restarted" in m for m in messages), messages
        assert any("prompt #2 never started: ComfyUI restarted" in m and "no attempt used" in m for m in messages), messages


@pytest.mark.parametrize("profile", ["0.8.0"], indirect=True)
async def test_prompt_that_keeps_dying_fails_as_interrupted_repeatedly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, profile: str, fast_settings: None
) -> None:
    base = tmp_path / "comfy"
    for _ in range(2):  # max_attempts defaults to 2: each "crash" costs one
        async with comfyui_process(base, profile, monkeypatch) as (host, client):
            host.behavior.hold("ImageScaleBy")  # running until ComfyUI goes away
            if _ == 0:
                created = await submit(client, [upscale(1.1)])
            await wait_prompt(client, created["prompts"][0]["id"], {"running"})
    async with comfyui_process(base, profile, monkeypatch) as (host, client):
        done = await wait_job(client, created["id"], {"failed"}, timeout=5)
        error = done["prompts"][0]["error"]
        assert error["type"] == "interrupted_repeatedly" and "2 of 2" in error["message"]


async def test_pause_survives_a_restart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, profile: str, fast_settings: None
) -> None:
    base = tmp_path / "comfy"
    async with comfyui_process(base, profile, monkeypatch) as (host, client):
        await client.post("/api/vq/v1/queue/pause")
    async with comfyui_process(base, profile, monkeypatch) as (host, client):
        state = await (await client.get("/api/vq/v1/queue")).json()
        assert state["paused"] is True


@pytest.mark.parametrize("profile", ["0.8.0"], indirect=True)
async def test_restarts_do_not_spend_attempts_of_prompts_that_never_started(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, profile: str, fast_settings: None
) -> None:
    base = tmp_path / "comfy"
    for lifetime in range(2):  # two restarts would fail a prompt that had started both times
        async with comfyui_process(base, profile, monkeypatch) as (host, client):
            host.behavior.hold("ImageScaleBy")  # running until ComfyUI goes away
            if lifetime == 0:
                created = await submit(client, [upscale(1.1), upscale(1.2)])
            await wait_prompt(client, created["prompts"][0]["id"], {"running"})
            await wait_prompt(client, created["prompts"][1]["id"], {"queued"})  # waiting in ComfyUI's queue
    async with comfyui_process(base, profile, monkeypatch) as (host, client):
        done = await wait_job(client, created["id"], {"succeeded", "failed"}, timeout=15)
        first, second = done["prompts"]
        assert first["status"] == "failed" and first["error"]["type"] == "interrupted_repeatedly"
        assert "while running (2 of 2 attempts)" in first["error"]["message"]
        assert second["status"] == "succeeded" and second["attempt"] == 1


@pytest.mark.parametrize("profile", ["0.8.0"], indirect=True)
async def test_clear_queue_in_comfyui_requeues_without_spending_an_attempt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, profile: str, fast_settings: None
) -> None:
    async with comfyui_process(tmp_path / "comfy", profile, monkeypatch) as (host, client):
        gate = host.behavior.hold("ImageScaleBy")
        created = await submit(client, [upscale(1.1), upscale(1.2)], max_attempts=1)
        await wait_for(lambda: host.queue.get_current_queue_volatile()[1], what="ours in ComfyUI's queue")
        host.queue.wipe_queue()  # the user's "Clear queue" in ComfyUI

        async def requeued() -> bool:
            log = await (await client.get(f"/api/vq/v1/jobs/{created['id']}/log")).json()
            return any("before it started (e.g. ComfyUI's Clear queue)" in e["message"] for e in log["entries"])

        await wait_for(requeued, what="the cleared prompt to go back to pending")
        gate.release()
        done = await wait_job(client, created["id"], {"succeeded", "failed"}, timeout=15)
        assert [p["status"] for p in done["prompts"]] == ["succeeded", "succeeded"]
        assert done["prompts"][1]["attempt"] == 1
