"""kill -9 of a ComfyUI process hosting the plugin during a 20-prompt run, then restart:
the run completes with no prompt lost and none finished twice."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.helpers import REPO
from tests.integration.helpers import upscale

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(base: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "VQ_POLL_SECONDS": "0.05", "VQ_IDLE_POLL_SECONDS": "0.05", "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fixtures.fakecomfy.main", "--base-directory", str(base),
         "--port", str(port), "--node-seconds", "0.15"],
        cwd=REPO, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/api/vq/v1/health", timeout=1).ok:
                return proc
        except requests.ConnectionError:
            pass
        if proc.poll() is not None:
            raise AssertionError(f"fake ComfyUI exited early:\n{log.read_text()}")
        time.sleep(0.1)
    proc.kill()
    raise AssertionError(f"fake ComfyUI did not come up:\n{log.read_text()}")


def job(url: str, job_id: int) -> dict[str, Any]:
    return requests.get(f"{url}/api/vq/v1/jobs/{job_id}", timeout=5).json()


def test_kill9_mid_run_then_restart_loses_nothing_and_runs_nothing_twice(tmp_path: Path) -> None:
    base = tmp_path / "comfy"
    (base / "custom_nodes").mkdir(parents=True)
    (base / "custom_nodes" / "video-queue").symlink_to(REPO)
    (base / "input").mkdir()
    from PIL import Image

    Image.new("RGB", (32, 24), "teal").save(base / "input" / "vq_smoke.png")
    port, log = free_port(), tmp_path / "comfy.log"
    url = f"http://127.0.0.1:{port}"

    proc = start(base, port, log)
    try:
        graphs = [upscale(1 + i / 100, prefix=f"kill/p{i:02d}") for i in range(20)]
        created = requests.post(f"{url}/api/vq/v1/jobs", json={"name": "kill -9", "graphs": graphs}, timeout=5)
        assert created.status_code == 201, created.text
        job_id = created.json()["id"]
        deadline = time.monotonic() + 30
        while job(url, job_id)["counts"].get("succeeded", 0) < 5:
            assert time.monotonic() < deadline, "the run did not progress"
            time.sleep(0.05)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()

    proc = start(base, port, log)
    try:
        deadline = time.monotonic() + 60
        while (detail := job(url, job_id))["status"] not in ("succeeded", "failed", "canceled"):
            assert time.monotonic() < deadline, json.dumps(detail["counts"])
            time.sleep(0.1)
    finally:
        proc.terminate()
        proc.wait(10)

    assert detail["status"] == "succeeded", detail["counts"]
    assert len(detail["prompts"]) == 20
    for prompt in detail["prompts"]:
        finishes = [a for a in prompt["attempts"] if a["status"] == "succeeded"]
        assert len(finishes) == 1, f"prompt #{prompt['index']} finished {len(finishes)} times"
        assert all(a["status"] in ("succeeded", "interrupted") for a in prompt["attempts"])
    interrupted = [p for p in detail["prompts"] if len(p["attempts"]) > 1]
    assert 1 <= len(interrupted) <= 2, "only what was in ComfyUI at the kill is re-run"
