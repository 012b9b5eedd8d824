"""Bad requests get the error envelope with a message that says what to fix."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.helpers import submit, upscale


async def error(resp: Any, status: int) -> dict[str, Any]:
    assert resp.status == status, await resp.text()
    return (await resp.json())["error"]


@pytest.mark.parametrize("profile", ["0.8.0"], indirect=True)
async def test_bad_inputs_are_refused_clearly(client: Any) -> None:
    err = await error(await client.post("/api/vq/v1/jobs", json={"graphs": []}), 400)
    assert err["code"] == "invalid_request" and "graphs" in err["message"]
    err = await error(await client.post("/api/vq/v1/jobs", json={"graphs": [{"nodes": [], "links": []}]}), 400)
    assert "Export (API)" in err["message"]
    err = await error(await client.post("/api/vq/v1/jobs", data="not json",
                                        headers={"Content-Type": "application/json"}), 400)
    assert "not valid JSON" in err["message"]
    err = await error(await client.post("/api/vq/v1/jobs", data="graphs=1"), 400)
    assert "JSON" in err["message"]
    err = await error(await client.get("/api/vq/v1/jobs?limit=0"), 400)
    assert "limit" in err["message"]
    err = await error(await client.get("/api/vq/v1/jobs?status=bogus"), 400)
    assert "status" in err["message"]
    err = await error(await client.get("/api/vq/v1/jobs/abc"), 400)
    assert "job_id" in err["message"]
    assert (await error(await client.get("/api/vq/v1/jobs/999"), 404))["code"] == "not_found"
    assert (await error(await client.post("/api/vq/v1/prompts/999/cancel"), 404))["code"] == "not_found"
    err = await error(await client.post("/api/vq/v1/queue/pause", data="a=b",
                                        headers={"Content-Type": "application/x-www-form-urlencoded"}), 400)
    assert "form" in err["message"]


@pytest.mark.parametrize("profile", ["0.8.0"], indirect=True)
async def test_retrying_a_succeeded_job_is_a_conflict(client: Any) -> None:
    from tests.integration.helpers import wait_job

    created = await submit(client, [upscale()])
    await wait_job(client, created["id"], {"succeeded"})
    err = await error(await client.post(f"/api/vq/v1/jobs/{created['id']}/retry"), 409)
    assert "nothing" in err["message"] or "no failed" in err["message"]
    err = await error(await client.post(f"/api/vq/v1/jobs/{created['id']}/cancel"), 409)
    assert "nothing left" in err["message"]
