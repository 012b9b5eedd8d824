"""The queue against a real ComfyUI (VQ_COMFYUI_DIR): model-free graphs that really run on
the CPU. Skipped unless a checkout is configured (see docs/real-comfyui.md)."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path
from typing import Any

from PIL import Image

from tests.helpers import comfy_graph

API = "/api/vq/v1"


def png(color: tuple[int, int, int] = (30, 120, 200), size: tuple[int, int] = (64, 48)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


def upscale(scale: float, prefix: str) -> dict[str, Any]:
    graph = comfy_graph("upscale")
    graph["2"]["inputs"]["scale_by"] = scale
    graph["3"]["inputs"]["filename_prefix"] = prefix
    return graph


def wait_job(comfy: Any, job_id: int, statuses: set[str], timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        detail = comfy.get_json(f"{API}/jobs/{job_id}")
        if detail["status"] in statuses:
            return detail
        assert time.monotonic() < deadline, json.dumps(detail["counts"])
        time.sleep(0.2)


def wait_prompt(comfy: Any, prompt_id: int, statuses: set[str], timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        detail = comfy.get_json(f"{API}/prompts/{prompt_id}")
        if detail["status"] in statuses:
            return detail
        assert time.monotonic() < deadline, detail["status"]
        time.sleep(0.1)


def test_health_reports_strategies(real_comfy: Any) -> None:
    health = real_comfy.get_json(f"{API}/health")
    assert health["ok"] is True and health["comfyui_version"]
    assert health["strategies"]["submit"] == "post_prompt_handler"
    assert health["db"]["path"].endswith("__video_queue/vq.sqlite3")


def test_ten_model_free_prompts_succeed_with_outputs_on_disk(real_comfy: Any) -> None:
    real_comfy.upload("vq_smoke.png", png())
    graphs = [upscale(1 + i / 20, f"vq_real/ten_{i:02d}") for i in range(10)]
    created = real_comfy.post_json(f"{API}/jobs", {"name": "real ten", "graphs": graphs}, expect=201)
    done = wait_job(real_comfy, created["id"], {"succeeded", "failed", "canceled"})
    assert done["status"] == "succeeded", [p["error"] for p in done["prompts"]]
    for prompt in done["prompts"]:
        (output,) = prompt["outputs"]
        assert output["kind"] == "image" and Path(output["path"]).is_file()
        status, body = real_comfy.get(output["url"])
        assert status == 200 and body[:8] == b"\x89PNG\r\n\x1a\n"


def test_cancel_running_prompt_leaves_a_ui_prompt_alone(real_comfy: Any) -> None:
    real_comfy.upload("vq_smoke.png", png())
    slow = comfy_graph("interrupt_slow")
    created = real_comfy.post_json(f"{API}/jobs", {"name": "to cancel", "graphs": [slow]}, expect=201)
    prompt = created["prompts"][0]
    wait_prompt(real_comfy, prompt["id"], {"running"})
    # A user queues their own prompt from ComfyUI's UI while ours runs.
    ui = real_comfy.post_json("/prompt", {"prompt": upscale(1.37, "vq_real/ui_keep"), "client_id": "ui-tab"})
    real_comfy.post_json(f"{API}/prompts/{prompt['id']}/cancel", {})
    done = wait_prompt(real_comfy, prompt["id"], {"canceled", "failed", "succeeded"})
    assert done["status"] == "canceled"
    deadline = time.monotonic() + 60
    while not (history := real_comfy.get_json(f"/history/{ui['prompt_id']}")):
        assert time.monotonic() < deadline, "the UI prompt never finished"
        time.sleep(0.2)
    assert history[ui["prompt_id"]]["status"]["status_str"] == "success"


def test_smoke_workflows_on_a_folder_of_five_images(real_comfy: Any) -> None:
    folder = real_comfy.input_dir / "real_batch"
    folder.mkdir(exist_ok=True)
    for i in range(5):
        (folder / f"shot{i + 1}.png").write_bytes(png((50 * i, 100, 150), (64 + 2 * i, 48)))
    for workflow, kind in (("smoke-image", "image"), ("smoke-video", "video")):
        created = real_comfy.post_json(f"{API}/jobs", {"workflow": workflow, "input": str(folder)}, expect=201)
        done = wait_job(real_comfy, created["id"], {"succeeded", "failed", "canceled"}, timeout=180)
        assert done["status"] == "succeeded", [p["error"] for p in done["prompts"]]
        assert len(done["prompts"]) == 5
        for prompt in done["prompts"]:
            (output,) = [o for o in prompt["outputs"] if o["kind"] == kind]
            assert Path(output["path"]).stat().st_size > 0


def test_wan_without_models_is_refused_naming_the_files(real_comfy: Any) -> None:
    folder = real_comfy.input_dir / "wan_batch"
    folder.mkdir(exist_ok=True)
    (folder / "a.png").write_bytes(png())
    before = real_comfy.get_json(f"{API}/jobs")["total"]
    status, body = real_comfy.post(
        f"{API}/jobs", json.dumps({"workflow": "wan-i2v", "input": str(folder),
                                   "params": {"positive_prompt": "she smiles"}}).encode(),
        headers={"Content-Type": "application/json"})
    error = json.loads(body)["error"]
    assert status == 400 and error["code"] == "missing_models", error
    assert {m["folder"] for m in error["details"]["missing"]} >= {"diffusion_models", "loras", "vae"}
    assert real_comfy.get_json(f"{API}/jobs")["total"] == before


def test_kill9_mid_run_then_restart_finishes_with_no_loss_and_no_double_run(real_comfy_factory: Any) -> None:
    comfy = real_comfy_factory()
    comfy.upload("vq_smoke.png", png())
    # Prompt #4 takes seconds (the cancel test's graph): the kill lands while it runs, after
    # #1-#3 finished, whatever this machine's speed (quick prompts alone all finished before
    # a poll could see three done and kill, once vq got faster).
    graphs = [upscale(6.0 + i / 100, f"vq_real/kill_{i:02d}") for i in range(12)]
    graphs[3] = comfy_graph("interrupt_slow")
    created = comfy.post_json(f"{API}/jobs", {"name": "kill -9", "graphs": graphs}, expect=201)
    slow = created["prompts"][3]
    wait_prompt(comfy, slow["id"], {"running"}, timeout=120)
    comfy.kill9()
    comfy.start()
    done = wait_job(comfy, created["id"], {"succeeded", "failed", "canceled"}, timeout=240)
    assert done["status"] == "succeeded", done["counts"]
    for prompt in done["prompts"]:
        assert sum(a["status"] == "succeeded" for a in prompt["attempts"]) == 1
    assert [a["status"] for a in done["prompts"][3]["attempts"]] == ["interrupted", "succeeded"]
    log = comfy.get_json(f"{API}/jobs/{created['id']}/log")
    assert any("ComfyUI restarted" in e["message"] for e in log["entries"])
