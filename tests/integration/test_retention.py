"""Staging retention through the routes: usage, dry run vs apply, live jobs excluded,
partial failures and re-runs, leftovers, the audit log and the periodic sweep."""

from __future__ import annotations

import errno
import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.integration.helpers import wait_for, wait_job

pytestmark = pytest.mark.parametrize("profile", ["0.8.0"], indirect=True)

API = "/api/vq/v1"
DAY = 86_400


def later(days: float) -> Callable[[], float]:
    return lambda: time.time() + days * DAY


@pytest.fixture
def batch(comfy: Any) -> Path:
    folder = Path(comfy.paths.input_directory) / "batch"
    folder.mkdir()
    for i in range(3):
        Image.new("RGB", (16 + i, 16), (i * 50, 0, 0)).save(folder / f"img{i}.png")
    return folder


def staged(comfy: Any) -> set[Path]:
    root = Path(comfy.paths.input_directory) / "vq" / "staged"
    return {p for p in root.rglob("*") if p.is_file()} if root.exists() else set()


async def run_job(client: Any, inputs: str | list[str]) -> dict[str, Any]:
    resp = await client.post(f"{API}/jobs", json={"workflow": "smoke-image", "input": inputs})
    created = await resp.json()
    assert resp.status == 201, created
    return await wait_job(client, created["id"], {"succeeded", "failed"})


async def usage(client: Any, **params: str) -> dict[str, Any]:
    resp = await client.get(f"{API}/staging", params=params)
    assert resp.status == 200
    return await resp.json()


async def cleanup(client: Any, body: dict[str, Any] | None = None, status: int = 200) -> dict[str, Any]:
    resp = await client.post(f"{API}/staging/cleanup", json=body or {})
    answer = await resp.json()
    assert resp.status == status, answer
    return answer


async def test_finished_jobs_keep_their_files_for_the_retention_then_dry_run_and_apply(
        client: Any, comfy: Any, plugin: Any, batch: Path) -> None:
    await run_job(client, str(batch))
    files = staged(comfy)
    size = sum(p.stat().st_size for p in files)
    now = await usage(client)
    assert (now["files"], now["bytes"], now["referenced"]["files"], now["waiting"]["files"]) == (3, size, 0, 3)
    assert now["reclaimable"] == {"files": 0, "bytes": 0} and now["retention_days"] == 7
    assert (await cleanup(client))["files"] == []

    plugin.staging.clock = later(8)
    assert (await usage(client))["reclaimable"] == {"files": 3, "bytes": size}
    dry = await cleanup(client)
    assert dry["dry_run"] is True and dry["bytes"] == dry["freed_bytes"] == size
    assert {f["path"] for f in dry["files"]} == {str(p) for p in files}
    assert all(f["kind"] == "staged" and "last job finished" in f["reason"] for f in dry["files"])
    assert staged(comfy) == files, "a dry run deletes nothing"

    applied = await cleanup(client, {"dry_run": False})
    assert applied["dry_run"] is False and applied["failed"] == [] and applied["bytes"] == size
    assert staged(comfy) == set()
    audit = (await usage(client))["audit"]
    expected = {("delete_staged", "deleted", str(p)) for p in files}
    assert {(e["action"], e["result"], e["path"]) for e in audit} == expected
    assert all(e["detail"].startswith("api: ") for e in audit)


async def test_files_of_live_prompts_are_never_candidates(client: Any, comfy: Any, plugin: Any, batch: Path) -> None:
    await run_job(client, str(batch / "img0.png"))  # finished: its file alone would be reclaimable
    await plugin.jobs.pause()
    resp = await client.post(f"{API}/jobs", json={"workflow": "smoke-image", "input": str(batch)})
    assert resp.status == 201
    plugin.staging.clock = later(365)
    now = await usage(client)
    assert now["referenced"]["files"] == 3 and now["reclaimable"]["files"] == 0, "img0 is shared with a live job"
    assert (await cleanup(client, {"dry_run": False}))["files"] == []
    assert len(staged(comfy)) == 3


async def test_a_failed_deletion_is_reported_and_a_rerun_finishes(client: Any, comfy: Any, plugin: Any,
                                                                  batch: Path) -> None:
    await run_job(client, str(batch))
    plugin.staging.clock = later(8)
    stuck = sorted(staged(comfy))[0]

    def unlink(path: Path) -> None:
        if path == stuck:
            raise PermissionError(errno.EACCES, "Permission denied")
        os.unlink(path)

    plugin.staging.retention.unlink = unlink
    first = await cleanup(client, {"apply": True})  # what `vq cleanup --apply` sends
    assert len(first["files"]) == 2
    assert [(f["path"], f["error"]) for f in first["failed"]] == [(str(stuck), "Permission denied")]
    assert staged(comfy) == {stuck}
    assert [e["result"] for e in (await usage(client))["audit"] if e["path"] == str(stuck)] == ["failed"]

    plugin.staging.retention.unlink = os.unlink
    second = await cleanup(client, {"apply": True})
    assert [f["path"] for f in second["files"]] == [str(stuck)] and second["failed"] == []
    assert staged(comfy) == set()


async def test_a_hard_linked_upload_frees_nothing_while_the_upload_exists(client: Any, comfy: Any, plugin: Any,
                                                                         batch: Path) -> None:
    uploads = Path(comfy.paths.input_directory) / "vq" / "uploads"
    uploads.mkdir(parents=True)
    (uploads / "up.png").write_bytes((batch / "img0.png").read_bytes())
    await run_job(client, str(uploads / "up.png"))
    plugin.staging.clock = later(8)
    [entry] = (await cleanup(client))["files"]
    assert entry["shared"] is True
    assert (await cleanup(client))["freed_bytes"] == 0


async def test_leftover_temp_and_partial_upload_files_are_swept(client: Any, comfy: Any, plugin: Any) -> None:
    root = Path(comfy.paths.input_directory) / "vq"
    (root / "staged").mkdir(parents=True)
    (root / "uploads" / "day1").mkdir(parents=True)
    tmp = root / "staged" / f".tmp-{uuid.uuid4().hex}"
    part = root / "uploads" / "day1" / f".vq-upload-{uuid.uuid4().hex}.part"
    tmp.write_bytes(b"1" * 10)
    part.write_bytes(b"2" * 20)
    assert (await cleanup(client))["files"] == [], "written just now: maybe still in use"
    plugin.staging.clock = lambda: time.time() + 2 * 3600
    assert (await usage(client))["leftovers"] == {"files": 2, "bytes": 30}
    done = await cleanup(client, {"dry_run": False})
    assert {(f["kind"], f["path"]) for f in done["files"]} == {("temp", str(tmp)), ("partial_upload", str(part))}
    assert not tmp.exists() and not part.exists()


async def test_cleanup_options_and_conflicts(client: Any, comfy: Any, plugin: Any, tmp_path: Path) -> None:
    err = (await cleanup(client, {"dry_run": True, "apply": True}, 400))["error"]
    assert "contradict" in err["message"]
    async with plugin.staging._cleanup_lock:
        err = (await cleanup(client, {}, 409))["error"]
        assert "already running" in err["message"]
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    victim = outside / f".tmp-{uuid.uuid4().hex}"
    victim.write_bytes(b"x")
    (Path(comfy.paths.input_directory) / "vq").mkdir()
    (Path(comfy.paths.input_directory) / "vq" / "staged").symlink_to(outside, target_is_directory=True)
    plugin.staging.clock = later(30)
    err = (await cleanup(client, {"dry_run": False}, 409))["error"]
    assert "outside the allowed roots" in err["message"] and "allowed_roots" in err["message"]
    assert victim.exists()


async def test_the_periodic_sweep_is_off_by_default_and_runs_when_configured(client: Any, comfy: Any,
                                                                           plugin: Any, batch: Path) -> None:
    assert (await usage(client))["sweep_hours"] == 0
    await run_job(client, str(batch / "img1.png"))
    plugin.staging.clock = later(8)
    # The default sweep (daily) only deletes old jobs (job_retention_days); staged files stay.
    assert (await plugin.staging.sweep_once())["removed"] == 0 and staged(comfy) != set()
    await plugin.staging.stop_sweeps()
    plugin.staging.last_sweep = None
    plugin.settings.staging_sweep_hours = 0.5 / 3600  # every half second
    plugin.staging.start_sweeps()
    try:
        sweep = await wait_for(lambda: plugin.staging.last_sweep, what="a sweep")
        assert (sweep["removed"], sweep["failed"], sweep["error"]) == (1, 0, None)
        assert staged(comfy) == set()
        audit = (await usage(client))["audit"]
        assert audit[0]["detail"].startswith("sweep: ")
    finally:
        await plugin.staging.stop_sweeps()
