"""The `vq` command line against a real ComfyUI (issue 5's acceptance, automated)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from typing import Any

from PIL import Image


def vq(real_comfy: Any, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vq_extension", "--url", real_comfy.url, *args],
                          capture_output=True, text=True, timeout=300)


def test_submit_wait_status_log_pause_resume_and_a_bad_parameter(real_comfy: Any) -> None:
    folder = real_comfy.input_dir / "cli_batch"
    folder.mkdir(exist_ok=True)
    for i in range(5):
        buf = io.BytesIO()
        Image.new("RGB", (48 + 2 * i, 32), (20 * i, 80, 200)).save(buf, format="PNG")
        (folder / f"cli{i + 1}.png").write_bytes(buf.getvalue())

    bad = vq(real_comfy, "submit", "smoke-image", str(folder), "--param", "scale_by=99")
    assert bad.returncode == 2 and "scale_by" in bad.stderr
    before = json.loads(vq(real_comfy, "list", "--json").stdout)["total"]

    run = vq(real_comfy, "submit", "smoke-image", str(folder), "--name", "cli run", "--wait")
    assert run.returncode == 0, run.stderr
    assert json.loads(vq(real_comfy, "list", "--json").stdout)["total"] == before + 1
    job = json.loads(vq(real_comfy, "list", "--search", "cli run", "--json").stdout)["jobs"][0]
    assert job["status"] == "succeeded" and job["total"] == 5

    status = vq(real_comfy, "status", str(job["id"]))
    assert status.returncode == 0 and "succeeded" in status.stdout
    assert vq(real_comfy, "log", str(job["id"])).returncode == 0
    assert vq(real_comfy, "pause").returncode == 0
    assert json.loads(vq(real_comfy, "health", "--json").stdout)["queue"]["paused"] is True
    assert vq(real_comfy, "resume").returncode == 0
    assert vq(real_comfy, "retry", str(job["id"])).returncode == 1  # nothing failed: a 409, said plainly

    # cancel and retry on a job of its own: queued while paused, canceled, retried, then run
    assert vq(real_comfy, "pause").returncode == 0
    queued = json.loads(vq(real_comfy, "submit", "smoke-image", str(folder), "--name", "cli cancel",
                           "--json").stdout)
    canceled = vq(real_comfy, "cancel", str(queued["id"]))
    assert canceled.returncode == 0, canceled.stderr
    assert json.loads(vq(real_comfy, "status", str(queued["id"]), "--json").stdout)["status"] == "canceled"
    retried = vq(real_comfy, "retry", str(queued["id"]))
    assert retried.returncode == 0, retried.stderr
    assert vq(real_comfy, "resume").returncode == 0
    finished = vq(real_comfy, "watch", str(queued["id"]))
    assert finished.returncode == 0, finished.stderr
    assert json.loads(vq(real_comfy, "status", str(queued["id"]), "--json").stdout)["status"] == "succeeded"
