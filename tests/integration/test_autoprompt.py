"""Auto-prompt through the plugin in the fake ComfyUI, with the fake LM Studio on another
loopback port: each stage, validation errors, the 503 contract, runs with progress and
cancel, and normal submits unaffected while LM Studio is down. Real answers are checked
against the OpenAPI document."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.fixtures.fake_lmstudio import FakeLmStudio, FakeModel, fingerprint
from tests.fixtures.fakecomfy import FakeComfy
from tests.integration.helpers import submit, upscale, wait_for, wait_job
from tests.integration.test_openapi import Checker, call
from vq_extension.api.openapi import build_document
from vq_extension.autoprompt.prompts import motion_system
from vq_extension.routes import SPECS

API = "/api/vq/v1"
SPLIT = "wan-context-3stage-split-prompts"


@pytest.fixture
def profile() -> str:
    return "0.8.0"  # auto-prompt does not touch ComfyUI


@pytest.fixture
async def lmstudio() -> AsyncIterator[tuple[FakeLmStudio, str]]:
    fake = FakeLmStudio()
    url = await fake.start()
    yield fake, url
    await fake.stop()


@pytest.fixture
def fast_settings(monkeypatch: pytest.MonkeyPatch, lmstudio: tuple[FakeLmStudio, str]) -> None:
    """The plugin reads settings at load: point it at the fake LM Studio (and poll fast)."""
    from tests.integration.conftest import FAST_SETTINGS

    for name, value in {**FAST_SETTINGS, "VQ_LMSTUDIO_URL": lmstudio[1],
                        "VQ_AUTOPROMPT_TIMEOUT_SECONDS": "5"}.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def fake(lmstudio: tuple[FakeLmStudio, str]) -> FakeLmStudio:
    return lmstudio[0]


@pytest.fixture(scope="module")
def checker() -> Checker:
    return Checker(build_document(SPECS))


def stills(comfy: FakeComfy, count: int = 3, folder: str = "stills") -> list[str]:
    """Solid colours, so the fake's caption names which image it saw."""
    base = Path(comfy.paths.get_input_directory()) / folder
    base.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = base / f"still{i}.png"
        Image.new("RGB", (40 + i, 30), (i * 60, 100, 200)).save(path)
        paths.append(str(path))
    return paths


def has_image(chat: dict[str, Any]) -> bool:
    return any(isinstance(m["content"], list) for m in chat["messages"])


async def test_both_stages_then_all_from_the_cache(client: Any, comfy: FakeComfy, fake: FakeLmStudio,
                                                   checker: Checker) -> None:
    paths = stills(comfy)
    body = {"image_paths": paths, "workflow_name": "wan-i2v"}
    answer = await call(client, checker, "POST", "/autoprompt", 200, json=body)
    assert (answer["stage"], answer["clips"], answer["cache_hits"]) == ("both", 1, {"caption": 0, "motion": 0})
    assert answer["stage1_model"] == "qwen3-vl-8b-nsfw-caption-v4.5"
    first = answer["results"][0]
    assert first["path"] == paths[0] and first["caption"].startswith("caption of a 40x30 #0064c8 image")
    assert first["motion_prompt"] == (f"motion for caption {fingerprint(first['caption'])} "
                                      f"[sys {fingerprint(motion_system(None, 1))}]")
    assert "0s, 1.5s, 3s" in fake.chats[3]["messages"][1]["content"]  # wan-i2v: 81 frames at 24 fps
    again = await call(client, checker, "POST", "/autoprompt", 200, json=body)
    assert again["cache_hits"] == {"caption": 3, "motion": 3} and len(fake.chats) == 6  # the database cache
    assert again["results"] == answer["results"]


async def test_caption_then_motion_only_from_captions(client: Any, comfy: FakeComfy, fake: FakeLmStudio,
                                                      checker: Checker) -> None:
    paths = stills(comfy, 2)
    captions = await call(client, checker, "POST", "/autoprompt", 200,
                          json={"image_paths": paths, "workflow_name": SPLIT, "stage": "caption"})
    assert captions["stage2_model"] is None and all("motion_prompt" not in r for r in captions["results"])
    by_path = {r["path"]: r["caption"] for r in captions["results"]}
    by_path[paths[1]] = "A dog sits on a porch."  # an edited caption
    motion = await call(client, checker, "POST", "/autoprompt", 200, json={
        "image_paths": paths, "workflow_name": SPLIT, "stage": "motion", "captions": by_path,
        "system_prompt_override": "Only the wind moves."})
    assert [has_image(c) for c in fake.chats] == [True, True, False, False]
    assert motion["stage1_model"] is None and motion["clips"] == 3
    clips = motion["results"][1]["clip_prompts"]
    assert len(clips) == 3 and fingerprint("A dog sits on a porch.") in clips[0]
    assert fake.chats[2]["messages"][0]["content"] == motion_system("Only the wind moves.", 3)


async def test_params_change_the_timing(client: Any, comfy: FakeComfy, fake: FakeLmStudio) -> None:
    resp = await client.post(f"{API}/autoprompt", json={
        "image_paths": stills(comfy, 1), "workflow_name": "wan-i2v-nstage", "stage": "motion",
        "captions": {stills(comfy, 1)[0]: "A cat."}, "params": {"stages": 2, "fps": 16}})
    body = await resp.json()
    assert resp.status == 200, body
    assert len(body["results"][0]["clip_prompts"]) == 2
    assert "0s, 2.5s, 5s" in fake.chats[0]["messages"][1]["content"]


@pytest.mark.parametrize("body, status, code, text", [
    ({"workflow_name": "wan-i2v", "stage": "motion"}, 400, "invalid_request", "captions are required"),
    ({"workflow_name": "nope"}, 404, "not_found", "no workflow named 'nope'"),
    ({"workflow_name": "t2i", "stage": "both"}, 400, "invalid_request", "declares no timing"),
    ({"workflow_name": "wan-i2v", "params": {"fps": "fast"}}, 400, "invalid_request", "params.fps"),
    ({"workflow_name": "wan-i2v", "lmstudio_url": "http://evil:1234"}, 400, "invalid_request", "lmstudio_url"),
])
async def test_validation_errors(client: Any, comfy: FakeComfy, fake: FakeLmStudio, checker: Checker,
                                 body: dict[str, Any], status: int, code: str, text: str) -> None:
    answer = await call(client, checker, "POST", "/autoprompt", status,
                        json={"image_paths": stills(comfy, 1), **body})
    assert answer["error"]["code"] == code and text in answer["error"]["message"]
    assert fake.chats == []


async def test_paths_outside_the_roots_and_missing_images(client: Any, comfy: FakeComfy, fake: FakeLmStudio,
                                                          checker: Checker, tmp_path: Path) -> None:
    outside = tmp_path / "outside.png"
    Image.new("RGB", (8, 8)).save(outside)
    forbidden = await call(client, checker, "POST", "/autoprompt", 403,
                           json={"image_paths": [str(outside)], "workflow_name": "wan-i2v"})
    assert forbidden["error"]["code"] == "path_not_allowed"
    missing = str(Path(comfy.paths.get_input_directory()) / "gone.png")
    await call(client, checker, "POST", "/autoprompt", 404, json={"image_paths": [missing], "workflow_name": "wan-i2v"})
    too_many = await call(client, checker, "POST", "/autoprompt", 400,
                          json={"image_paths": stills(comfy, 21), "workflow_name": "wan-i2v"})
    assert "start a run" in too_many["error"]["message"]
    assert fake.chats == []


async def test_lm_studio_down_is_503_with_a_hint_and_nothing_else_breaks(
        client: Any, comfy: FakeComfy, fake: FakeLmStudio, checker: Checker) -> None:
    await fake.stop()
    paths = stills(comfy, 3)
    for route in ("/autoprompt", "/autoprompt/runs"):
        answer = await call(client, checker, "POST", route, 503, json={"image_paths": paths, "workflow_name": "wan-i2v"})
        error = answer["error"]
        assert error["code"] == "autoprompt_unavailable" and "not reachable" in error["message"]
        assert "lms server start" in error["hint"] and error["details"] == {"stage": "caption"}
    status = await call(client, checker, "GET", "/autoprompt/status", 200)
    assert status["reachable"] is False and status["stages"]["motion"]["available"] is False
    assert status["stages"]["caption"]["hint"]
    health = await (await client.get(f"{API}/health")).json()
    assert health["ok"] and health["settings"]["autoprompt_timeout_seconds"] == 5
    job = await submit(client, [upscale(1.25)])
    assert (await wait_job(client, job["id"], {"succeeded", "failed"}))["status"] == "succeeded"


async def test_missing_stage_model_is_503_naming_it(client: Any, comfy: FakeComfy, fake: FakeLmStudio,
                                                    checker: Checker) -> None:
    fake.models = [FakeModel("qwen3-vl-8b-nsfw-caption-v4.5", "vlm")]
    answer = await call(client, checker, "POST", "/autoprompt", 503, json={
        "image_paths": stills(comfy, 1), "workflow_name": "wan-i2v"})
    assert answer["error"]["hint"].startswith("Start LM Studio and load Dolphin-Mistral-24B-Venice-Edition")
    status = await call(client, checker, "GET", "/autoprompt/status", 200)
    assert status["stages"]["caption"]["available"] and not status["stages"]["motion"]["available"]


async def test_run_reports_progress_per_image_and_ends_with_the_result(
        client: Any, comfy: FakeComfy, checker: Checker) -> None:
    paths = stills(comfy, 3)
    started = await call(client, checker, "POST", "/autoprompt/runs", 202,
                         json={"image_paths": paths, "workflow_name": SPLIT})
    assert started["status"] == "running" and started["progress"] == {"caption": {"done": 0, "total": 3},
                                                                       "motion": {"done": 0, "total": 3}}
    ids = {"run_id": started["id"]}

    async def finished() -> dict[str, Any] | None:
        run = await (await client.get(f"{API}/autoprompt/runs/{started['id']}")).json()
        return run if run["status"] != "running" else None

    await wait_for(finished, what="the run to end")
    run = await call(client, checker, "GET", "/autoprompt/runs/{run_id}", 200, ids=ids)
    assert run["status"] == "succeeded" and run["current_stage"] is None and run["finished_at"]
    assert run["progress"] == {"caption": {"done": 3, "total": 3}, "motion": {"done": 3, "total": 3}}
    assert [len(r["clip_prompts"]) for r in run["result"]["results"]] == [3, 3, 3]
    events = [d for e, d, _sid in comfy.sent if e == "vq.autoprompt" and d["run_id"] == started["id"]]
    assert [(e["stage"], e["path"], e["index"]) for e in events[:-1]] == \
           [("caption", p, i) for i, p in enumerate(paths, 1)] + [("motion", p, i) for i, p in enumerate(paths, 1)]
    assert events[-1] == {"run_id": started["id"], "status": "succeeded", "error": None}
    again = await call(client, checker, "POST", "/autoprompt/runs/{run_id}/cancel", 200, ids=ids)
    assert again["status"] == "succeeded"  # a finished run stays as it was
    await call(client, checker, "GET", "/autoprompt/runs/{run_id}", 404, ids={"run_id": 999})


async def test_cancel_stops_a_run_at_its_current_request(client: Any, comfy: FakeComfy, fake: FakeLmStudio,
                                                        checker: Checker) -> None:
    fake.script("ok", "timeout")  # the second caption hangs until released
    started = await call(client, checker, "POST", "/autoprompt/runs", 202,
                         json={"image_paths": stills(comfy, 3), "workflow_name": "wan-i2v"})
    await wait_for(lambda: len(fake.chats) == 2, what="the second request to reach LM Studio")
    canceled = await call(client, checker, "POST", "/autoprompt/runs/{run_id}/cancel", 200,
                          ids={"run_id": started["id"]})
    assert canceled["status"] == "canceled" and canceled["progress"]["caption"]["done"] == 1
    fake.release.set()
    assert len(fake.chats) == 2  # nothing more was sent


async def test_a_failed_run_carries_the_error_and_hint(client: Any, comfy: FakeComfy, fake: FakeLmStudio,
                                                       checker: Checker) -> None:
    fake.script("ok", "no_model_object")
    started = await call(client, checker, "POST", "/autoprompt/runs", 202,
                         json={"image_paths": stills(comfy, 2), "workflow_name": "wan-i2v"})

    async def ended() -> dict[str, Any] | None:
        run = await (await client.get(f"{API}/autoprompt/runs/{started['id']}")).json()
        return run if run["status"] != "running" else None

    run = await wait_for(ended, what="the run to fail")
    checker.check("GET", "/autoprompt/runs/{run_id}", 200, run)
    assert run["status"] == "failed" and run["result"] is None
    assert run["error"]["code"] == "autoprompt_unavailable" and run["error"]["status"] == 503
    assert run["error"]["hint"].startswith("Start LM Studio and load") and run["error"]["stage"] == "caption"


async def test_per_image_errors_do_not_stop_the_batch(client: Any, comfy: FakeComfy, checker: Checker) -> None:
    bad = comfy.make_corrupt("not-really.png")
    answer = await call(client, checker, "POST", "/autoprompt", 200,
                        json={"image_paths": [str(bad), *stills(comfy, 1)], "workflow_name": "wan-i2v"})
    assert answer["results"][0]["error"]["code"] == "invalid_image"
    assert answer["results"][1]["motion_prompt"]


@pytest.mark.parametrize("workflow, clips", [("wan-i2v", 1), ("wan-context-2stage-split-prompts", 2)])
async def test_cli_review_edit_and_submit_carries_the_reviewed_prompts(
        client: Any, comfy: FakeComfy, fake: FakeLmStudio, tmp_path: Path, workflow: str, clips: int) -> None:
    """A 20-image folder: vq autoprompt captions it, a stage-2 rerun from the captions file
    writes the prompts, one is edited, and the job submitted with them queues exactly those."""
    from tests.integration.test_cli_parity import vq

    paths = stills(comfy, 20, folder=f"batch-{clips}")
    folder = str(Path(paths[0]).parent)
    captions = tmp_path / "captions.json"
    first = await vq(client, "autoprompt", folder, "--workflow", workflow, "--stage", "caption",
                     "--out", str(captions), "--interval", "0.05")
    assert first.code == 0, first.err
    review = tmp_path / "review.json"
    second = await vq(client, "autoprompt", "--workflow", workflow, "--stage", "motion",
                      "--captions-file", str(captions), "--out", str(review), "--interval", "0.05")
    assert second.code == 0, second.err
    assert sum(has_image(c) for c in fake.chats) == 20 and len(fake.chats) == 40
    files = json.loads(review.read_text())["files"]
    names = ["positive_prompt"] if clips == 1 else [f"positive_prompt_stage{k}" for k in range(1, clips + 1)]
    per_file = {}
    for path, entry in files.items():
        prompts = [entry["motion_prompt"]] if clips == 1 else entry["clip_prompts"]
        per_file[path] = dict(zip(names, prompts, strict=True))
    per_file[paths[4]][names[-1]] = "EDITED: the camera slowly pulls back."
    body = {"workflow": workflow, "input": folder, "per_file_params": per_file}
    await client.post(f"{API}/queue/pause")  # queued, not run: the fake ComfyUI has no WAN nodes to run
    resp = await client.post(f"{API}/jobs", json=body)
    if resp.status == 400:  # the fake ComfyUI has no WAN model files: add what the check names
        for model in (await resp.json())["error"]["details"]["missing"]:
            comfy.add_model(model["folder"], model["name"])
        resp = await client.post(f"{API}/jobs", json=body)
    created = await resp.json()
    assert resp.status == 201, created
    detail = await (await client.get(f"{API}/jobs/{created['id']}")).json()
    queued = {p["input_file"]: {n: p["params"][n] for n in names} for p in detail["prompts"]}
    assert queued == per_file and len(queued) == 20
