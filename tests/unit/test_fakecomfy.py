"""The fake ComfyUI against what a real ComfyUI 0.8.0 recorded (shared/comfy/).

The central test replays the recording session in order (the outputs of one prompt are
cached for the next, as they were live) and compares, prompt by prompt, the websocket
frames a client received, the ``send_sync`` targeting, the POST /prompt answers and the
history entries.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from PIL import Image

from tests.fixtures.fakecomfy import FakeComfy, Sent, comfy_data_dir, load_comfy_json
from tests.fixtures.fakecomfy import prompt_queue as prompt_queue_module

REPO = Path(__file__).resolve().parents[2]
CID = "be9f93d6580149639fd34ad62346c024"
RESPONSES = load_comfy_json("responses-0.8.0.json")
SESSION = ["upscale", "video_mp4", "video_webm", "upscale_cached_rerun", "exec_error_corrupt_image", "interrupt_slow"]
INVALID_GRAPHS: dict[str, dict[str, Any]] = {
    "invalid_missing_image": load_comfy_json("graphs/invalid_missing_image.json"),
    "invalid_unknown_class": {"1": {"class_type": "NoSuchNode", "inputs": {}}},
    "invalid_missing_input": {
        "1": {"class_type": "ImageScaleBy", "inputs": {"upscale_method": "lanczos", "scale_by": 1.5}},
        "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "vq_smoke/never"}},
    },
    "invalid_no_output_node": {"1": {"class_type": "LoadImage", "inputs": {"image": "vq_smoke.png"}}},
}


def graph(name: str) -> dict[str, Any]:
    return load_comfy_json(f"graphs/{'upscale' if name == 'upscale_cached_rerun' else name}.json")


def recorded_frames(name: str) -> list[dict[str, Any]]:
    lines = (comfy_data_dir() / "ws-events" / f"{name}.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def make_host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, profile: str = "0.8.0") -> FakeComfy:
    host = FakeComfy(tmp_path / f"comfy-{profile}", profile)
    host.install(monkeypatch)
    host.make_image()
    host.make_corrupt()
    return host


@pytest.fixture
async def host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    h = make_host(tmp_path, monkeypatch)
    yield h
    h.stop()


async def wait_until(predicate: Callable[[], Any], timeout: float = 5.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        await asyncio.sleep(0.005)
    raise AssertionError("condition not reached in time")


def final_executing(host: FakeComfy, prompt_id: str) -> Callable[[], bool]:
    return lambda: any(
        s.event == "executing" and s.data == {"node": None, "prompt_id": prompt_id} for s in list(host.sent)
    )


async def run_prompt(host: FakeComfy, g: dict[str, Any], client_id: str | None = CID) -> tuple[str, list[Sent]]:
    """Queue through the POST /prompt handler; the prompt's id and every send_sync it caused."""
    start = len(host.sent)
    fields = {} if client_id is None else {"client_id": client_id}
    handler = next(r.handler for r in host.server.routes if (r.method, r.path) == ("POST", "/prompt"))

    class Req:
        headers: dict[str, str] = {}

        async def json(self) -> dict[str, Any]:
            return {"prompt": g, **fields}

    prompt_id = json.loads((await handler(Req())).body)["prompt_id"]
    await host.wait_for_history(prompt_id)
    if client_id is not None:
        await wait_until(final_executing(host, prompt_id))
    return prompt_id, host.sent[start:]


def assert_same_frames(fake: list[dict[str, Any]], recorded: list[dict[str, Any]]) -> None:
    """Same event types in order, same payload keys, same node ids and outputs."""
    assert [f["type"] for f in fake] == [r["type"] for r in recorded]
    for f, r in zip(fake, recorded):
        got, want = f["data"], r["data"]
        assert set(got) == set(want), f["type"]
        if f["type"] == "status":
            assert got == want
        elif f["type"] == "progress_state":
            assert list(got["nodes"]) == list(want["nodes"])
            for node_id, entry in got["nodes"].items():
                expected = want["nodes"][node_id]
                assert set(entry) == set(expected)
                assert (entry["state"], entry["value"], entry["max"]) == (
                    expected["state"],
                    expected["value"],
                    expected["max"],
                )
        elif f["type"] in ("executing", "executed"):
            assert got.get("node") == want.get("node")
            assert got.get("output") == want.get("output")
        elif f["type"] == "execution_cached":
            assert got["nodes"] == want["nodes"]
        elif f["type"] in ("execution_error", "execution_interrupted"):
            assert (got["node_id"], got["node_type"]) == (want["node_id"], want["node_type"])
            assert sorted(got["executed"]) == sorted(want["executed"])


def assert_targeting(sent: list[Sent], client_id: str) -> None:
    """§5.1: status is broadcast, everything else goes to the prompt's client_id."""
    for s in sent:
        assert s.sid == (None if s.event == "status" else client_id), s


def assert_history_like(entry: dict[str, Any], recorded: dict[str, Any]) -> None:
    assert set(entry) == set(recorded) == {"prompt", "outputs", "status", "meta"}
    assert len(entry["prompt"]) == len(recorded["prompt"]) == 5
    assert entry["prompt"][0] == recorded["prompt"][0]
    assert entry["prompt"][2] == recorded["prompt"][2]
    assert set(entry["prompt"][3]) == set(recorded["prompt"][3])
    assert list(entry["prompt"][4]) == recorded["prompt"][4]
    assert entry["outputs"] == recorded["outputs"]
    assert entry["meta"] == recorded["meta"]
    status, want = entry["status"], recorded["status"]
    assert (status["status_str"], status["completed"]) == (want["status_str"], want["completed"])
    assert [m[0] for m in status["messages"]] == [m[0] for m in want["messages"]]
    for (_, got), (_, expected) in zip(status["messages"], want["messages"]):
        assert set(got) == set(expected)


async def test_recorded_session_replays_like_real_comfyui(host: FakeComfy, aiohttp_client) -> None:
    client = await aiohttp_client(host.app)
    ws = await client.ws_connect(f"/ws?clientId={CID}")
    # The recording's first frame is the connect greeting, with the sid the client then used.
    assert await ws.receive_json() == RESPONSES["all_ws_events"][0]
    # A send_sync wrapper, chained like a plugin's tap: events come from the worker thread.
    threads: dict[str, set[str]] = {}
    original = host.server.send_sync

    def tap(event: Any, data: Any, sid: str | None = None) -> None:
        threads.setdefault(event, set()).add(threading.current_thread().name)
        original(event, data, sid)

    host.server.send_sync = tap  # type: ignore[method-assign]
    host.start_worker()

    history: dict[str, dict[str, Any]] = {}
    for name in SESSION:
        if name == "exec_error_corrupt_image":
            # The recording posted the five invalid prompts here: they consume numbers 4-8.
            for invalid, body in INVALID_GRAPHS.items():
                resp = await client.post("/prompt", json={"prompt": body, "client_id": CID})
                assert (resp.status, await resp.text()) == (400, json.dumps(RESPONSES[f"{invalid}.post_prompt"]["body"]))
            resp = await client.post("/prompt", json={"client_id": CID})
            assert (resp.status, await resp.text()) == (400, json.dumps(RESPONSES["invalid_no_prompt_key.post_prompt"]["body"]))
        start = len(host.sent)
        if name == "interrupt_slow":
            host.behavior.node_seconds = {"ImageScaleBy": 0.3}
        resp = await client.post("/prompt", json={"prompt": graph(name), "client_id": CID})
        body = await resp.json()
        recorded_answer = RESPONSES.get(f"{name}.post_prompt", {"status": 200, "body": {"number": 3}})
        assert resp.status == 200
        assert set(body) == {"prompt_id", "number", "node_errors"}
        assert (body["number"], body["node_errors"]) == (recorded_answer["body"]["number"], {})
        prompt_id = body["prompt_id"]
        if name == "interrupt_slow":
            await wait_until(lambda: any(s.event == "executing" and s.data.get("node") == "4" for s in host.sent[start:]))
            queue = await (await client.get("/queue")).json()
            want = RESPONSES["interrupt_slow.queue_while_running"]
            assert [len(item) for item in queue["queue_running"]] == [len(item) for item in want["queue_running"]]
            item = queue["queue_running"][0]
            assert (item[0], item[1], item[4], set(item[3])) == (10, prompt_id, ["99"], {"client_id", "create_time"})
            assert queue["queue_pending"] == []
            resp = await client.post("/interrupt")
            assert (resp.status, await resp.text()) == (200, RESPONSES["interrupt.post_interrupt"]["body"])
        history[name] = await host.wait_for_history(prompt_id)
        await wait_until(final_executing(host, prompt_id))
        assert_targeting(host.sent[start:], CID)
        if f"{name}.history" in RESPONSES:
            assert_history_like(history[name], next(iter(RESPONSES[f"{name}.history"].values())))
        host.behavior.node_seconds = {}

    frames = []
    expected = RESPONSES["all_ws_events"][1:]
    while len(frames) < len(expected):
        frames.append(await ws.receive_json(timeout=5))
    offset = 0
    for name in SESSION:
        recorded = recorded_frames(name)
        assert_same_frames(frames[offset : offset + len(recorded)], recorded)
        offset += len(recorded)
    assert_same_frames(frames, expected)

    error = history["exec_error_corrupt_image"]["status"]["messages"][-1][1]
    assert error["exception_type"] == "PIL.UnidentifiedImageError"
    corrupt = Path(host.paths.get_input_directory()) / "vq_corrupt.png"
    assert error["exception_message"] == f"cannot identify image file '{corrupt}'\n"
    assert error["current_inputs"] == {"image": ["vq_corrupt.png"]}
    assert sorted(error["current_outputs"]) == ["1", "2"]
    assert all(isinstance(line, str) and line.startswith("  File ") for line in error["traceback"])

    assert history["upscale_cached_rerun"]["outputs"]["3"]["images"][0]["filename"] == "upscale_00002_.png"
    with Image.open(Path(host.paths.get_output_directory()) / "vq_smoke" / "upscale_00001_.png") as img:
        assert img.size == (96, 72)
        assert json.loads(img.text["prompt"]) == graph("upscale")
    assert (Path(host.paths.get_output_directory()) / "vq_smoke" / "video_00001_.mp4").is_file()
    assert (Path(host.paths.get_output_directory()) / "vq_smoke" / "webm_00001_.webm").is_file()
    assert threads["execution_start"] == threads["executed"] == {"prompt_worker"}

    last_two = await (await client.get("/history?max_items=2")).json()
    want_last_two = RESPONSES["history_max_items_2"]
    assert [v["prompt"][0] for v in last_two.values()] == [v["prompt"][0] for v in want_last_two.values()]
    assert await (await client.get("/queue")).json() == RESPONSES["queue_after"]
    await ws.close()
