"""vq watch: in-place redraw on a TTY, plain lines when piped, and following one job."""

from __future__ import annotations

import pytest

from tests.unit.cli import samples as s
from tests.unit.cli.fakes import FakeVq, Request, run


def sequence(*bodies: object):  # noqa: ANN201 - a fake handler
    """Answer each request with the next body, then keep answering the last one."""
    left = list(bodies)

    def handler(_req: Request) -> tuple[int, object]:
        return 200, left.pop(0) if len(left) > 1 else left[0]

    return handler


def running(done: int, value: int = 5) -> dict[str, object]:
    job = s.detail()
    job["done"] = done
    job["prompts"][3]["progress"] = {"value": value, "max": 20, "node": "13"}
    return job


@pytest.fixture
def fake() -> FakeVq:
    return FakeVq().on("GET", "/queue", s.QUEUE)


def test_watch_job_piped_prints_a_line_per_prompt_change_and_exits_0_on_success(fake: FakeVq) -> None:
    fake.on("GET", "/jobs/{id}", handler=sequence(running(3, 5), running(3, 10), s.finished("succeeded")))
    r = run(fake, "watch", "12", "--interval", "0.5")
    assert r.code == 0 and r.sleeps == [0.5, 0.5]
    lines = r.out.splitlines()
    # first poll: every prompt already past pending; a sampler step alone prints nothing
    assert lines[:4] == ["job 12 #1 succeeded (3/5 done)", "job 12 #2 succeeded (3/5 done)",
                         "job 12 #3 failed (3/5 done)", "job 12 #4 running (3/5 done)"]
    assert lines[-1].startswith("✓ job 12 night batch: succeeded, 5/5 done")
    assert "\x1b[" not in r.out


def test_watch_job_that_fails_exits_1(fake: FakeVq) -> None:
    fake.on("GET", "/jobs/{id}", s.finished("failed"))
    r = run(fake, "watch", "12")
    assert r.code == 1 and "job 12 ended failed: 1 prompt failed" in r.err and "vq status 12" in r.err


def test_watch_job_on_a_tty_redraws_in_place(fake: FakeVq) -> None:
    fake.on("GET", "/jobs/{id}", handler=sequence(running(3, 5), running(3, 10), s.finished("succeeded")))
    r = run(fake, "watch", "12", tty=True, width=120)
    frames = r.out.split("\x1b[2F\x1b[J")  # two live lines: the job bar and the running prompt
    assert len(frames) == 3
    assert "5/20 steps  node 13" in frames[0] and "10/20 steps" in frames[1]
    assert "#4 img4.png" in frames[0]
    assert frames[2].startswith("✓ job 12")


def test_watch_job_json_prints_the_final_job(fake: FakeVq) -> None:
    fake.on("GET", "/jobs/{id}", handler=sequence(running(3), s.finished("succeeded")))
    r = run(fake, "watch", "12", "--json")
    assert r.code == 0 and r.json() == s.finished("succeeded")


def test_watch_all_piped_prints_changes_and_finished_jobs_until_ctrl_c(fake: FakeVq) -> None:
    one = s.summary(12, "running", done=3)
    two = s.summary(12, "running", done=4)
    active = [{"jobs": [one], "total": 1}, {"jobs": [one], "total": 1}, {"jobs": [two], "total": 1},
              {"jobs": [], "total": 0}]
    fake.on("GET", "/jobs", handler=sequence(*active))
    fake.on("GET", "/jobs/{id}", s.finished("succeeded"))
    r = run(fake, "watch", max_sleeps=4)
    assert r.code == 0  # Ctrl-C ends an open-ended watch normally
    assert fake.requests[0].query == {"status": "pending,running", "sort": "actionable", "limit": "100"}
    lines = r.out.splitlines()
    assert lines == ["job 12 night batch: running 3/5 ETA 5m12s", "job 12 night batch: running 4/5 ETA 5m12s",
                     lines[2]]
    assert lines[2].startswith("✓ job 12 night batch: succeeded, 5/5 done")


def test_watch_all_on_a_tty_shows_queue_jobs_and_sampler_steps(fake: FakeVq) -> None:
    job = s.summary(12, "running", current={"prompt_id": 43, "value": 12, "max": 20, "node": "13"})
    fake.on("GET", "/jobs", {"jobs": [job], "total": 1})
    r = run(fake, "watch", tty=True, width=120, max_sleeps=2)
    frames = r.out.split("\x1b[3F\x1b[J")
    assert len(frames) == 2
    first = frames[0].splitlines()
    assert first[0].startswith("queue running · worker running 1/2 in flight")
    assert first[1].startswith("  12  night batch") and "3/5  running  ETA 5m12s" in first[1]
    assert "prompt 43" in first[2] and "12/20 steps  node 13" in first[2]
    assert all(len(line) <= 120 for line in first)


def test_watch_all_json_prints_one_document_per_poll(fake: FakeVq) -> None:
    fake.on("GET", "/jobs", {"jobs": [], "total": 0})
    r = run(fake, "watch", "--json", max_sleeps=3)
    assert [line for line in r.out.splitlines()] == ['{"jobs": [], "total": 0}'] * 3


def test_watch_job_rides_out_a_comfyui_restart(fake: FakeVq) -> None:
    fake.on("GET", "/jobs/{id}", handler=sequence(running(3), running(3), s.finished("succeeded")))

    def restart(n: int) -> None:
        fake.down = n == 1  # down after the first poll, back after the second sleep

    r = run(fake, "watch", "12", on_sleep=restart)
    assert r.code == 0
    assert r.err.startswith("vq: warning: ComfyUI is not reachable at") and "still trying" in r.err
    assert "vq: reconnected to" in r.err
    assert r.sleeps[1] == 2.0  # the reconnect interval, not the 1 s poll


def test_watch_all_rides_out_a_restart_too(fake: FakeVq) -> None:
    fake.on("GET", "/jobs", {"jobs": [], "total": 0})
    fake.down = True
    r = run(fake, "watch", max_sleeps=3)
    assert r.code == 0 and r.err.count("not reachable") == 1
