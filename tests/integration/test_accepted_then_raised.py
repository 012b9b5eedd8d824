"""ComfyUI's POST /prompt handler can raise after it already put the prompt in its queue
(an on_prompt handler or a later step failing). The prompt then runs in ComfyUI: vq must
keep it queued and tracked, not mark it failed (a retry would run it twice)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.helpers import submit, upscale, wait_job


@pytest.mark.parametrize("profile", ["0.8.0"], indirect=True)
async def test_handler_that_raises_after_queueing_keeps_the_prompt_tracked(comfy: Any, client: Any) -> None:
    plugin = comfy.server._vq_plugin
    original = plugin.host._post_prompt
    calls: list[str] = []

    async def queues_then_raises(request: Any) -> Any:
        await original(request)
        calls.append((await request.json())["prompt_id"])
        raise RuntimeError("a step after prompt_queue.put failed")

    plugin.host._post_prompt = queues_then_raises
    created = await submit(client, [upscale(1.1), upscale(1.2)])
    done = await wait_job(client, created["id"], {"succeeded", "failed"})
    assert done["status"] == "succeeded", [p["error"] for p in done["prompts"]]
    assert [p["attempt"] for p in done["prompts"]] == [1, 1]
    history = comfy.queue.get_history()
    assert sorted(calls) == sorted(history), "each prompt was queued in ComfyUI exactly once"
    assert sorted(p["comfy_prompt_id"] for p in done["prompts"]) == sorted(calls)


@pytest.mark.parametrize("profile", ["0.8.0"], indirect=True)
async def test_dispatcher_checks_comfyuis_queue_before_declaring_a_submit_failed(comfy: Any, client: Any) -> None:
    plugin = comfy.server._vq_plugin
    bridge = plugin.host
    original_submit = bridge.submit

    async def submit_then_raise(graph: dict[str, Any], **kwargs: Any) -> Any:
        await original_submit(graph, **kwargs)
        raise ConnectionResetError("lost the answer")

    bridge.submit = submit_then_raise
    created = await submit(client, [upscale(1.3)])
    done = await wait_job(client, created["id"], {"succeeded", "failed"})
    assert done["status"] == "succeeded", done["prompts"][0]["error"]
    assert len(comfy.queue.get_history()) == 1
