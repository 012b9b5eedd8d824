"""vq's load on ComfyUI's process (issue 10, item 17): file work on its own executor,
huge folders refused, dry runs answered a page at a time."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.integration.helpers import wait_for, wait_job
from tests.integration.test_files_routes import multipart, png
from tests.integration.test_openapi import images

pytestmark = pytest.mark.parametrize("profile", ["0.8.0"], indirect=True)
API = "/api/vq/v1"


async def test_file_work_never_waits_on_the_default_executor(client: Any, comfy: Any, plugin: Any) -> None:
    # aiohttp serves ComfyUI's own files (GET /view, the frontend) from the default executor;
    # with every one of its threads busy, vq's file work must still get done: path checks,
    # browsing, uploads, reading definitions, a staged folder submit, the dispatcher's check
    # of a staged input before it hands the prompt over, and the `_processed` move.
    loop = asyncio.get_running_loop()
    gate = threading.Event()
    busy = ThreadPoolExecutor(max_workers=1)
    busy.submit(gate.wait)
    loop.set_default_executor(busy)
    try:
        folder = images(Path(comfy.paths.input_directory) / "load")
        upload = multipart(("file", "up.png", png()))
        for resp in (await within(client.post(f"{API}/paths/normalize", json={"path": str(folder)})),
                     await within(client.get(f"{API}/browse", params={"path": str(folder)})),
                     await within(client.post(f"{API}/workflows/reload")),
                     await within(client.post(f"{API}/uploads", data=upload[0], headers=upload[1]))):
            assert resp.status in (200, 201), await resp.text()
        body = {"workflow": "smoke-image", "input": str(folder), "stage": True, "move_processed": True}
        resp = await within(client.post(f"{API}/jobs", json=body))
        assert resp.status == 201, await resp.text()
        done = await wait_job(client, (await resp.json())["id"], {"succeeded", "failed"}, timeout=30)
        assert done["status"] == "succeeded", done
        await wait_for(lambda: sorted(p.name for p in (folder / "_processed").glob("*.png")) == ["img1.png", "img2.png"],
                       what="the sources moved to _processed")
    finally:
        gate.set()
    work = plugin.work
    assert plugin.files.work is work and plugin.staging.work is work
    assert plugin.autoprompt.file_work == work.run and plugin.autoprompt.generator.file_work == work.run


async def within(request: Any) -> Any:
    """The answer, or a failure (not a hang) when vq waited on the blocked default executor."""
    return await asyncio.wait_for(request, 30)


async def test_a_folder_over_max_folder_files_is_refused(client: Any, comfy: Any, plugin: Any) -> None:
    assert plugin.settings.max_folder_files == 20_000
    folder = images(Path(comfy.paths.input_directory) / "big", count=6)
    plugin.settings.max_folder_files = 5
    for resp in (await client.post(f"{API}/paths/normalize", json={"path": str(folder), "workflow": "smoke-image"}),
                 await client.get(f"{API}/browse", params={"path": str(folder)})):
        answer = await resp.json()
        assert resp.status == 400, answer
        assert "max_folder_files" in answer["error"]["message"] and "more than 5" in answer["error"]["message"]
    plugin.submitter.max_folder_files = 5  # read once at start-up (a setting change needs a restart)
    for dry_run in (True, False):
        body = {"workflow": "smoke-image", "input": str(folder), "dry_run": dry_run}
        resp = await client.post(f"{API}/jobs", json=body)
        answer = await resp.json()
        assert resp.status == 400, answer
        assert "max_folder_files" in answer["error"]["message"] and "more than 5" in answer["error"]["message"]
        assert answer["error"]["details"]["param"] == "input"  # the submit's field that named the folder
    assert (await (await client.get(f"{API}/jobs")).json())["total"] == 0, "nothing was queued"
    plugin.settings.max_folder_files = plugin.submitter.max_folder_files = 6
    resp = await client.post(f"{API}/paths/normalize", json={"path": str(folder), "workflow": "smoke-image"})
    assert resp.status == 200 and (await resp.json())["matching_files"] == 6
    resp = await client.post(f"{API}/jobs", json={"workflow": "smoke-image", "input": str(folder), "dry_run": True})
    assert resp.status == 200 and (await resp.json())["total"] == 6


async def test_dry_runs_are_answered_a_page_at_a_time(client: Any, comfy: Any) -> None:
    folder = images(Path(comfy.paths.input_directory) / "dry", count=6)
    body = {"workflow": "smoke-image", "input": str(folder), "tries": 100, "dry_run": True}
    first = await (await client.post(f"{API}/jobs", json=body)).json()
    assert first["total"] == 600 and len(first["prompts"]) == 500
    assert (first["offset"], first["next_offset"]) == (0, 500)
    assert [p["index"] for p in first["prompts"][:2]] == [0, 1]
    rest = await (await client.post(f"{API}/jobs", json={**body, "dry_run_offset": 500})).json()
    assert len(rest["prompts"]) == 100 and rest["prompts"][0]["index"] == 500 and rest["next_offset"] is None
