"""Deleting finished jobs: the route, and the retention sweep with an injected clock
(issue 10, item 18)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.helpers import job, submit, upscale, wait_for, wait_job

pytestmark = pytest.mark.parametrize("profile", ["0.8.0"], indirect=True)
DAY = 86400.0


def deletions(comfy: Any) -> list[list[int]]:
    """The ids of every vq.jobs_deleted broadcast so far (every sidebar drops those jobs)."""
    return [data["ids"] for event, data, sid in comfy.sent if event == "vq.jobs_deleted" and sid is None]


async def test_delete_a_finished_job(client: Any, comfy: Any, plugin: Any) -> None:
    done = await submit(client, [upscale(1.25)])
    await wait_job(client, done["id"], {"succeeded"})
    resp = await client.delete(f"/api/vq/v1/jobs/{done['id']}")
    assert resp.status == 200, await resp.text()
    assert await resp.json() == {"id": done["id"], "deleted": True}
    assert (await client.get(f"/api/vq/v1/jobs/{done['id']}")).status == 404
    prompt_id = done["prompts"][0]["id"]
    assert (await client.get(f"/api/vq/v1/prompts/{prompt_id}")).status == 404
    assert (await client.delete(f"/api/vq/v1/jobs/{done['id']}")).status == 404
    await wait_for(lambda: deletions(comfy) == [[done["id"]]], what="a vq.jobs_deleted for every sidebar")


async def test_an_unfinished_job_is_not_deleted(client: Any) -> None:
    await client.post("/api/vq/v1/queue/pause")
    waiting = await submit(client, [upscale(1.3)])
    resp = await client.delete(f"/api/vq/v1/jobs/{waiting['id']}")
    err = (await resp.json())["error"]
    assert resp.status == 409 and err["code"] == "conflict" and "cancel it first" in err["message"]
    assert (await job(client, waiting["id"]))["status"] == "pending"


async def test_retention_deletes_jobs_finished_long_ago(client: Any, comfy: Any, plugin: Any) -> None:
    old = await submit(client, [upscale(1.4)])
    await wait_job(client, old["id"], {"succeeded"})
    await client.post("/api/vq/v1/queue/pause")
    waiting = await submit(client, [upscale(1.45)])
    now = [plugin.staging.clock()]
    plugin.staging.clock = lambda: now[0]
    assert plugin.settings.job_retention_days == 30
    assert (await plugin.staging.sweep_once())["jobs_deleted"] == 0
    now[0] += 31 * DAY
    assert (await plugin.staging.sweep_once())["jobs_deleted"] == 1
    assert (await client.get(f"/api/vq/v1/jobs/{old['id']}")).status == 404
    assert (await job(client, waiting["id"]))["status"] == "pending", "unfinished jobs are kept at any age"
    await wait_for(lambda: deletions(comfy) == [[old["id"]]], what="the sweep's deletion told to every sidebar")
    plugin.settings.job_retention_days = 0
    now[0] += 365 * DAY
    assert (await plugin.staging.sweep_once())["jobs_deleted"] == 0
