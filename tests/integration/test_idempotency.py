"""POST /vq/v1/jobs with an Idempotency-Key: a client that timed out and retries gets the
job its first request created (ComfyUI does not cancel the handler when the client goes),
not a second one; the same key with another body is refused."""

from __future__ import annotations

import asyncio
import threading
import uuid
from typing import Any

import aiohttp
import pytest

from tests.integration.helpers import upscale, wait_for

JOBS = "/api/vq/v1/jobs"


@pytest.mark.parametrize("profile", ["0.8.0"], indirect=True)
async def test_a_retry_after_a_timeout_returns_the_job_the_first_request_created(comfy: Any, client: Any) -> None:
    plugin = comfy.server._vq_plugin
    store = plugin.store
    create_job = store.create_job
    slow_disk = threading.Event()

    def slow_create_job(*args: Any, **kwargs: Any) -> Any:
        slow_disk.wait(30)  # the submit outlasts the client's patience
        return create_job(*args, **kwargs)

    store.create_job = slow_create_job
    key = str(uuid.uuid4())
    body = {"name": "idem", "graphs": [upscale(1.1)]}
    with pytest.raises(asyncio.TimeoutError):
        await client.post(JOBS, json=body, headers={"Idempotency-Key": key},
                          timeout=aiohttp.ClientTimeout(total=0.3))
    slow_disk.set()  # the handler was not canceled: it goes on and creates the job
    first = await wait_for(lambda: _jobs(client), what="the first request's job")
    assert len(first) == 1

    again = await client.post(JOBS, json=body, headers={"Idempotency-Key": key})
    assert again.status == 200, await again.text()
    assert (await again.json())["id"] == first[0]["id"]
    assert len(await _jobs(client)) == 1, "the retry queued a second job"

    other = await client.post(JOBS, json={**body, "name": "something else"}, headers={"Idempotency-Key": key})
    assert other.status == 409 and (await other.json())["error"]["details"]["job_id"] == first[0]["id"]

    fresh = await client.post(JOBS, json=body, headers={"Idempotency-Key": str(uuid.uuid4())})
    assert fresh.status == 201


async def _jobs(client: Any) -> list[dict[str, Any]]:
    return (await (await client.get(JOBS)).json())["jobs"]
