"""A prompt ComfyUI lost is interrupted and requeued (or failed) in ONE transaction, and
start-up recovery also resolves prompts an older vq left ``interrupted``."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests.integration.helpers import (
    comfyui_process,
    submit,
    upscale,
    wait_for,
    wait_job,
    wait_prompt,
)

FAIL_REQUEUE = """
CREATE TRIGGER vq_test_fail_requeue BEFORE UPDATE OF status ON prompt WHEN NEW.status = 'pending'
BEGIN SELECT RAISE(ABORT, 'database is locked'); END
"""


@pytest.mark.parametrize("profile", ["0.8.0"], indirect=True)
async def test_a_failure_while_requeueing_a_lost_prompt_leaves_it_as_it_was(comfy: Any, client: Any) -> None:
    plugin = comfy.server._vq_plugin
    gate = comfy.behavior.hold("ImageScaleBy")  # the first runs, the second waits in ComfyUI's queue
    created = await submit(client, [upscale(1.1), upscale(1.2)])
    waiting = created["prompts"][1]["id"]
    await wait_for(lambda: comfy.queue.get_current_queue_volatile()[1], what="ours in ComfyUI's queue")
    db = sqlite3.connect(plugin.store.path, isolation_level=None)
    try:
        db.execute(FAIL_REQUEUE)  # the requeue step fails, as with "database is locked"
        comfy.queue.wipe_queue()  # ComfyUI loses the waiting prompt
        await wait_for(lambda: "database is locked" in (plugin.reader.worker.error or ""), what="a failed tick")
        status = db.execute("SELECT status FROM prompt WHERE id = ?", (waiting,)).fetchone()[0]
        assert status == "queued", "half a recovery was committed: the prompt is stranded"
        db.execute("DROP TRIGGER vq_test_fail_requeue")
    finally:
        db.close()
        gate.release()
    done = await wait_job(client, created["id"], {"succeeded", "failed"}, timeout=15)
    assert done["status"] == "succeeded"


@pytest.mark.parametrize("profile", ["0.8.0"], indirect=True)
async def test_startup_recovery_resolves_prompts_left_interrupted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, profile: str, fast_settings: None
) -> None:
    base = tmp_path / "comfy"
    async with comfyui_process(base, profile, monkeypatch) as (host, client):
        host.behavior.hold("ImageScaleBy")  # running until ComfyUI goes away
        created = await submit(client, [upscale(1.1)])
        prompt_id = created["prompts"][0]["id"]
        await wait_prompt(client, prompt_id, {"running"})
        db_path = host.server._vq_plugin.store.path
    # What a crash between "interrupted" and "requeued" (an older vq) left behind.
    db = sqlite3.connect(db_path, isolation_level=None)
    db.execute("UPDATE prompt SET status = 'interrupted' WHERE id = ?", (prompt_id,))
    db.close()
    async with comfyui_process(base, profile, monkeypatch) as (host, client):
        done = await wait_job(client, created["id"], {"succeeded", "failed"}, timeout=15)
        assert done["status"] == "succeeded"
        assert done["prompts"][0]["attempt"] == 2
