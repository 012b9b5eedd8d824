"""The vq CLI against the real plugin on the fake ComfyUI, over loopback HTTP.

The CLI is synchronous (requests), so it runs in a worker thread while the test's event
loop serves the plugin. Covers: every queue command against real answers, --json being
exactly the API body, and the unreachable-ComfyUI scenario.
"""

from __future__ import annotations

import asyncio
import io as _io
import json
import socket
import time
from dataclasses import dataclass
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
from vq_extension.cli.app import main
from vq_extension.cli.output import IO


@pytest.fixture
def profile() -> str:
    return "0.8.0"


@dataclass
class Run:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


def base_url(client: Any) -> str:
    return str(client.make_url("")).rstrip("/")


async def vq(client: Any, *argv: str, url: str | None = None, stdin: str = "", io: Any = None) -> Run:
    """Run the vq CLI in a thread against the plugin the test client serves (``io``: one
    from ``cli_io()``, to read what it printed so far while it runs)."""
    io = io or cli_io(stdin)
    args = [*argv, "--url", url or base_url(client)]
    code = await asyncio.to_thread(main, args, io=io, environ={})
    return Run(code, io.stdout.getvalue(), io.stderr.getvalue())  # type: ignore[attr-defined]


def cli_io(stdin: str = "") -> Any:
    # The CLI's own poll interval is real time; no assertion depends on its length.
    return IO(_io.StringIO(), _io.StringIO(), _io.StringIO(stdin), sleep=time.sleep)


def hold(comfy: Any) -> Any:
    """ImageScaleBy stays running (interruptible) until ``release()``."""
    return comfy.behavior.hold("ImageScaleBy")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- queue commands against the real plugin ----------------------------------------------------------


async def test_health(client: Any) -> None:
    r = await vq(client, "health")
    assert r.code == 0, r.err
    assert "on ComfyUI 0.8.0" in r.out and ": ok" in r.out and "post_prompt_handler" in r.out
    api = await (await client.get("/api/vq/v1/health")).json()
    assert (await vq(client, "health", "--json")).json() == api


async def test_status_list_and_log_show_a_finished_job(client: Any) -> None:
    created = await submit(client, [upscale(1.1), comfy_graph("invalid_missing_image")], name="cli-status")
    await wait_job(client, created["id"], {"failed"})
    r = await vq(client, "status", str(created["id"]))
    assert r.code == 0 and "cli-status" in r.out and "failed" in r.out
    assert "prompt_outputs_failed_validation in node 1 (LoadImage)" in r.out
    assert (await vq(client, "status", str(created["id"]), "--json")).json() == await job(client, created["id"])
    listed = await vq(client, "list", "--status", "failed", "--search", "cli-status")
    assert listed.code == 0 and listed.out.splitlines()[1].split()[:2] == [str(created["id"]), "failed"]
    log = await vq(client, "log", str(created["id"]))
    assert "submitted with 2 prompt(s)" in log.out and "ComfyUI refused it" in log.out
    follow = await vq(client, "log", str(created["id"]), "--follow", "--interval", "0.05")
    assert follow.code == 0 and follow.out == log.out  # a finished job: prints all, then stops


async def test_retry_then_cancel_a_job_and_a_prompt(client: Any, comfy: Any, plugin: Any) -> None:
    created = await submit(client, [comfy_graph("invalid_missing_image"), upscale(1.3)])
    await wait_job(client, created["id"], {"failed"})
    bad = created["prompts"][0]["id"]
    await plugin.jobs.pause()
    r = await vq(client, "retry", str(created["id"]))
    assert r.code == 0 and "1 prompt back in the queue" in r.out
    r = await vq(client, "cancel", "--prompt", str(bad))
    assert r.code == 0 and f"Prompt {bad}" in r.out and "canceled" in r.out
    r = await vq(client, "retry", "--prompt", str(bad))
    assert r.code == 0 and "pending again" in r.out
    r = await vq(client, "cancel", str(created["id"]), "999999")
    assert r.code == 1 and "1 prompt canceled" in r.out and "job 999999 does not exist" in r.err
    await plugin.jobs.resume()


async def test_pause_resume_priority_top_and_clear(client: Any, plugin: Any) -> None:
    r = await vq(client, "pause")
    assert r.code == 0 and r.out.startswith("Queue paused")
    first = await submit(client, [upscale(1.4)])
    second = await submit(client, [upscale(1.5), upscale(1.6)])
    assert (await vq(client, "priority", str(first["id"]), "7")).out == f"Job {first['id']} priority is now 7.\n"
    r = await vq(client, "top", str(second["id"]))
    assert r.out == f"Job {second['id']} is at the top of the queue (priority 8).\n"
    r = await vq(client, "clear")  # no terminal: refuses without --yes, queues nothing
    assert r.code == 2 and "would cancel 3 prompts" in r.err
    r = await vq(client, "clear", "--yes")
    assert r.code == 0 and r.out == "Canceled 3 prompts.\n"
    r = await vq(client, "resume")
    assert r.code == 0 and r.out.startswith("Queue running")


async def test_watch_a_job_to_success_and_to_failure(client: Any, comfy: Any) -> None:
    held = hold(comfy)
    ok = await submit(client, [upscale(1.7), upscale(1.8)])
    io = cli_io()
    watch = asyncio.ensure_future(vq(client, "watch", str(ok["id"]), "--interval", "0.05", io=io))
    await wait_for(lambda: f"job {ok['id']} #1 running" in io.stdout.getvalue() or watch.done(),
                   what="vq watch to show the running prompt")
    held.release()
    r = await watch
    assert r.code == 0, r.err
    assert f"job {ok['id']} #1 running" in r.out and r.out.splitlines()[-1].startswith(f"✓ job {ok['id']}")
    bad = await submit(client, [comfy_graph("invalid_missing_image")])
    r = await vq(client, "watch", str(bad["id"]), "--interval", "0.05")
    assert r.code == 1 and f"job {bad['id']} ended failed" in r.err


async def test_cancel_a_running_job_from_the_cli(client: Any, comfy: Any) -> None:
    hold(comfy)
    created = await submit(client, [upscale(1.9), upscale(2.0)])
    await wait_prompt(client, created["prompts"][0]["id"], {"running"})
    r = await vq(client, "cancel", str(created["id"]), "--json")
    assert r.code == 0 and r.json()["canceling"] + r.json()["canceled"] == 2
    done = await wait_job(client, created["id"], {"canceled"}, timeout=15)
    assert {p["status"] for p in done["prompts"]} == {"canceled"}


# --- not reachable / not installed ---------------------------------------------------------------------


async def test_unreachable_comfyui_is_a_clear_message_and_exit_1(client: Any) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    r = await vq(client, "list", url=url)
    assert r.code == 1 and r.out == ""
    assert r.err == f"vq: error: ComfyUI is not reachable at {url} (is it running? see --url / VQ_URL)\n"


async def test_a_comfyui_without_vq_says_vq_is_not_installed(aiohttp_client: Any) -> None:
    from aiohttp import web

    async def stats(_request: web.Request) -> web.Response:
        return web.json_response({})

    bare = web.Application()  # answers like a ComfyUI without the plugin: 404 for /api/vq/...
    bare.router.add_get("/system_stats", stats)
    other = await aiohttp_client(bare)
    r = await vq(other, "health")
    assert r.code == 1 and r.err.startswith(f"vq: error: vq is not installed in the ComfyUI at {base_url(other)}")


# --- offline: a job written straight into the database -------------------------------------------------


async def test_a_job_written_offline_while_comfyui_runs_is_picked_up_by_the_dispatcher(
        client: Any, plugin: Any) -> None:
    """The offline path's JobService (with stand-ins for dispatcher and events) writes into
    the database the running plugin uses; the dispatcher claims it on its next poll."""
    from vq_extension.cli.offline import OfflineQueue, resolve_data_dir

    def write() -> dict[str, Any]:
        with OfflineQueue(resolve_data_dir(str(plugin.dirs.data))) as queue:
            return queue.run(lambda: queue.jobs.submit_graphs(
                name="offline", graphs=[upscale(2.1), upscale(2.2)], priority=0, max_attempts=None))

    written = await asyncio.to_thread(write)
    # the running dispatcher (polling every 50 ms here) may claim it before the answer is read
    assert written["status"] in ("pending", "running") and written["total"] == 2
    done = await wait_job(client, written["id"], {"succeeded", "failed"})
    assert done["status"] == "succeeded" and done["name"] == "offline"


async def test_offline_writers_and_the_running_plugin_share_the_database_safely(client: Any, plugin: Any) -> None:
    """Several offline writers at once, while the API submits and the dispatcher runs:
    WAL + busy timeout means every job lands whole and runs."""
    from vq_extension.cli.offline import OfflineQueue, resolve_data_dir

    def write(i: int) -> int:
        with OfflineQueue(resolve_data_dir(str(plugin.dirs.data))) as queue:
            job = queue.run(lambda: queue.jobs.submit_graphs(
                name=f"offline {i}", graphs=[upscale(3 + i / 10)], priority=0, max_attempts=None))
            return int(job["id"])

    writers = [asyncio.to_thread(write, i) for i in range(4)]
    online = submit(client, [upscale(4.0)], name="online")
    *ids, created = await asyncio.gather(*writers, online)
    for job_id in [*ids, created["id"]]:
        done = await wait_job(client, job_id, {"succeeded", "failed"}, timeout=20)
        assert done["status"] == "succeeded" and done["total"] == 1


# --- --json shapes ----------------------------------------------------------------------------------------


def shape(value: Any, path: str = "$", out: dict[str, set[str]] | None = None) -> dict[str, set[str]]:
    """Every path in a JSON value with the types seen there (list items merged)."""
    out = {} if out is None else out
    kind = {dict: "object", list: "array", str: "string", bool: "boolean", int: "integer", float: "number",
            type(None): "null"}[type(value)]
    out.setdefault(path, set()).add(kind)
    if isinstance(value, dict):
        for key, item in value.items():
            # graphs, params, options, counts and settings are open maps: their keys are data, not shape
            if path.rsplit(".", 1)[-1] in ("graph", "params", "options", "counts", "settings", "details", "source"):
                out.setdefault(f"{path}.*", set())
                continue
            shape(item, f"{path}.{key}", out)
    elif isinstance(value, list):
        for item in value:
            shape(item, f"{path}[]", out)
    return out


async def test_json_shapes_of_the_commands(client: Any) -> None:
    from tests.unit.cli.snapshot import check

    created = await submit(client, [upscale(1.05), comfy_graph("invalid_missing_image")], name="shapes")
    job_id = str(created["id"])
    await wait_job(client, created["id"], {"failed"})
    lines = []
    # paused around retry/cancel, so the retried prompt is still pending when it is canceled
    for argv in (["health"], ["list", "--search", "shapes"], ["status", job_id], ["log", job_id], ["pause"],
                 ["retry", job_id], ["cancel", job_id], ["resume"]):
        r = await vq(client, *argv, "--json")
        assert r.code == 0, (argv, r.err)
        lines.append(f"## vq {argv[0]} --json")
        lines += [f"{path}: {' | '.join(sorted(kinds))}" for path, kinds in sorted(shape(r.json()).items())]
    check("json-shapes.txt", "\n".join(lines) + "\n")


# --- workflow submits: API, CLI online, CLI offline ------------------------------------------------------


def images(folder: Any, count: int = 3) -> Any:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        Image.new("RGB", (32 + 2 * i, 24), (40 * i, 90, 160)).save(folder / f"img{i + 1}.png")
    return folder


@pytest.fixture
def stills(comfy: Any) -> Any:
    from pathlib import Path

    return images(Path(comfy.paths.input_directory) / "stills")


# Per job: what must match across the three ways in (ids, times, progress excluded).
JOB_KEYS = ("name", "workflow", "mode", "priority", "total", "params", "source", "status")
PROMPT_KEYS = ("index", "input_file", "staged_name", "try_index", "seed", "params", "max_attempts", "status")
SEED_INPUTS = ("seed", "noise_seed")


def comparable(job: dict[str, Any], *, random_seeds: bool) -> dict[str, Any]:
    """The persisted job minus ids and timestamps (and, with random seeds, the seeds)."""
    out = {k: job[k] for k in JOB_KEYS}
    out["options"] = {k: v for k, v in job["options"].items()}
    prompts = []
    for p in job["prompts"]:
        entry = {k: p[k] for k in PROMPT_KEYS}
        if random_seeds:
            entry["seed"] = None
            entry["params"] = {k: v for k, v in (p["params"] or {}).items() if k != "seed"}
        prompts.append(entry)
    out["prompts"] = prompts
    return out


def comparable_graph(graph: dict[str, Any], *, random_seeds: bool) -> dict[str, Any]:
    if not random_seeds:
        return graph
    return {nid: {**node, "inputs": {k: (None if k in SEED_INPUTS else v) for k, v in node["inputs"].items()}}
            for nid, node in graph.items()}


async def graphs_of(client: Any, job: dict[str, Any]) -> list[dict[str, Any]]:
    return [(await (await client.get(f"/api/vq/v1/prompts/{p['id']}")).json())["graph"] for p in job["prompts"]]


@pytest.mark.parametrize("random_seeds", [False, True], ids=["fixed-seed", "random-seeds"])
async def test_the_same_submit_via_api_cli_and_cli_offline_persists_the_same_job(
        client: Any, plugin: Any, stills: Any, random_seeds: bool) -> None:
    seed_args = ["--random-seed"] if random_seeds else ["--seed", "7"]
    seed_body = {"randomize_seed": True} if random_seeds else {"seed": 7}
    await plugin.jobs.pause()  # everything stays pending, so the three are compared as persisted
    body = {"workflow": "smoke-image", "input": str(stills), "params": {"scale_by": 2.0, "noise_strength": 0.25},
            "tries": 2, "name": "parity", "priority": 3, **seed_body}
    via_api = await submit_body(client, body)
    argv = ["submit", "smoke-image", str(stills), "-p", "scale_by=2", "-p", "noise_strength=0.25", "--tries", "2",
            "--name", "parity", "--priority", "3", *seed_args, "--json"]
    online = await vq(client, *argv)
    assert online.code == 0, online.err
    offline = await vq(client, *argv, "--offline", "--data-dir", str(plugin.dirs.data))
    assert offline.code == 0, offline.err
    assert "checks (installed models, node inputs) were skipped" in offline.err
    jobs = [await job(client, j["id"]) for j in (via_api, online.json(), offline.json())]
    assert len({j["id"] for j in jobs}) == 3
    expected = comparable(jobs[0], random_seeds=random_seeds)
    assert expected["total"] == 6 and expected["status"] == "pending"
    for other in jobs[1:]:
        assert comparable(other, random_seeds=random_seeds) == expected
    graphs = [[comparable_graph(g, random_seeds=random_seeds) for g in await graphs_of(client, j)] for j in jobs]
    assert graphs[1] == graphs[0] and graphs[2] == graphs[0]
    if random_seeds:
        seeds = [p["seed"] for j in jobs for p in j["prompts"]]
        assert len(set(seeds)) == len(seeds), "every prompt draws its own seed"
    await plugin.jobs.resume()
    for j in jobs:  # and the dispatcher runs all three, the offline one included
        done = await wait_job(client, j["id"], {"succeeded", "failed"}, timeout=20)
        assert done["status"] == "succeeded", done["prompts"][0]["error"]


async def submit_body(client: Any, body: dict[str, Any]) -> dict[str, Any]:
    resp = await client.post("/api/vq/v1/jobs", json=body)
    answer = await resp.json()
    assert resp.status == 201, answer
    return answer


async def test_dry_run_via_api_and_cli_plan_the_same_prompts(client: Any, stills: Any) -> None:
    api = await (await client.post("/api/vq/v1/jobs", json={
        "workflow": "smoke-image", "input": str(stills), "tries": 2, "seed": 5, "dry_run": True})).json()
    r = await vq(client, "submit", "smoke-image", str(stills), "--tries", "2", "--seed", "5", "--dry-run", "--json")
    assert r.code == 0 and r.json() == api
    human = await vq(client, "submit", "smoke-image", str(stills), "--tries", "2", "--seed", "5", "--dry-run")
    assert human.out.startswith("Dry run: job ") and "would queue 6 prompts; nothing was queued." in human.out
    assert f"{stills}/img1.png    2     6" in human.out  # try 2 (tries count from 1) has seed + 1
    verbose = await vq(client, "submit", "smoke-image", str(stills), "--dry-run", "-v")
    assert '"class_type": "LoadImage"' in verbose.out
    assert (await (await client.get("/api/vq/v1/jobs")).json())["total"] == 0


async def test_submit_wait_shows_progress_and_exits_0(client: Any, stills: Any) -> None:
    r = await vq(client, "submit", "smoke-image", str(stills), "--wait", "--interval", "0.05")
    assert r.code == 0, r.err
    assert r.out.startswith("Queued job ") and r.out.splitlines()[-1].startswith("✓ job ")
    assert "#1 succeeded" in r.out


async def test_a_bad_parameter_exits_2_and_queues_nothing(client: Any, stills: Any) -> None:
    for argv, message in ((["-p", "scale_by=99"], "--param scale_by: 99.0 is above the maximum 8"),
                          (["-p", "scale_by"], "--param 'scale_by': expected NAME=VALUE"),
                          (["-p", "sacle_by=2"], "did you mean scale_by?")):
        r = await vq(client, "submit", "smoke-image", str(stills), *argv)
        assert r.code == 2 and message in r.err, r.err
    r = await vq(client, "submit", "smoke-image", "/etc")  # outside the allowed roots: the server's 403
    assert r.code == 1 and "allowed" in r.err
    assert (await (await client.get("/api/vq/v1/jobs")).json())["total"] == 0


async def test_workflows_list_and_describe(client: Any) -> None:
    r = await vq(client, "workflows")
    assert r.code == 0 and any(line.split()[:2] == ["smoke-image", "image_upscale"] for line in r.out.splitlines())
    r = await vq(client, "workflows", "wan-i2v-nstage")
    assert r.code == 0 and "positive_prompt_stage{k}" in r.out and "stages: stages 1–8" in r.out
    assert (await vq(client, "workflows", "nope")).code == 1


async def test_offline_auto_falls_back_when_comfyui_is_unreachable(client: Any, plugin: Any, stills: Any) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    r = await vq(client, "submit", "smoke-image", str(stills), "--offline=auto", "--data-dir", str(plugin.dirs.data),
                 "--json", url=url)
    assert r.code == 0, r.err
    assert "not reachable" in r.err and "--offline=auto" in r.err
    done = await wait_job(client, r.json()["id"], {"succeeded", "failed"}, timeout=20)
    assert done["status"] == "succeeded" and done["total"] == 3


async def test_cleanup_dry_run_and_apply(client: Any, stills: Any) -> None:
    r = await vq(client, "submit", "smoke-image", str(stills), "--wait", "--interval", "0.05")
    assert r.code == 0, r.err
    api = await (await client.post("/api/vq/v1/staging/cleanup", json={"apply": False})).json()
    dry = await vq(client, "cleanup", "--json")
    assert dry.code == 0 and dry.json() == api and api["dry_run"] is True
    human = await vq(client, "cleanup")
    assert human.code == 0 and "Would remove" in human.out and "retention" in human.out
    applied = await vq(client, "cleanup", "--apply", "--json")
    assert applied.code == 0 and applied.json()["dry_run"] is False
