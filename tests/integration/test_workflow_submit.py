"""Workflow submits end to end on the fake ComfyUI: folders, staging, preflight, errors,
per-file prompts, `_processed`."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.integration.helpers import wait_job

pytestmark = pytest.mark.parametrize("profile", ["0.8.0"], indirect=True)


def images(folder: Path, count: int = 5) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        Image.new("RGB", (32 + 2 * i, 24), (40 * i, 90, 160)).save(folder / f"img{i + 1}.png")
    return folder


async def post(client: Any, body: dict[str, Any], status: int) -> dict[str, Any]:
    resp = await client.post("/api/vq/v1/jobs", json=body)
    answer = await resp.json()
    assert resp.status == status, answer
    return answer


async def total_jobs(client: Any) -> int:
    return (await (await client.get("/api/vq/v1/jobs")).json())["total"]


@pytest.fixture
def batch(comfy: Any) -> Path:
    return images(Path(comfy.paths.input_directory) / "batch")


async def test_smoke_image_on_a_folder_runs_every_file(client: Any, comfy: Any, batch: Path) -> None:
    created = await post(client, {"workflow": "smoke-image", "input": str(batch), "seed": 7}, 201)
    assert created["workflow"] == "smoke-image" and created["total"] == 5
    assert created["params"]["scale_by"] == 1.5
    done = await wait_job(client, created["id"], {"succeeded", "failed"})
    assert done["status"] == "succeeded", done["prompts"][0]["error"]
    for i, prompt in enumerate(done["prompts"]):
        assert prompt["input_file"] == str(batch / f"img{i + 1}.png")
        assert prompt["staged_name"].startswith("vq/staged/") and prompt["seed"] == 7
        assert len(prompt["outputs"]) == 1 and Path(prompt["outputs"][0]["path"]).is_file()
    graph = (await (await client.get(f"/api/vq/v1/prompts/{done['prompts'][0]['id']}")).json())["graph"]
    assert graph["1"]["inputs"]["image"] == done["prompts"][0]["staged_name"]
    assert done["source"] == {"kind": "folder", "folder": str(batch), "files": 5}


async def test_tries_fan_out_with_fresh_random_seeds(client: Any, batch: Path) -> None:
    created = await post(client, {"workflow": "smoke-image", "input": str(batch / "img1.png"), "tries": 3}, 201)
    prompts = created["prompts"]
    assert [p["try_index"] for p in prompts] == [0, 1, 2]
    assert len({p["seed"] for p in prompts}) == 3


async def test_dry_run_lists_prompts_and_queues_nothing(client: Any, comfy: Any, batch: Path) -> None:
    answer = await post(client, {"workflow": "smoke-image", "input": str(batch), "tries": 2, "seed": 1,
                                 "dry_run": True}, 200)
    assert answer["dry_run"] is True and answer["total"] == 10
    assert [(p["input_file"].rsplit("/", 1)[1], p["try_index"], p["seed"]) for p in answer["prompts"][:3]] == [
        ("img1.png", 0, 1), ("img1.png", 1, 2), ("img2.png", 0, 1)]
    assert answer["prompts"][0]["graph"]["1"]["inputs"]["image"].startswith("vq/staged/")
    assert await total_jobs(client) == 0
    assert not (Path(comfy.paths.input_directory) / "vq" / "staged").exists(), "a dry run stages nothing"


async def test_missing_models_refuse_the_submit_at_once(client: Any, comfy: Any, batch: Path) -> None:
    body = {"workflow": "wan-i2v", "input": str(batch), "params": {"positive_prompt": "she turns and smiles"}}
    err = (await post(client, body, 400))["error"]
    assert err["code"] == "missing_models", err
    folders = {m["folder"] for m in err["details"]["missing"]}
    assert {"diffusion_models", "loras", "text_encoders", "vae"} <= folders
    assert "wan2.2" in err["message"].lower() or ".safetensors" in err["message"]
    assert await total_jobs(client) == 0
    staged = Path(comfy.paths.input_directory) / "vq" / "staged"
    assert not staged.exists() or not any(p.is_file() for p in staged.rglob("*")), "no orphan staged files"


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({"workflow": "nope"}, 404, "smoke-image"),
        ({"workflow": "smoke-image"}, 400, "needs an input"),
        ({"workflow": "smoke-image", "input": "{input}/missing"}, 400, "not found"),
        ({"workflow": "smoke-image", "input": "{input}/empty"}, 400, ".png"),
        ({"workflow": "smoke-image", "input": "{input}/batch", "params": {"scale_by": "big"}}, 400, "scale_by"),
        ({"workflow": "smoke-image", "input": "{input}/batch", "params": {"scale_by": 99}}, 400, "scale_by"),
        ({"workflow": "smoke-image", "input": "{input}/batch", "params": {"nonsense": 1}}, 400, "nonsense"),
        ({"workflow": "smoke-video", "input": "{input}/batch", "per_file_params": {"other.png": {
            "positive_prompt": "x"}}}, 400, "not in this batch"),
        ({"workflow": "smoke-video", "input": "{input}/batch", "prompt_mode": "manual", "per_file_params": {
            "img1.png": {"positive_prompt": "x"}}}, 400, "prompt"),
        ({"workflow": "smoke-image", "input": "/etc"}, 403, "VQ_ALLOWED_ROOTS"),
        ({"workflow": "smoke-image", "input": "{input}/batch/../../../../etc"}, 403, "Allowed roots"),
        ({"workflow": "smoke-image", "graphs": [{}]}, 400, "not both"),
        ({"graphs": [{"1": {"class_type": "X", "inputs": {}}}], "tries": 2}, 400, "workflow submits"),
    ],
)
async def test_bad_submits_say_what_is_wrong_and_queue_nothing(
    client: Any, comfy: Any, batch: Path, body: dict[str, Any], status: int, says: str
) -> None:
    (Path(comfy.paths.input_directory) / "empty").mkdir()
    if isinstance(body.get("input"), str):
        body = {**body, "input": body["input"].format(input=comfy.paths.input_directory)}
    err = (await post(client, body, status))["error"]
    assert says in err["message"], err
    assert await total_jobs(client) == 0


async def test_per_file_prompts_reach_only_their_file(client: Any, batch: Path) -> None:
    body = {"workflow": "smoke-video", "input": str(batch), "seed": 3, "dry_run": True,
            "params": {"positive_prompt": "shared"},
            "per_file_params": {"img2.png": {"positive_prompt": "only two"}}}
    answer = await post(client, body, 200)
    prompts = {p["input_file"].rsplit("/", 1)[1]: p["params"]["positive_prompt"] for p in answer["prompts"]}
    assert prompts == {"img1.png": "shared", "img2.png": "only two", "img3.png": "shared",
                       "img4.png": "shared", "img5.png": "shared"}


async def test_deleting_the_source_folder_after_submit_fails_nothing(client: Any, comfy: Any, batch: Path,
                                                                     plugin: Any) -> None:
    await plugin.jobs.pause()
    created = await post(client, {"workflow": "smoke-image", "input": str(batch)}, 201)
    shutil.rmtree(batch)
    await plugin.jobs.resume()
    done = await wait_job(client, created["id"], {"succeeded", "failed"})
    assert done["status"] == "succeeded"


async def test_a_staged_file_gone_at_dispatch_fails_only_its_prompt(client: Any, comfy: Any, batch: Path,
                                                                    plugin: Any) -> None:
    await plugin.jobs.pause()
    created = await post(client, {"workflow": "smoke-image", "input": str(batch)}, 201)
    victim = created["prompts"][2]
    (Path(comfy.paths.input_directory) / victim["staged_name"]).unlink()
    await plugin.jobs.resume()
    done = await wait_job(client, created["id"], {"succeeded", "failed"})
    statuses = [p["status"] for p in done["prompts"]]
    assert statuses == ["succeeded", "succeeded", "failed", "succeeded", "succeeded"]
    error = done["prompts"][2]["error"]
    assert error["type"] == "missing_input" and "img3.png" in error["message"]


async def test_move_processed_after_full_success(client: Any, batch: Path) -> None:
    created = await post(client, {"workflow": "smoke-image", "input": str(batch), "move_processed": True}, 201)
    await wait_job(client, created["id"], {"succeeded"})

    async def moved() -> bool:
        return sorted(p.name for p in (batch / "_processed").glob("*.png")) == [f"img{i}.png" for i in range(1, 6)]

    from tests.integration.helpers import wait_for

    await wait_for(moved, what="sources moved to _processed")
    assert not list(batch.glob("*.png"))

    async def logged() -> bool:
        log = await (await client.get(f"/api/vq/v1/jobs/{created['id']}/log")).json()
        return sum(e["event"] == "processed" for e in log["entries"]) == 5

    await wait_for(logged, what="one log line per moved file")


async def test_no_move_when_a_prompt_failed(client: Any, comfy: Any, batch: Path, plugin: Any) -> None:
    await plugin.jobs.pause()
    created = await post(client, {"workflow": "smoke-image", "input": str(batch), "move_processed": True}, 201)
    (Path(comfy.paths.input_directory) / created["prompts"][0]["staged_name"]).unlink()
    await plugin.jobs.resume()
    done = await wait_job(client, created["id"], {"failed", "succeeded"})
    assert done["status"] == "failed"
    assert not (batch / "_processed").exists() and len(list(batch.glob("*.png"))) == 5


async def test_workflow_routes(client: Any) -> None:
    listing = await (await client.get("/api/vq/v1/workflows")).json()
    names = {w["name"] for w in listing["workflows"]}
    assert {"wan-i2v", "smoke-image", "smoke-video", "image-upscale", "t2i"} <= names
    assert listing["problems"] == []
    described = await (await client.get("/api/vq/v1/workflows/smoke-image")).json()
    assert {p["name"] for p in described["params"]} >= {"seed", "scale_by"}
    resp = await client.get("/api/vq/v1/workflows/nope")
    assert resp.status == 404 and "smoke-image" in (await resp.json())["error"]["message"]
    reloaded = await (await client.post("/api/vq/v1/workflows/reload")).json()
    assert "wan-i2v" in reloaded["workflows"]
