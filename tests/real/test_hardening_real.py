"""Issue 10 against a real ComfyUI 0.8.0 (VQ_COMFYUI_DIR): two ComfyUI processes on one
base directory share the queue and run each prompt once; a `vq submit` retried with the
same Idempotency-Key makes one job; a locked vq database at start-up still lets ComfyUI
serve /system_stats, and vq starts once the lock is gone."""

from __future__ import annotations

import io
import json
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from PIL import Image

from tests.helpers import comfy_graph

API = "/api/vq/v1"


def png(color: tuple[int, int, int] = (30, 120, 200)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), color).save(buf, format="PNG")
    return buf.getvalue()


def wait(check: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.25)


def vq(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vq_extension", "--url", url, *args],
                          capture_output=True, text=True, timeout=300)


def test_two_comfyui_processes_on_one_base_directory_run_each_prompt_exactly_once(
    real_comfy_factory: Any, tmp_path_factory: Any
) -> None:
    state = tmp_path_factory.mktemp("shared") / "state"
    # Another process finds new work at its idle poll (only the process that took the submit
    # is nudged): poll often, so both take part in a job that runs for seconds.
    env = {"VQ_LEASE_SECONDS": "10", "VQ_IDLE_POLL_SECONDS": "0.25"}
    a = real_comfy_factory(state_dir=state, env=env)
    b = real_comfy_factory(state_dir=state, env=env)
    a.upload("vq_smoke.png", png())
    health = b.get_json(f"{API}/health")
    assert {i["port"] for i in health["instances"]} >= {a.port, b.port}

    graphs = []
    for i in range(40):  # ~25 ms each: the job runs ~1 s, several of B's 0.25 s polls
        graph = comfy_graph("upscale")
        graph["2"]["inputs"]["scale_by"] = 6 + i / 100
        graph["3"]["inputs"]["filename_prefix"] = f"multi/p{i:02d}"
        graphs.append(graph)
    job = a.post_json(f"{API}/jobs", {"name": "two processes", "graphs": graphs}, expect=201)
    done = wait(lambda: (d := a.get_json(f"{API}/jobs/{job['id']}"))["status"] in ("succeeded", "failed") and d,
                600, "the 40-prompt job")
    assert done["status"] == "succeeded", json.dumps(done["counts"])

    out = state / "output" / "multi"
    per_prompt = {i: sorted(out.glob(f"p{i:02d}_*.png")) for i in range(40)}
    assert all(len(files) == 1 for files in per_prompt.values()), \
        {i: [f.name for f in files] for i, files in per_prompt.items() if len(files) != 1}
    ran_in = [sum(1 for e in c.get_json("/history").values()
                  if (e["prompt"][3].get("vq") or {}).get("job_id") == job["id"]) for c in (a, b)]
    assert sum(ran_in) == 40 and all(ran_in), f"each process ran some, none twice: {ran_in}"


def test_a_vq_submit_retried_with_the_same_key_makes_one_job(real_comfy: Any) -> None:
    folder = real_comfy.input_dir / "idem_batch"
    folder.mkdir(exist_ok=True)
    (folder / "idem1.png").write_bytes(png((200, 40, 40)))
    key = str(uuid.uuid4())
    name = f"idem {key[:8]}"
    first = vq(real_comfy.url, "submit", "smoke-image", str(folder), "--name", name, "--idempotency-key", key,
               "--json")
    assert first.returncode == 0, first.stderr
    again = vq(real_comfy.url, "submit", "smoke-image", str(folder), "--name", name, "--idempotency-key", key,
               "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(first.stdout)["id"] == json.loads(again.stdout)["id"]
    found = json.loads(vq(real_comfy.url, "list", "--search", name, "--json").stdout)
    assert found["total"] == 1


def test_a_locked_database_at_start_still_lets_comfyui_serve_system_stats(
    real_comfy_factory: Any, tmp_path_factory: Any
) -> None:
    state = tmp_path_factory.mktemp("locked") / "state"
    db_path = Path(state) / "user" / "__video_queue" / "vq.sqlite3"
    db_path.parent.mkdir(parents=True)
    locker = sqlite3.connect(db_path, isolation_level=None)
    locker.execute("PRAGMA journal_mode = WAL")
    locker.execute("CREATE TABLE IF NOT EXISTS held (x)")
    locker.execute("BEGIN EXCLUSIVE")
    try:
        comfy = real_comfy_factory(state_dir=state)  # waits for GET /system_stats == 200
        status, body = comfy.get(f"{API}/health")
        assert status == 503, body
        assert "database is locked" in json.loads(body)["error"]["message"]
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    wait(lambda: comfy.get(f"{API}/health")[0] == 200, 120, "vq to start once the lock is gone")
