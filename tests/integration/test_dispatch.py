"""Submit -> run -> finish through the plugin's routes and dispatcher on the fake ComfyUI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.helpers import comfy_graph
from tests.integration.helpers import job, submit, upscale, wait_for, wait_job


async def test_health_reports_the_strategies_detected_for_each_version(client: Any, profile: str) -> None:
    resp = await client.get("/api/vq/v1/health")
    health = await resp.json()
    assert resp.status == 200 and health["ok"] is True
    strategies = health["strategies"]
    assert strategies["submit"] == "post_prompt_handler"
    assert strategies["queue_item_arity"] == (5 if profile == "0.3.64" else 6)
    assert strategies["cancel"] == ("interrupt_if_running" if profile == "newer" else "mutex_check_then_interrupt")
    assert strategies["data_dir"] == ("user_directory" if profile == "0.3.64" else "system_user_directory")
    assert health["db"]["path"].endswith("__video_queue/vq.sqlite3")
    # both spellings of every route are served, as ComfyUI's add_routes does
    assert (await client.get("/vq/v1/health")).status == 200


async def test_a_job_of_ten_graphs_runs_to_success_with_outputs_on_disk(client: Any, comfy: Any) -> None:
    created = await submit(client, [upscale(1 + i / 10, prefix=f"vq_test/p{i}") for i in range(10)], name="ten")
    assert created["status"] in ("pending", "running") and created["total"] == 10
    done = await wait_job(client, created["id"], {"succeeded", "failed"})
    assert done["status"] == "succeeded", done
    assert done["done"] == 10 and done["counts"] == {"succeeded": 10}
    for prompt in done["prompts"]:
        assert prompt["attempt"] == 1 and prompt["comfy_prompt_id"]
        (output,) = prompt["outputs"]
        assert output["kind"] == "image" and output["url"].startswith("/view?filename=")
        assert Path(output["path"]).is_file()
    assert done["started_at"] and done["finished_at"]


async def test_video_outputs_are_listed_as_videos(client: Any) -> None:
    created = await submit(client, [comfy_graph("video_mp4"), comfy_graph("video_webm")])
    done = await wait_job(client, created["id"], {"succeeded", "failed"})
    assert done["status"] == "succeeded", done
    kinds = [o["kind"] for p in done["prompts"] for o in p["outputs"]]
    assert kinds == ["video", "video"]


async def test_validation_failure_fails_the_prompt_with_comfyui_node_error_text(client: Any) -> None:
    created = await submit(client, [comfy_graph("invalid_missing_image"), upscale()])
    done = await wait_job(client, created["id"], {"failed", "succeeded"})
    bad, good = done["prompts"]
    assert done["status"] == "failed"
    assert bad["status"] == "failed" and good["status"] == "succeeded"
    assert bad["error"]["type"] == "prompt_outputs_failed_validation"
    assert bad["error"]["node_id"] == "1" and bad["error"]["node_type"] == "LoadImage"
    assert "Custom validation failed" in bad["error"]["message"]


async def test_execution_error_is_recorded_with_node_and_traceback(client: Any, comfy: Any) -> None:
    comfy.make_corrupt("vq_corrupt.png")
    created = await submit(client, [comfy_graph("exec_error_corrupt_image")])
    done = await wait_job(client, created["id"], {"failed", "succeeded"})
    (prompt,) = done["prompts"]
    assert prompt["status"] == "failed"
    assert prompt["error"]["node_id"] == "1" and prompt["error"]["node_type"] == "LoadImage"
    assert prompt["error"]["message"] and prompt["error"]["traceback"]


async def test_priority_decides_what_runs_next(client: Any, comfy: Any, plugin: Any) -> None:
    await plugin.jobs.pause()
    low = await submit(client, [upscale(1.1, prefix="vq_test/low")], name="low")
    high = await submit(client, [upscale(1.2, prefix="vq_test/high")], name="high", priority=5)
    later = await submit(client, [upscale(1.3, prefix="vq_test/later")], name="later")
    resp = await client.post(f"/api/vq/v1/jobs/{later['id']}/top")
    assert (await resp.json())["priority"] == 6
    await plugin.jobs.resume()
    for created in (low, high, later):
        await wait_job(client, created["id"], {"succeeded"})
    started = {}
    for created in (low, high, later):
        started[created["name"]] = (await job(client, created["id"]))["prompts"][0]["started_at"]
    assert sorted(started, key=started.__getitem__) == ["later", "high", "low"]


async def test_events_are_broadcast_for_jobs_prompts_and_queue(client: Any, comfy: Any) -> None:
    created = await submit(client, [upscale()])
    await wait_job(client, created["id"], {"succeeded"})

    def vq_events() -> set[str]:
        return {event for event, _data, _sid in comfy.sent if isinstance(event, str) and event.startswith("vq.")}

    def last_job_event() -> dict[str, Any] | None:
        jobs = [d["job"] for e, d, _sid in comfy.sent if e == "vq.job" and d["job"]["id"] == created["id"]]
        return jobs[-1] if jobs and jobs[-1]["status"] == "succeeded" else None

    final = await wait_for(last_job_event, what="a vq.job event saying succeeded")
    assert final["done"] == 1 and final["counts"] == {"succeeded": 1}
    await wait_for(lambda: {"vq.job", "vq.prompts", "vq.queue"} <= vq_events(), what="all three kinds of event")
    assert all(sid is None for e, _, sid in comfy.sent if isinstance(e, str) and e.startswith("vq.")), "broadcast"


async def test_job_log_tells_the_story(client: Any) -> None:
    created = await submit(client, [upscale()])
    await wait_job(client, created["id"], {"succeeded"})
    body = await (await client.get(f"/api/vq/v1/jobs/{created['id']}/log")).json()
    events = [e["event"] for e in body["entries"]]
    assert events[0] == "submitted" and "queued" in events and "succeeded" in events
    more = await (await client.get(f"/api/vq/v1/jobs/{created['id']}/log?after={body['next_after']}")).json()
    assert more["entries"] == []
