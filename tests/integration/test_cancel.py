"""Cancel, pause, retry, clear, timeouts and outside interference, on every profile."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.helpers import comfy_graph
from tests.integration.helpers import (
    job,
    submit,
    upscale,
    wait_for,
    wait_job,
    wait_prompt,
)


def hold(comfy: Any, **kw: Any) -> Any:
    """ImageScaleBy stays running (interruptible) until the test calls ``release()``: a
    prompt is still running when the test acts, however busy the machine."""
    return comfy.behavior.hold("ImageScaleBy", **kw)


def comfy_ids(comfy: Any) -> tuple[set[str], set[str]]:
    running, pending = comfy.queue.get_current_queue()
    return {item[1] for item in running}, {item[1] for item in pending}


async def in_comfy_queue(client: Any, comfy: Any, prompt_id: int) -> dict[str, Any]:
    """The prompt once it waits in ComfyUI's own queue (vq says "queued" from the claim
    on, a moment before the submit lands)."""
    queued = await wait_prompt(client, prompt_id, {"queued"})
    await wait_for(lambda: queued["comfy_prompt_id"] in comfy_ids(comfy)[1], what="it in ComfyUI's queue")
    return queued


async def test_cancel_pending_prompt_never_reaches_comfyui(client: Any, plugin: Any) -> None:
    await plugin.jobs.pause()
    created = await submit(client, [upscale(1.1), upscale(1.2)])
    first = created["prompts"][0]["id"]
    resp = await client.post(f"/api/vq/v1/prompts/{first}/cancel")
    assert resp.status == 200 and (await resp.json())["status"] == "canceled"
    await plugin.jobs.resume()
    done = await wait_job(client, created["id"], {"canceled", "succeeded", "failed"})
    assert [p["status"] for p in done["prompts"]] == ["canceled", "succeeded"]
    assert done["status"] == "canceled" and done["prompts"][0]["attempts"] == []


async def test_cancel_queued_prompt_deletes_it_from_comfyui_queue(client: Any, comfy: Any) -> None:
    hold(comfy)
    created = await submit(client, [upscale(1.1), upscale(1.2)])
    first, second = (p["id"] for p in created["prompts"])
    await wait_prompt(client, first, {"running"})
    queued = await in_comfy_queue(client, comfy, second)
    resp = await client.post(f"/api/vq/v1/prompts/{second}/cancel")
    assert (await resp.json())["status"] == "canceled"
    assert queued["comfy_prompt_id"] not in comfy_ids(comfy)[1]
    await client.post(f"/api/vq/v1/prompts/{first}/cancel")
    await wait_job(client, created["id"], {"canceled"})


async def test_cancel_running_prompt_interrupts_only_it(client: Any, comfy: Any) -> None:
    hold(comfy, when=lambda _id, extra_data: "vq" in extra_data)  # only vq's prompt stays running
    created = await submit(client, [upscale(1.1)], priority=1)
    (prompt,) = created["prompts"]
    running = await wait_prompt(client, prompt["id"], {"running"}, timeout=15)
    ui = await comfy.submit_as_ui(upscale(2.0, prefix="ui/keep"))  # a user's own prompt, queued behind
    assert comfy_ids(comfy) == ({running["comfy_prompt_id"]}, {ui["prompt_id"]})
    resp = await client.post(f"/api/vq/v1/prompts/{prompt['id']}/cancel")
    assert (await resp.json())["status"] in ("canceling", "canceled")
    done = await wait_prompt(client, prompt["id"], {"canceled"}, timeout=5)
    assert done["attempts"][-1]["status"] == "canceled"
    # Every interrupt was sent while ours, and only ours, was running.
    assert comfy.interrupts and all(c.running == (running["comfy_prompt_id"],) for c in comfy.interrupts if c.value)
    # ComfyUI's own prompt was never touched and finishes normally.
    history = await wait_for(lambda: comfy.queue.get_history(prompt_id=ui["prompt_id"]), timeout=15,
                             what="the UI prompt to finish")
    assert history[ui["prompt_id"]]["status"]["status_str"] == "success"


async def test_cancel_job_with_running_and_pending_prompts(client: Any, comfy: Any) -> None:
    hold(comfy)
    created = await submit(client, [upscale(1 + i / 10) for i in range(4)])
    await wait_prompt(client, created["prompts"][0]["id"], {"running"})
    resp = await client.post(f"/api/vq/v1/jobs/{created['id']}/cancel")
    body = await resp.json()
    assert resp.status == 200 and body["canceled"] + body["canceling"] == 4
    done = await wait_job(client, created["id"], {"canceled"}, timeout=5)
    assert {p["status"] for p in done["prompts"]} == {"canceled"}
    assert comfy_ids(comfy) == (set(), set())


async def test_retry_failed_prompt_keeps_lineage(client: Any, comfy: Any) -> None:
    comfy.make_corrupt("vq_corrupt.png")
    created = await submit(client, [comfy_graph("exec_error_corrupt_image")])
    failed = await wait_job(client, created["id"], {"failed"})
    first_comfy_id = failed["prompts"][0]["comfy_prompt_id"]
    comfy.make_image("vq_corrupt.png")  # the user fixes the input
    resp = await client.post(f"/api/vq/v1/jobs/{created['id']}/retry")
    assert resp.status == 200 and (await resp.json())["retried"] == 1
    done = await wait_job(client, created["id"], {"succeeded", "failed"})
    (prompt,) = done["prompts"]
    assert done["status"] == "succeeded" and prompt["attempt"] == 2
    assert [a["status"] for a in prompt["attempts"]] == ["failed", "succeeded"]
    assert prompt["attempts"][0]["comfy_prompt_id"] == first_comfy_id != prompt["comfy_prompt_id"]
    assert prompt["error"] is None


async def test_pause_pulls_unstarted_prompts_back_and_resume_finishes(client: Any, comfy: Any, plugin: Any) -> None:
    held = hold(comfy)
    created = await submit(client, [upscale(1 + i / 10) for i in range(3)])
    first, second, third = (p["id"] for p in created["prompts"])
    await wait_prompt(client, first, {"running"})
    await in_comfy_queue(client, comfy, second)
    state = await (await client.post("/api/vq/v1/queue/pause")).json()
    assert state["paused"] is True and state["worker"] == "paused"
    detail = await job(client, created["id"])
    assert [p["status"] for p in detail["prompts"]] == ["running", "pending", "pending"]
    assert detail["prompts"][1]["attempts"] == [] and detail["prompts"][1]["attempt"] == 0
    assert len(comfy_ids(comfy)[1]) == 0
    held.release()
    await wait_prompt(client, first, {"succeeded"})  # the running one finishes
    assert (await job(client, created["id"]))["prompts"][1]["status"] == "pending"
    assert plugin.store.get_setting("paused") is True
    await client.post("/api/vq/v1/queue/resume")
    done = await wait_job(client, created["id"], {"succeeded"}, timeout=10)
    assert all(p["attempt"] == 1 for p in done["prompts"]), "a pulled-back prompt must not spend an attempt"


async def test_clear_requires_the_count_the_user_saw(client: Any, plugin: Any) -> None:
    await plugin.jobs.pause()
    created = await submit(client, [upscale(1 + i / 10) for i in range(3)])
    resp = await client.post("/api/vq/v1/queue/clear", json={"expected_count": 2})
    err = (await resp.json())["error"]
    assert resp.status == 409 and err["code"] == "count_changed" and err["details"]["actual"] == 3
    assert (await job(client, created["id"]))["counts"] == {"pending": 3}, "a refused clear touches nothing"
    resp = await client.post("/api/vq/v1/queue/clear", json={"expected_count": 3})
    assert (await resp.json()) == {"cleared": 3}
    assert (await job(client, created["id"]))["status"] == "canceled"


async def test_clear_leaves_running_work_alone_unless_asked(client: Any, comfy: Any) -> None:
    held = hold(comfy)
    created = await submit(client, [upscale(1.1), upscale(1.2), upscale(1.3)])
    await wait_prompt(client, created["prompts"][0]["id"], {"running"})
    await in_comfy_queue(client, comfy, created["prompts"][1]["id"])
    resp = await client.post("/api/vq/v1/queue/clear", json={"expected_count": 2})
    assert (await resp.json()) == {"cleared": 2}
    held.release()
    done = await wait_job(client, created["id"], {"canceled"}, timeout=10)
    assert [p["status"] for p in done["prompts"]] == ["succeeded", "canceled", "canceled"]


@pytest.mark.parametrize("profile", ["0.8.0"], indirect=True)
async def test_prompt_timeout_interrupts_and_fails(client: Any, comfy: Any, plugin: Any) -> None:
    plugin.settings.prompt_timeout_seconds = 0.3
    hold(comfy)  # runs until interrupted
    created = await submit(client, [upscale(1.1)])
    done = await wait_job(client, created["id"], {"failed"}, timeout=5)
    assert done["prompts"][0]["error"]["type"] == "timeout"


async def test_interrupt_from_comfyui_ui_cancels_the_prompt(client: Any, comfy: Any) -> None:
    hold(comfy)
    created = await submit(client, [upscale(1.1)])
    await wait_prompt(client, created["prompts"][0]["id"], {"running"})
    await client.post("/interrupt", json={})  # the global Cancel button in ComfyUI
    done = await wait_job(client, created["id"], {"canceled"}, timeout=5)
    assert "outside vq" in done["prompts"][0]["error"]["message"]


async def test_prompt_that_vanishes_from_comfyui_is_retried_then_succeeds(client: Any, comfy: Any) -> None:
    held = hold(comfy)  # the first prompt runs until released, so the second stays in ComfyUI's queue
    created = await submit(client, [upscale(1.1), upscale(1.2)])
    second = await in_comfy_queue(client, comfy, created["prompts"][1]["id"])
    # e.g. ComfyUI's own "Clear queue" while ours waits there
    assert comfy.queue.delete_queue_item(lambda item: item[1] == second["comfy_prompt_id"])
    held.release()
    done = await wait_job(client, created["id"], {"succeeded", "failed"}, timeout=10)
    prompt = done["prompts"][1]
    # It never started, so losing it used no attempt (issue 10 item 5).
    assert prompt["status"] == "succeeded" and prompt["attempt"] == 1
    assert [a["status"] for a in prompt["attempts"]] == ["succeeded"]


async def test_partially_valid_graph_is_refused_whole(client: Any, comfy: Any) -> None:
    graph = upscale()
    graph["10"] = {"class_type": "LoadImage", "inputs": {"image": "missing.png"}}
    graph["11"] = {"class_type": "SaveImage", "inputs": {"images": ["10", 0], "filename_prefix": "bad"}}
    created = await submit(client, [graph])
    done = await wait_job(client, created["id"], {"failed", "succeeded"})
    prompt = done["prompts"][0]
    assert prompt["status"] == "failed" and prompt["error"]["node_id"] == "10"
    assert comfy_ids(comfy) == (set(), set())


@pytest.mark.parametrize("profile", ["0.8.0"], indirect=True)
async def test_pause_during_a_submit_takes_that_prompt_back_too(client: Any, comfy: Any, plugin: Any) -> None:
    held = hold(comfy)
    entered, release = asyncio.Event(), asyncio.Event()
    real_handler = plugin.host._post_prompt
    calls = 0

    async def held_handler(request: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 2:  # hold the second submit, as a slow validation would
            entered.set()
            await release.wait()
        return await real_handler(request)

    plugin.host._post_prompt = held_handler
    created = await submit(client, [upscale(1.1), upscale(1.2)])
    await asyncio.wait_for(entered.wait(), 5)
    pause = asyncio.ensure_future(client.post("/api/vq/v1/queue/pause"))
    await wait_for(lambda: plugin.reader.worker.paused, what="the pause to take effect")  # the submit still held
    release.set()
    await pause
    second = created["prompts"][1]["id"]
    await wait_prompt(client, second, {"pending"})
    held.release()
    await wait_prompt(client, created["prompts"][0]["id"], {"succeeded"})
    assert comfy_ids(comfy) == (set(), set()) and (await job(client, created["id"]))["counts"]["pending"] == 1


async def test_a_1000_prompt_cancel_sends_a_few_dozen_messages_and_hands_nothing_more_to_comfyui(
    client: Any, comfy: Any, plugin: Any
) -> None:
    """Set-based cancel: the pending prompts go in one statement (the dispatcher cannot claim
    any of them meanwhile), and the events coalesce: one vq.job per job per window, one
    vq.queue per window, prompt briefs batched in vq.prompts."""
    held = hold(comfy)  # the first prompt runs (interruptibly) until released, while we cancel
    created = await submit(client, [upscale(1 + i / 10_000, prefix=f"vq_test/c{i}") for i in range(1000)])
    await wait_for(lambda: comfy_ids(comfy)[0], what="the first prompt running in ComfyUI")
    await plugin.dispatcher.events.drain()
    handed = len({p.comfy_prompt_id for p in await plugin.db.run(plugin.store.job_prompts, created["id"])
                  if p.comfy_prompt_id})
    mark = len(comfy.sent)
    resp = await client.post(f"/api/vq/v1/jobs/{created['id']}/cancel")
    answer = await resp.json()
    assert resp.status == 200 and answer["canceled"] + answer["canceling"] == 1000, answer
    held.release()
    done = await wait_job(client, created["id"], {"canceled"}, timeout=20)
    assert done["counts"] == {"canceled": 1000}
    await plugin.dispatcher.events.drain()
    sent = [(e, d) for e, d, _sid in comfy.sent[mark:] if isinstance(e, str) and e.startswith("vq.")]
    assert len(sent) <= 50, [e for e, _ in sent]
    assert {e for e, _ in sent} <= {"vq.job", "vq.prompts", "vq.queue"}
    assert sum(len(d["prompts"]) for e, d in sent if e == "vq.prompts") <= 10  # only the ones in ComfyUI
    again = {p.comfy_prompt_id for p in await plugin.db.run(plugin.store.job_prompts, created["id"]) if p.comfy_prompt_id}
    assert len(again) == handed, "the dispatcher handed more prompts of the job to ComfyUI during the cancel"
