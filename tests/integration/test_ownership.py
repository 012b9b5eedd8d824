"""Two ComfyUI processes on one install (one per GPU) share one vq database: they share
the pending work, nothing runs twice, and when one dies its prompts in flight go to the
other once its lease expires. Here: two fake ComfyUI hosts in this process, one base
directory (so one database), different ports."""

from __future__ import annotations

import collections
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.fakecomfy import FakeComfy
from tests.integration.helpers import (
    comfyui_process,
    submit,
    upscale,
    wait_for,
    wait_job,
)
from vq_extension.queue.models import PromptStatus as P

LEASE_SECONDS = "2"  # short, so the hand-over happens within the test; the lease decides, not a sleep


def successes(*hosts: FakeComfy) -> collections.Counter[int]:
    """How many times each vq prompt ran to success in these ComfyUIs."""
    ran: collections.Counter[int] = collections.Counter()
    for host in hosts:
        for entry in host.queue.get_history().values():
            if (entry.get("status") or {}).get("status_str") == "success":
                ran[entry["prompt"][3]["vq"]["prompt_id"]] += 1
    return ran


def recorded(plugin: Any, host: FakeComfy) -> bool:
    """Has this instance recorded the outcome of every prompt its ComfyUI finished?"""
    finished = set(host.queue.get_history())
    done = {p.comfy_prompt_id for p in plugin.store.prompts_in([P.SUCCEEDED]) if p.comfy_prompt_id in finished}
    return done == finished


async def test_two_instances_share_the_queue_run_each_prompt_once_and_take_over_a_dead_ones_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fast_settings: None
) -> None:
    monkeypatch.setenv("VQ_LEASE_SECONDS", LEASE_SECONDS)
    base = tmp_path / "comfy"
    async with AsyncExitStack() as stack:
        a, client_a = await stack.enter_async_context(comfyui_process(base, "0.8.0", monkeypatch, port=8188))
        b, client_b = await stack.enter_async_context(comfyui_process(base, "0.8.0", monkeypatch, port=8189))
        for host in (a, b):
            host.behavior.node_seconds["ImageScaleBy"] = 0.1
        plugin_a, plugin_b = a.server._vq_plugin, b.server._vq_plugin
        assert plugin_a.store.path == plugin_b.store.path

        health = await (await client_b.get("/api/vq/v1/health")).json()
        assert {i["port"] for i in health["instances"]} == {8188, 8189}
        assert health["instance"] == plugin_b.dispatcher.instance.id

        graphs = [upscale(1 + i / 1000, prefix=f"two/p{i:02d}") for i in range(40)]
        created = await submit(client_a, graphs)
        await wait_for(lambda: len(a.queue.get_history()) >= 3 and len(b.queue.get_history()) >= 3,
                       timeout=30, what="both instances to run prompts")

        # Kill A mid-run: its dispatcher and its ComfyUI worker stop, nothing is cleaned up.
        held = a.behavior.hold("ImageScaleBy")  # A's next prompt stays running until A dies
        await wait_for(lambda: held.prompt_ids, what="A to be running a prompt it cannot finish")
        # ...and A has recorded every prompt its ComfyUI finished: one finished there but not
        # yet recorded when A dies would rightly run again on B (vq runs a prompt at least once).
        await wait_for(lambda: recorded(plugin_a, a), what="A to record what its ComfyUI finished")
        in_flight = [p for p in plugin_a.store.prompts_in([P.QUEUED, P.RUNNING])
                     if p.owner == plugin_a.dispatcher.instance.id]
        plugin_a.dispatcher._task.cancel()
        a.stop()

        done = await wait_job(client_b, created["id"], {"succeeded", "failed"}, timeout=60)
        assert done["status"] == "succeeded", [p["error"] for p in done["prompts"] if p["error"]]
        ran = successes(a, b)
        assert sorted(ran) == sorted(p["id"] for p in done["prompts"])
        assert set(ran.values()) == {1}, f"ran twice: {[k for k, n in ran.items() if n > 1]}"
        taken_over = {p.id for p in in_flight}
        b_ran = {e["prompt"][3]["vq"]["prompt_id"] for e in b.queue.get_history().values()}
        assert taken_over <= b_ran, "A's prompts in flight were finished by B"
        log = await (await client_b.get(f"/api/vq/v1/jobs/{created['id']}/log?limit=1000")).json()
        assert any("stopped renewing its lease" in e["message"] for e in log["entries"])
        health = await (await client_b.get("/api/vq/v1/health")).json()
        assert [i["port"] for i in health["instances"]] == [8189]
