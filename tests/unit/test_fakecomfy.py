"""The fake ComfyUI against what a real ComfyUI 0.8.0 recorded (shared/comfy/).

The central test replays the recording session in order (the outputs of one prompt are
cached for the next, as they were live) and compares, prompt by prompt, the websocket
frames a client received, the ``send_sync`` targeting, the POST /prompt answers and the
history entries.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
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

from tests.fixtures.fakecomfy import FakeComfy, Sent, captured_path, load_comfy_json
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
    lines = captured_path(f"ws-events/{name}.jsonl").read_text().splitlines()
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
                want_body = RESPONSES[f"{invalid}.post_prompt"]["body"]
                assert (resp.status, await resp.text()) == (400, json.dumps(want_body))
            resp = await client.post("/prompt", json={"client_id": CID})
            want_body = RESPONSES["invalid_no_prompt_key.post_prompt"]["body"]
            assert (resp.status, await resp.text()) == (400, json.dumps(want_body))
        start = len(host.sent)
        if name == "interrupt_slow":
            # Node 5 runs until the interrupt below, however busy the machine: where the recording's landed.
            host.behavior.hold("ImageScaleBy", node="5")
        resp = await client.post("/prompt", json={"prompt": graph(name), "client_id": CID})
        body = await resp.json()
        # The rerun's answer was not captured; its number (3) is in the recorded /api/jobs.
        recorded_answer = RESPONSES.get(f"{name}.post_prompt", {"status": 200, "body": {"number": 3}})
        assert resp.status == 200
        assert set(body) == {"prompt_id", "number", "node_errors"}
        assert (body["number"], body["node_errors"]) == (recorded_answer["body"]["number"], {})
        prompt_id = body["prompt_id"]
        if name == "interrupt_slow":
            await wait_until(lambda: any(s.event == "executing" and s.data["node"] == "5" for s in host.sent[start:]))
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
        host.behavior.holds.clear()

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


# --- caching ------------------------------------------------------------------------------


async def test_identical_resubmit_is_fully_cached_and_resends_executed(host: FakeComfy) -> None:
    host.start_worker()
    first, _ = await run_prompt(host, graph("upscale"))
    second, sent = await run_prompt(host, graph("upscale"))
    assert [s.event for s in sent] == [
        "status", "status", "execution_start", "execution_cached", "executed",
        "progress_state", "execution_success", "status", "executing",
    ]  # fmt: skip
    by_event = {s.event: s.data for s in sent}
    assert by_event["execution_cached"]["nodes"] == ["1", "2", "3"]
    assert by_event["executed"]["output"]["images"][0]["filename"] == "upscale_00001_.png"
    assert list(by_event["progress_state"]["nodes"]) == ["3"]
    entry = host.queue.get_history(second)[second]
    assert entry["outputs"] == host.queue.get_history(first)[first]["outputs"]
    assert len(os.listdir(Path(host.paths.get_output_directory()) / "vq_smoke")) == 1


@pytest.mark.parametrize(("profile", "outputs_kept"), [("0.8.0", False), ("0.3.64", True)])
async def test_cached_outputs_without_client_id_depend_on_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, profile: str, outputs_kept: bool
) -> None:
    host = make_host(tmp_path, monkeypatch, profile)
    host.start_worker()
    try:
        await run_prompt(host, graph("upscale"), client_id=None)
        pid, sent = await run_prompt(host, graph("upscale"), client_id=None)
    finally:
        host.stop()
    # Without a client_id only broadcasts happen: status and progress_state.
    assert {(s.event, s.sid) for s in sent} == {("status", None), ("progress_state", None)}
    entry = host.queue.get_history(pid)[pid]
    assert bool(entry["outputs"]) is outputs_kept
    assert [m[0] for m in entry["status"]["messages"]] == ["execution_start", "execution_cached", "execution_success"]


# --- queue items by profile -------------------------------------------------------------------


@pytest.mark.parametrize(("profile", "arity"), [("0.3.64", 5), ("0.8.0", 6), ("newer", 6)])
async def test_queue_item_arity_and_extra_data_by_profile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, profile: str, arity: int
) -> None:
    host = make_host(tmp_path, monkeypatch, profile)
    extra = {"auth_token_comfy_org": "secret", "vq_job": "j1"}
    answer = await host.submit_as_ui(graph("upscale"), extra_data=extra)
    (item,) = host.queue.queue
    assert len(item) == arity
    assert item[3]["client_id"] == "ui-tab"
    assert ("create_time" in item[3]) is (profile != "0.3.64")
    if arity == 6:
        assert item[5] == {"auth_token_comfy_org": "secret"} and "auth_token_comfy_org" not in item[3]
    host.start_worker()
    try:
        entry = await host.wait_for_history(answer["prompt_id"])
    finally:
        host.stop()
    assert len(entry["prompt"]) == 5
    assert entry["status"]["status_str"] == "success"


async def test_a_five_tuple_kills_the_0_8_0_worker_for_good(host: FakeComfy) -> None:
    host.start_worker()
    host.queue.put((0, "five", graph("upscale"), {"client_id": CID}, ["3"]))
    await wait_until(lambda: not host.worker.alive)
    assert isinstance(host.worker.error, IndexError)
    assert [item[1] for item in host.queue.currently_running.values()] == ["five"]
    answer = await host.submit_as_ui(graph("upscale"))
    # The only thread that takes items is dead, so the new prompt stays queued: no wait needed.
    assert not host.worker.alive and host.worker.thread.ident is not None
    assert [item[1] for item in host.queue.queue] == [answer["prompt_id"]]  # never runs


async def test_a_five_tuple_runs_on_0_3_64(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    host = make_host(tmp_path, monkeypatch, "0.3.64")
    host.start_worker()
    try:
        host.queue.put((0, "five", graph("upscale"), {"client_id": CID}, ["3"]))
        entry = await host.wait_for_history("five")
    finally:
        host.stop()
    assert entry["status"]["completed"] is True and host.worker.error is None


# --- interrupt ------------------------------------------------------------------------------------


async def start_slow(host: FakeComfy, **behavior: Any) -> str:
    """Submit the upscale graph and return once node 2 (ImageScaleBy) executes."""
    for key, value in behavior.items():
        setattr(host.behavior, key, value)
    answer = await host.submit_as_ui(graph("upscale"), client_id=CID)
    await wait_until(lambda: any(s.event == "executing" and s.data.get("node") == "2" for s in list(host.sent)))
    return answer["prompt_id"]


async def test_targeted_interrupt_only_hits_the_running_prompt(host: FakeComfy, aiohttp_client) -> None:
    client = await aiohttp_client(host.app)
    host.start_worker()
    held = host.behavior.hold("ImageScaleBy", interruptible=False)  # a node without progress steps
    pid = await start_slow(host)
    resp = await client.post("/interrupt", json={"prompt_id": str(uuid.uuid4())})
    assert (resp.status, await resp.text()) == (200, "")
    assert host.interrupts == []
    resp = await client.post("/interrupt", json={"prompt_id": pid})
    assert resp.status == 200
    (call,) = host.interrupts
    assert (call.value, call.running) == (True, (pid,))
    held.release()
    entry = await host.wait_for_history(pid)
    status = entry["status"]
    assert (status["status_str"], status["completed"]) == ("error", False)
    event, data = status["messages"][-1]
    assert event == "execution_interrupted"
    # Nodes without progress are interrupted at the next boundary: node 3 (SaveImage).
    assert (data["node_id"], data["node_type"], sorted(data["executed"])) == ("3", "SaveImage", ["1", "2"])
    assert entry["outputs"] == {} and entry["meta"] == {}


async def test_progress_steps_report_and_are_interrupt_points(host: FakeComfy) -> None:
    host.start_worker()
    pid = await start_slow(host, node_seconds={"ImageScaleBy": 60.0}, progress_steps={"ImageScaleBy": 600})
    await wait_until(lambda: any(s.event == "progress" for s in list(host.sent)))
    host.nodes_module.interrupt_processing()
    entry = await host.wait_for_history(pid)
    assert entry["status"]["messages"][-1][1]["node_id"] == "2"
    progress = [s for s in host.sent if s.event == "progress"]
    assert len(progress) < 600, "interrupted at a step, not at the end of the node"
    assert progress[0].data == {"value": 1, "max": 600, "prompt_id": pid, "node": "2"} and progress[0].sid == CID
    state = next(s for s in reversed(host.sent) if s.event == "progress_state")
    assert state.data["nodes"]["2"]["state"] == "running" and state.data["nodes"]["2"]["max"] == 600


async def test_an_interrupt_before_execution_starts_is_lost(host: FakeComfy) -> None:
    held = host.behavior.hold_start()
    host.start_worker()
    answer = await host.submit_as_ui(graph("upscale"))
    await held.wait_entered()
    assert host.queue.currently_running and not any(s.event == "execution_start" for s in host.sent)
    host.nodes_module.interrupt_processing(True)
    held.release()
    entry = await host.wait_for_history(answer["prompt_id"])
    assert entry["status"]["messages"][-1][0] == "execution_success"


async def test_interrupt_if_running_only_on_newer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    old = make_host(tmp_path, monkeypatch, "0.8.0")
    assert not hasattr(old.queue, "interrupt_if_running")
    host = make_host(tmp_path, monkeypatch, "newer")
    host.start_worker()
    try:
        host.behavior.hold("ImageScaleBy")  # running until interrupted
        pid = await start_slow(host)
        assert host.queue.interrupt_if_running(str(uuid.uuid4())) is False
        assert host.queue.interrupt_if_running(pid) is True
        entry = await host.wait_for_history(pid)
    finally:
        host.stop()
    assert entry["status"]["messages"][-1][0] == "execution_interrupted"
    assert [c.running for c in host.interrupts] == [(pid,)]


async def test_failing_node_knob_gives_execution_error(host: FakeComfy) -> None:
    host.behavior.fail_nodes = {"ImageScaleBy": ("torch.OutOfMemoryError", "Allocation on device")}
    host.start_worker()
    pid, sent = await run_prompt(host, graph("upscale"))
    error = next(s.data for s in sent if s.event == "execution_error")
    assert (error["exception_type"], error["exception_message"]) == ("torch.OutOfMemoryError", "Allocation on device\n")
    assert error["node_id"] == "2" and error["executed"] == ["1"]
    assert error["current_inputs"]["upscale_method"] == ["lanczos"]


# --- pending queue and history ------------------------------------------------------------------


async def test_delete_and_clear_pending_prompts(host: FakeComfy, aiohttp_client) -> None:
    client = await aiohttp_client(host.app)
    answers = [await host.submit_as_ui(graph("upscale"), prompt_id=f"p{i}") for i in range(3)]
    assert host.queue.delete_queue_item(lambda item: item[1] == "nope") is False
    assert host.queue.delete_queue_item(lambda item: item[1] == "p0") is True
    resp = await client.post("/queue", json={"delete": ["p1"]})
    assert (resp.status, await resp.text()) == (200, "")
    assert [item[1] for item in (await (await client.get("/queue")).json())["queue_pending"]] == ["p2"]
    await client.post("/queue", json={"clear": True})
    assert host.queue.get_tasks_remaining() == 0
    assert [a["number"] for a in answers] == [0, 1, 2]
    statuses = [s.data["status"]["exec_info"]["queue_remaining"] for s in host.sent if s.event == "status"]
    assert statuses == [1, 2, 3, 2, 1, 0]


class _StubServer:
    def __init__(self) -> None:
        self.updates = 0

    def queue_updated(self) -> None:
        self.updates += 1


def test_history_eviction_and_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prompt_queue_module, "MAXIMUM_HISTORY_SIZE", 3)
    q = prompt_queue_module.PromptQueue(_StubServer())
    status = q.ExecutionStatus("success", True, [])
    for i in range(6):
        q.put((i, f"p{i}", {}, {}, [], {"api_key_comfy_org": "k"}))
        item, item_id = q.get()
        q.task_done(item_id, {"outputs": {"1": i}, "meta": {}}, status, process_item=lambda t: t[:5] + t[6:])
    # One entry is evicted only once the cap is exceeded: cap + 1 remain.
    assert list(q.get_history()) == ["p2", "p3", "p4", "p5"]
    assert list(q.get_history(max_items=2)) == ["p4", "p5"]
    assert list(q.get_history(max_items=2, offset=1)) == ["p3", "p4"]
    entry = q.get_history("p5")["p5"]
    assert entry["prompt"] == (5, "p5", {}, {}, []) and entry["status"]["status_str"] == "success"
    entry["outputs"]["1"] = "mutated"
    assert q.get_history("p5")["p5"]["outputs"]["1"] == 5  # a deep copy
    q.delete_history_item("p2")
    q.wipe_history()
    assert q.get_history() == {} and q.get_history("p3") == {}


async def test_history_routes(host: FakeComfy, aiohttp_client) -> None:
    client = await aiohttp_client(host.app)
    host.start_worker()
    pid, _ = await run_prompt(host, graph("upscale"))
    assert list(await (await client.get(f"/api/history/{pid}")).json()) == [pid]
    assert await (await client.get("/history/unknown")).json() == {}
    await client.post("/history", json={"delete": [pid]})
    assert await (await client.get("/history")).json() == {}
    assert await (await client.get("/prompt")).json() == {"exec_info": {"queue_remaining": 0}}


# --- validation -------------------------------------------------------------------------------------


async def validate(host: FakeComfy, g: dict[str, Any]) -> tuple[bool, Any, list[str], dict[str, Any]]:
    return await host.execution_module.validate_prompt("pid", g, None)


async def test_validation_error_shapes(host: FakeComfy) -> None:
    g = graph("upscale")
    g["2"]["inputs"]["upscale_method"] = "bogus"
    ok, error, outputs, node_errors = await validate(host, g)
    assert (ok, error["type"], outputs) == (False, "prompt_outputs_failed_validation", [])
    (err,) = node_errors["2"]["errors"]
    assert (err["type"], err["details"]) == (
        "value_not_in_list",
        "upscale_method: 'bogus' not in ['nearest-exact', 'bilinear', 'area', 'bicubic', 'lanczos']",
    )
    for value, kind, message in [
        (9.0, "value_bigger_than_max", "Value 9.0 bigger than max of 8.0"),
        (0.001, "value_smaller_than_min", "Value 0.001 smaller than min of 0.01"),
    ]:
        g = graph("upscale")
        g["2"]["inputs"]["scale_by"] = value
        err = (await validate(host, g))[3]["2"]["errors"][0]
        assert (err["type"], err["message"], err["details"]) == (kind, message, "scale_by")
    g = graph("upscale")
    g["3"]["inputs"]["images"] = ["1", 1]  # LoadImage's MASK into SaveImage's IMAGE
    err = (await validate(host, g))[3]["3"]["errors"][0]
    assert (err["type"], err["details"]) == (
        "return_type_mismatch",
        "images, received_type(MASK) mismatch input_type(IMAGE)",
    )
    g["3"]["inputs"]["images"] = ["1"]
    assert (await validate(host, g))[3]["3"]["errors"][0]["type"] == "bad_linked_input"


async def test_partial_success_and_value_conversion(host: FakeComfy) -> None:
    g = graph("upscale")
    g["2"]["inputs"]["scale_by"] = "2"
    g["4"] = {"class_type": "SaveImage", "inputs": {"images": ["5", 0], "filename_prefix": "x"}}
    g["5"] = {"class_type": "LoadImage", "inputs": {"image": "missing.png"}}
    answer = await host.submit_as_ui(g)
    assert answer["node_errors"]["5"]["dependent_outputs"] == ["4"]
    (item,) = host.queue.queue
    assert item[4] == ["3"] and item[2]["2"]["inputs"]["scale_by"] == 2.0


async def test_load_image_names_and_model_combos(host: FakeComfy) -> None:
    host.make_image("deep.png", subfolder="vq/2026")
    Image.new("RGB", (8, 8)).save(Path(host.paths.get_output_directory()) / "render_00001_.png")
    for name in ("vq/2026/deep.png", "render_00001_.png [output]"):
        g = graph("upscale")
        g["1"]["inputs"]["image"] = name
        assert (await validate(host, g))[0] is True, name
    g = {
        "1": {"class_type": "UNETLoader", "inputs": {"unet_name": "wan.safetensors", "weight_dtype": "default"}},
        "2": {"class_type": "ModelSamplingSD3", "inputs": {"model": ["1", 0], "shift": 5.0}},
        "3": {"class_type": "PreviewAny", "inputs": {"source": ["2", 0]}},
    }
    err = (await validate(host, g))[3]["1"]["errors"][0]
    assert (err["type"], err["details"]) == ("value_not_in_list", "unet_name: 'wan.safetensors' not in []")
    host.add_model("unet", "wan.safetensors")
    assert (await validate(host, g))[0] is True
    assert host.folder_paths_module.get_filename_list("diffusion_models") == ["wan.safetensors"]


async def test_model_graph_flows_through_pass_through_nodes(host: FakeComfy) -> None:
    g = load_comfy_json("reference-workflows/wan22-i2v-2pass.json")
    for node in g.values():
        for name, value in node["inputs"].items():
            folder = {"unet_name": "unet", "lora_name": "loras", "clip_name": "clip", "vae_name": "vae"}.get(name)
            if folder:
                host.add_model(folder, value)
            if name == "image":
                host.make_image(value)
    host.start_worker()
    pid, sent = await run_prompt(host, g)
    entry = host.queue.get_history(pid)[pid]
    assert entry["status"]["status_str"] == "success", entry["status"]
    (output,) = entry["outputs"].values()
    assert output["animated"] == [True] and output["images"][0]["filename"].endswith("_00001_.mp4")
    progress = [s.data for s in sent if s.event == "progress"]
    assert {p["node"] for p in progress} == {"13", "14"}
    assert all(set(p) == {"value", "max", "prompt_id", "node"} for p in progress)


async def test_batch_preview_and_audio_nodes(host: FakeComfy) -> None:
    (Path(host.paths.get_input_directory()) / "voice.wav").write_bytes(b"RIFF")
    g = {
        "1": {"class_type": "EmptyImage", "inputs": {"width": 32, "height": 16, "batch_size": 3, "color": 0xFF0000}},
        "2": {"class_type": "ImageFromBatch", "inputs": {"image": ["1", 0], "batch_index": 4095, "length": 5}},
        "3": {"class_type": "PreviewImage", "inputs": {"images": ["2", 0]}},
        "4": {"class_type": "LoadAudio", "inputs": {"audio": "voice.wav"}},
        "5": {"class_type": "SaveAudio", "inputs": {"audio": ["4", 0], "filename_prefix": "audio/vq"}},
    }
    host.start_worker()
    pid, _ = await run_prompt(host, g)
    outputs = host.queue.get_history(pid)[pid]["outputs"]
    (preview,) = outputs["3"]["images"]  # index clamped to the last frame, length to what is left
    assert preview["type"] == "temp" and preview["filename"].startswith("ComfyUI_temp_")
    with Image.open(Path(host.paths.get_temp_directory()) / preview["filename"]) as img:
        assert (img.size, img.getpixel((0, 0))) == ((32, 16), (255, 0, 0))
    assert outputs["5"] == {"audio": [{"filename": "vq_00001_.flac", "subfolder": "audio", "type": "output"}]}
    assert (Path(host.paths.get_output_directory()) / "audio" / "vq_00001_.flac").is_file()


async def test_newer_refuses_non_canonical_prompt_ids(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    host = make_host(tmp_path, monkeypatch, "newer")
    answer = await host.submit_as_ui(graph("upscale"), prompt_id="vq-1")
    assert answer["error"]["type"] == "invalid_prompt_id" and answer["node_errors"] == {}
    good = str(uuid.uuid4())
    assert (await host.submit_as_ui(graph("upscale"), prompt_id=good))["prompt_id"] == good
    old = make_host(tmp_path, monkeypatch, "0.8.0")
    assert (await old.submit_as_ui(graph("upscale"), prompt_id="vq-1"))["prompt_id"] == "vq-1"


# --- modules by profile -------------------------------------------------------------------------


@pytest.mark.parametrize("profile", ["0.3.64", "0.8.0", "newer"])
def test_module_surface_by_profile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, profile: str) -> None:
    host = make_host(tmp_path, monkeypatch, profile)
    modules = {name: importlib.import_module(name) for name in host.modules}
    assert modules == host.modules
    assert modules["server"].PromptServer.instance is host.server
    assert modules["comfyui_version"].__version__ == {"0.3.64": "0.3.64", "0.8.0": "0.8.0", "newer": "0.36.0"}[profile]
    validate_prompt = modules["execution"].validate_prompt
    assert inspect.iscoroutinefunction(validate_prompt) and len(inspect.signature(validate_prompt).parameters) == 3
    fp = modules["folder_paths"]
    assert hasattr(fp, "get_system_user_directory") is (profile != "0.3.64")
    if profile != "0.3.64":
        assert fp.get_system_user_directory("video_queue") == os.path.join(fp.get_user_directory(), "__video_queue")
    has_process_item = "process_item" in inspect.signature(host.queue.task_done).parameters
    assert has_process_item is (profile != "0.3.64")
    assert not hasattr(host.server, "last_prompt_id")  # appears with the first prompt
    assert len(modules["nodes"].NODE_CLASS_MAPPINGS) == (382 if profile == "0.3.64" else 445)


def test_folder_paths_naming(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    host = make_host(tmp_path, monkeypatch)
    fp = host.folder_paths_module
    out = fp.get_output_directory()
    folder, name, counter, sub, _ = fp.get_save_image_path("vq/clip", out, 64, 48)
    assert (folder, name, counter, sub) == (os.path.join(out, "vq"), "clip", 1, "vq")
    for file in ("clip_00001_.png", "clip_00007_.mp4", "clipper_00009_.png"):
        Path(folder, file).touch()
    assert fp.get_save_image_path("vq/clip", out)[2] == 8
    with pytest.raises(Exception, match="outside the output folder"):
        fp.get_save_image_path("../escape", out)
    assert fp.annotated_filepath("a.png [output]") == ("a.png", out)
    assert fp.annotated_filepath("a.png[output]") == ("a.pn", out)  # the space is required
    assert fp.get_annotated_filepath("a.png") == os.path.join(fp.get_input_directory(), "a.png")
    assert fp.get_directory_by_type("models") is None
    assert fp.get_filename_list("loras") == [] and os.path.isdir(Path(fp.models_dir, "upscale_models"))


# --- files over HTTP ----------------------------------------------------------------------------


async def test_upload_and_view(host: FakeComfy, aiohttp_client) -> None:
    client = await aiohttp_client(host.app)
    png = (Path(host.paths.get_input_directory()) / "vq_smoke.png").read_bytes()

    async def upload(data: bytes, **fields: str) -> dict[str, Any]:
        form = aiohttp.FormData()
        form.add_field("image", data, filename="vq_smoke.png", content_type="image/png")
        for key, value in fields.items():
            form.add_field(key, value)
        resp = await client.post("/upload/image", data=form)
        assert resp.status == 200
        return await resp.json()

    assert await upload(png) == RESPONSES["upload_image_response"]["body"]  # same bytes: reused
    assert (await upload(b"other"))["name"] == "vq_smoke (1).png"
    in_subfolder = await upload(png, subfolder="vq/up", type="input")
    assert in_subfolder == {"name": "vq_smoke.png", "subfolder": "vq/up", "type": "input"}
    resp = await client.get("/view", params={"filename": "vq_smoke.png", "type": "input", "subfolder": "vq/up"})
    assert (resp.status, resp.content_type, await resp.read()) == (200, "image/png", png)
    resp = await client.get("/api/view", params={"filename": "vq_smoke.png", "type": "input", "preview": "webp;50"})
    assert (resp.status, resp.content_type) == (200, "image/webp")
    assert (await client.get("/view", params={"filename": "../x.png"})).status == 400
    assert (await client.get("/view", params={"filename": "x.png", "subfolder": "../../"})).status == 403
    assert (await client.get("/view", params={"filename": "nope.png"})).status == 404


# --- websocket ----------------------------------------------------------------------------------------


async def test_websocket_feature_flags_and_targeting(host: FakeComfy, aiohttp_client) -> None:
    boot = load_comfy_json("frontend-boot-0.8.0.json")["ws"]
    client = await aiohttp_client(host.app)
    host.start_worker()  # runs publish_loop
    ws = await client.ws_connect("/ws")
    hello = await ws.receive_json()
    sid = hello["data"]["sid"]
    assert len(sid) == 32 and hello["data"]["status"] == {"exec_info": {"queue_remaining": 0}}
    await ws.send_json(boot["client_to_server"][0]["msg"])
    assert await ws.receive_json() == boot["server_to_client"][1]["msg"]
    assert host.server.sockets_metadata[sid]["feature_flags"] == boot["client_to_server"][0]["msg"]["data"]
    host.server.send_sync("vq.nobody", {"x": 1}, "someone-else")  # unknown sid: dropped
    host.server.send_sync("vq.mine", {"x": 2}, sid)
    host.server.send_sync("vq.all", {"x": 3})
    assert [(await ws.receive_json())["type"] for _ in range(2)] == ["vq.mine", "vq.all"]
    await ws.close()
    await wait_until(lambda: sid not in host.server.sockets)


# --- loading a custom node package --------------------------------------------------------------------


PLUGIN = '''
from aiohttp import web
from server import PromptServer

routes = PromptServer.instance.routes

@routes.get("/probe/ping")
async def ping(request):
    return web.json_response({"module": __name__})

async def on_startup(app):
    import os
    open(os.path.join(os.path.dirname(__file__), "started"), "w").close()

PromptServer.instance.app.on_startup.append(on_startup)
NODE_CLASS_MAPPINGS = {}
WEB_DIRECTORY = "./web"
'''


def write_plugin(root: Path, body: str = PLUGIN) -> Path:
    (root / "web" / "js").mkdir(parents=True)
    (root / "web" / "js" / "probe.js").write_text("export {};\n")
    (root / "__init__.py").write_text(body)
    return root


async def test_load_custom_node_like_comfyui(host: FakeComfy, tmp_path: Path, aiohttp_client) -> None:
    plugin = write_plugin(tmp_path / "my.nodes" / "vq.probe")
    assert host.load_custom_node(plugin) is True
    mangled = str(plugin).replace(".", "_x_")
    assert mangled in sys.modules
    assert host.nodes_module.LOADED_MODULE_DIRS["vq.probe"] == str(plugin)
    assert host.nodes_module.EXTENSION_WEB_DIRS == {"vq.probe": str(plugin / "web")}
    client = await aiohttp_client(host.app)
    for path in ("/probe/ping", "/api/probe/ping"):
        assert await (await client.get(path)).json() == {"module": mangled}
    listed = await (await client.get("/api/extensions")).json()
    assert [x for x in listed if not x.startswith("/extensions/core/")] == ["/extensions/vq.probe/js/probe.js"]
    assert (await client.get("/extensions/vq.probe/js/probe.js")).status == 200
    assert (plugin / "started").exists()  # app.on_startup ran


async def test_failed_custom_nodes_return_false(host: FakeComfy, tmp_path: Path, caplog) -> None:
    broken = write_plugin(tmp_path / "broken", "raise RuntimeError('boom')\n")
    assert host.load_custom_node(broken) is False
    assert "Cannot import" in caplog.text and "boom" in caplog.text
    no_mappings = write_plugin(tmp_path / "no_mappings", "WEB_DIRECTORY = './web'\n")
    assert host.load_custom_node(no_mappings) is False
    assert "lack of NODE_CLASS_MAPPINGS" in caplog.text
    assert "no_mappings" in host.nodes_module.EXTENSION_WEB_DIRS  # JS is served anyway


# --- the subprocess stand-in for main.py ---------------------------------------------------------------


def test_subprocess_entry_point_serves_and_runs_a_prompt(tmp_path: Path) -> None:
    base = tmp_path / "state"
    plugin = write_plugin(tmp_path / "probe_src")
    (base / "custom_nodes").mkdir(parents=True)
    (base / "custom_nodes" / "probe").symlink_to(plugin)
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fixtures.fakecomfy.main", "--base-directory", str(base), "--port", "0"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        url = None
        for line in proc.stdout:  # type: ignore[union-attr]
            if line.startswith("To see the GUI go to: "):
                url = line.split(": ", 1)[1].strip()
                break
        assert url, "no ready line"

        def call(path: str, body: Any = None, data: bytes | None = None, headers: dict[str, str] | None = None) -> Any:
            if body is not None:
                data, headers = json.dumps(body).encode(), {"Content-Type": "application/json"}
            request = urllib.request.Request(url + path, data=data, headers=headers or {})
            with urllib.request.urlopen(request, timeout=5) as resp:
                return json.loads(resp.read() or b"null")

        assert call("/system_stats")["system"]["comfyui_version"] == "0.8.0"
        assert call("/api/probe/ping")["module"].endswith("custom_nodes/probe")
        assert (plugin / "started").exists()
        boundary = "vqboundary"
        form = (
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"vq_smoke.png\"\r\n"
            f"Content-Type: image/png\r\n\r\n"
        ).encode() + _small_png() + f"\r\n--{boundary}--\r\n".encode()
        assert call("/upload/image", data=form, headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})[
            "name"
        ] == "vq_smoke.png"
        pid = call("/prompt", {"prompt": graph("upscale"), "client_id": "cli"})["prompt_id"]
        deadline = time.monotonic() + 10
        while not (entry := call(f"/history/{pid}")) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert entry[pid]["status"]["status_str"] == "success"
        assert (base / "output" / "vq_smoke" / "upscale_00001_.png").is_file()
    finally:
        proc.kill()  # SIGKILL: the crash path the plugin must survive
        proc.wait(timeout=5)
    assert proc.returncode == -9


def _small_png() -> bytes:
    from io import BytesIO

    buffer = BytesIO()
    Image.new("RGB", (64, 48), (10, 20, 30)).save(buffer, format="PNG")
    return buffer.getvalue()
