"""vq submit / workflows / cleanup against the fake API: parameter typing before anything
is queued, the request body, --dry-run, --wait, and the exit codes."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.helpers import REPO
from tests.unit.cli import samples as s
from tests.unit.cli.fakes import FakeVq, Request, run
from tests.unit.cli.snapshot import check
from vq_extension.workflows import Catalog

CATALOG = Catalog([REPO / "workflow_defs_v2"])


def plan(n: int = 3) -> dict[str, Any]:
    """A dry-run answer as queue/submit.py's Submitter.dry_run_answer builds it."""
    return {"dry_run": True, "workflow": "smoke-image", "name": "smoke-image: stills (2)", "total": n,
            "params": {"seed": 1000, "noise_strength": 0.1, "scale_by": 1.5, "output_prefix": "vq_smoke/image"},
            "warnings": [], "prompts": [
                {"index": i, "input_file": f"/data/stills/img{i // 2 + 1}.png",
                 "staged_name": f"vq/staged/ab/ab{i // 2}.png", "try_index": i % 2, "seed": 1000 + i,
                 "params": {"seed": 1000 + i},
                 "graph": {"2": {"class_type": "VQNoise", "inputs": {"seed": 1000 + i}}}}
                for i in range(n)]}


@pytest.fixture
def fake() -> FakeVq:
    fake = FakeVq()
    for name in CATALOG.names():
        fake.on("GET", f"/workflows/{name}", CATALOG.describe(name))
    fake.error("GET", "/workflows/nope", 404, "not_found", "no workflow named 'nope'; known workflows: smoke-image")
    fake.on("GET", "/workflows", {"workflows": CATALOG.summaries(), "problems": []})

    def submit(req: Request) -> tuple[int, Any]:
        if req.body.get("dry_run"):
            return 200, plan()
        return 201, {**s.detail("pending"), "id": 21, "name": req.body.get("name") or "3 prompts", "total": 3}

    fake.on("POST", "/jobs", handler=submit)
    return fake


def posted(fake: FakeVq) -> dict[str, Any]:
    (body,) = [r.body for r in fake.requests if r.method == "POST" and r.path == "/jobs"]
    return body


def test_submit_sends_typed_values_and_every_option(fake: FakeVq, tmp_path: Path) -> None:
    r = run(fake, "submit", "wan-i2v", str(tmp_path), "--param", "steps=20", "-p", "cfg=3.5",
            "-p", "flip_orientation=yes", "--per-file", "cat.png:positive_prompt=the cat yawns", "--tries", "2",
            "--seed", "7", "--priority", "3", "--name", "night", "--no-stage", "--move-processed")
    assert r.code == 0, r.err
    assert posted(fake) == {
        "workflow": "wan-i2v", "input": str(tmp_path), "params": {"steps": 20, "cfg": 3.5, "flip_orientation": True},
        "per_file_params": {"cat.png": {"positive_prompt": "the cat yawns"}},
        "tries": 2, "seed": 7, "priority": 3, "name": "night", "stage": False, "move_processed": True}
    assert r.out == "Queued job 21 (night): 3 prompts of smoke-image.\n"
    assert "vq watch 21" in r.err


def test_defaults_are_left_to_the_server(fake: FakeVq) -> None:
    run(fake, "submit", "smoke-image", "/data/stills")
    assert posted(fake) == {"workflow": "smoke-image", "input": "/data/stills", "params": {}, "tries": 1,
                            "priority": 0}


def test_random_seed_prompt_mode_and_dry_run_are_sent_when_given(fake: FakeVq) -> None:
    run(fake, "submit", "t2i", "--random-seed", "--prompt-mode", "manual", "-p", "positive_prompt=x")
    body = posted(fake)
    assert body["randomize_seed"] is True and body["prompt_mode"] == "manual" and "seed" not in body


def test_param_seed_means_the_seed_option(fake: FakeVq) -> None:
    run(fake, "submit", "smoke-image", "/data/stills", "-p", "seed=42")
    body = posted(fake)
    assert body["seed"] == 42 and "seed" not in body["params"]
    r = run(fake, "submit", "smoke-image", "/data/stills", "-p", "seed=42", "--seed", "1")
    assert r.code == 2 and "give the seed once" in r.err


def test_submit_input_forms(fake: FakeVq, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a.png").write_bytes(b"x")
    monkeypatch.chdir(tmp_path)
    run(fake, "submit", "t2i", "--param", "positive_prompt=fox")
    assert "input" not in posted(fake)
    fake.requests.clear()
    run(fake, "submit", "smoke-image", "a.png", "/on/the/server/b.png")
    assert posted(fake)["input"] == [str(tmp_path / "a.png"), "/on/the/server/b.png"]


@pytest.mark.parametrize("argv, message", [
    (["--param", "steps"], "--param 'steps': expected NAME=VALUE"),
    (["--param", "steps=abc"], "--param steps: expects an integer, got 'abc'"),
    (["--param", "steps=1000"], "--param steps: 1000 is above the maximum 100"),
    (["--param", "stepz=4"], "--param stepz: unknown parameter for workflow wan-i2v; did you mean steps?"),
    (["--per-file", "cat.png:steps=3"], "--per-file cat.png:steps: cannot be set per file"),
    (["--per-file", "cat.png"], "--per-file 'cat.png': expected FILE:NAME=VALUE"),
])
def test_a_bad_parameter_exits_2_naming_it_and_queues_nothing(fake: FakeVq, argv: list[str], message: str) -> None:
    r = run(fake, "submit", "wan-i2v", "/data/stills", *argv)
    assert r.code == 2 and r.out == ""
    assert r.err.startswith(f"vq: error: {message}")
    assert fake.calls("POST") == []


def test_a_value_the_server_refuses_exits_2(fake: FakeVq) -> None:
    fake.error("POST", "/jobs", 400, "invalid_request", "split_step: must not exceed steps",
               {"param": "split_step"})
    r = run(fake, "submit", "wan-i2v", "/data/stills", "-p", "split_step=9", "-p", "steps=4")
    assert r.code == 2 and "split_step: must not exceed steps" in r.err


def test_an_unknown_workflow_is_1_with_the_known_ones(fake: FakeVq) -> None:
    r = run(fake, "submit", "nope")
    assert r.code == 1 and "no workflow named 'nope'" in r.err and fake.calls("POST") == []


def test_dry_run_prints_the_plan_and_queues_nothing(fake: FakeVq) -> None:
    r = run(fake, "submit", "smoke-image", "/data/stills", "--tries", "2", "--dry-run")
    assert r.code == 0 and posted(fake)["dry_run"] is True
    assert "\x1b" not in r.out
    check("submit-dry-run.txt", r.out)
    verbose = run(fake, "submit", "smoke-image", "/data/stills", "--tries", "2", "--dry-run", "-v")
    assert '"class_type": "VQNoise"' in verbose.out
    assert run(fake, "submit", "smoke-image", "/data/stills", "--dry-run", "--json").json() == plan()


def test_wait_follows_the_job_and_exits_by_its_outcome(fake: FakeVq) -> None:
    fake.on("GET", "/jobs/21", {**s.finished("succeeded"), "id": 21})
    r = run(fake, "submit", "smoke-image", "/data/stills", "--wait")
    assert r.code == 0 and r.out.splitlines()[-1].startswith("✓ job 21")
    fake.on("GET", "/jobs/21", {**s.finished("failed"), "id": 21})
    r = run(fake, "submit", "smoke-image", "/data/stills", "--wait")
    assert r.code == 1 and "job 21 ended failed" in r.err


def test_json_submit_prints_the_created_job(fake: FakeVq) -> None:
    r = run(fake, "submit", "smoke-image", "/data/stills", "--json")
    assert r.code == 0 and r.json()["id"] == 21 and r.err == ""


def test_unreachable_without_offline_is_1(fake: FakeVq) -> None:
    fake.down = True
    r = run(fake, "submit", "smoke-image", "/data/stills")
    assert r.code == 1 and "not reachable" in r.err


def test_offline_needs_a_data_dir(fake: FakeVq, tmp_path: Path) -> None:
    r = run(fake, "submit", "smoke-image", "/data/stills", "--offline")
    assert r.code == 2 and "--offline needs --data-dir" in r.err
    r = run(fake, "submit", "smoke-image", "/data/stills", "--offline", "--data-dir", str(tmp_path))
    assert r.code == 2 and "no queue database at" in r.err
    assert fake.requests == []  # --offline never asks the server


# --- workflows ----------------------------------------------------------------------------------


def test_workflows_lists_and_describes(fake: FakeVq) -> None:
    r = run(fake, "workflows")
    assert r.code == 0 and r.out.splitlines()[0].split() == ["NAME", "MODE", "TITLE"]
    assert any(line.startswith("smoke-image") for line in r.out.splitlines())
    r = run(fake, "workflows", "smoke-image")
    assert r.code == 0
    check("workflows-smoke-image.txt", r.out)
    assert run(fake, "workflows", "smoke-image", "--json").json() == CATALOG.describe("smoke-image")


def test_workflows_reload_reports_problems_on_stderr(fake: FakeVq) -> None:
    problem = {"file": "/u/mine.yaml", "field": "params.steps.default", "reason": "0 is below the minimum 1"}
    fake.on("POST", "/workflows/reload", {"workflows": ["smoke-image"], "problems": [problem]})
    r = run(fake, "workflows", "--reload")
    assert r.code == 0 and fake.calls("POST") == [("POST", "/workflows/reload")]
    assert "vq: warning: /u/mine.yaml: params.steps.default: 0 is below the minimum 1" in r.err


# --- cleanup ----------------------------------------------------------------------------------


def cleanup_answer(dry_run: bool, failed: bool = False) -> dict[str, Any]:
    files = [{"path": f"/comfy/input/vq/staged/ab/ab{i}.png", "name": f"vq/staged/ab/ab{i}.png", "kind": "staged",
              "bytes": 2_000_000, "shared": False, "reason": "unused for 9 days (retention 7)"} for i in range(2)]
    return {"dry_run": dry_run, "retention_days": 7.0, "referenced": {"files": 3, "bytes": 5_000_000},
            "waiting": {"files": 0, "bytes": 0}, "files": files, "bytes": 4_000_000, "freed_bytes": 4_000_000,
            "failed": [{**files[0], "error": "permission denied"}] if failed else [], "skipped": []}


def test_cleanup_is_a_dry_run_unless_apply(fake: FakeVq) -> None:
    fake.on("POST", "/staging/cleanup", handler=lambda req: (200, cleanup_answer(not req.body["apply"])))
    r = run(fake, "cleanup")
    assert r.code == 0 and fake.requests[-1].body == {"apply": False}
    check("cleanup-dry-run.txt", r.out)
    assert "vq cleanup --apply" in r.err
    r = run(fake, "cleanup", "--apply")
    assert r.code == 0 and fake.requests[-1].body == {"apply": True}
    assert "Removed 2 files, 3.8 MB (frees 3.8 MB)" in r.out and r.err == ""


def test_cleanup_that_could_not_remove_a_file_is_1(fake: FakeVq) -> None:
    fake.on("POST", "/staging/cleanup", cleanup_answer(False, failed=True))
    r = run(fake, "cleanup", "--apply")
    assert r.code == 1 and "could not remove /comfy/input/vq/staged/ab/ab0.png: permission denied" in r.err


# --- Idempotency-Key: a fresh key per run, the same on its own retry, a timeout says how to check ---


def keys(fake: FakeVq) -> list[str]:
    return [r.headers.get("Idempotency-Key", "") for r in fake.requests if r.method == "POST" and r.path == "/jobs"]


def test_each_run_sends_a_fresh_key(fake: FakeVq) -> None:
    assert run(fake, "submit", "smoke-image", "/data/stills").code == 0
    assert run(fake, "submit", "smoke-image", "/data/stills").code == 0
    first, second = keys(fake)
    assert first != second and uuid.UUID(first) and uuid.UUID(second)


def test_a_dropped_connection_is_retried_with_the_same_key(fake: FakeVq) -> None:
    seen: list[Request] = []

    def flaky(req: Request) -> tuple[int, Any]:
        seen.append(req)
        if len(seen) == 1:
            raise requests.ConnectionError("Connection reset by peer")
        return 201, {**s.detail("pending"), "id": 21}

    fake.on("POST", "/jobs", handler=flaky)
    r = run(fake, "submit", "smoke-image", "/data/stills")
    assert r.code == 0, r.err
    first, second = keys(fake)
    assert first == second


def test_a_timeout_says_the_job_may_exist_and_how_to_check(fake: FakeVq) -> None:
    def slow(req: Request) -> tuple[int, Any]:
        raise requests.ReadTimeout("read timed out")

    fake.on("POST", "/jobs", handler=slow)
    r = run(fake, "submit", "smoke-image", "/data/stills", "--name", "night batch")
    assert r.code == 1
    (key,) = keys(fake)  # a timeout is not retried: the server may still be staging
    assert "may have been created" in r.err
    assert "vq list --search 'night batch'" in r.err and f"--idempotency-key {key}" in r.err


def test_the_key_of_a_timed_out_run_can_be_reused(fake: FakeVq) -> None:
    assert run(fake, "submit", "smoke-image", "/data/stills", "--idempotency-key", "k-123").code == 0
    assert keys(fake) == ["k-123"]
