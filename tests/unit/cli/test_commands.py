"""What each queue command asks the API and prints (human and --json)."""

from __future__ import annotations

import json

import pytest

from tests.unit.cli import samples as s
from tests.unit.cli.fakes import FakeVq, Request, run


@pytest.fixture
def fake() -> FakeVq:
    return (FakeVq().on("GET", "/health", s.HEALTH).on("GET", "/jobs", s.job_list())
            .on("GET", "/jobs/{id}", s.detail()).on("GET", "/jobs/{id}/log", s.LOG).on("GET", "/queue", s.QUEUE))


# --- json: exactly the API body ------------------------------------------------------------


@pytest.mark.parametrize("argv, body", [
    (["health"], s.HEALTH),
    (["list"], s.job_list()),
    (["status", "12"], s.detail()),
    (["log", "12"], s.LOG),
])
def test_json_prints_exactly_the_api_body(fake: FakeVq, argv: list[str], body: object) -> None:
    r = run(fake, *argv, "--json")
    assert r.code == 0 and r.err == ""
    assert r.json() == body


def test_health_asks_the_api_prefix(fake: FakeVq) -> None:
    run(fake, "health")
    assert fake.calls() == [("GET", "/health")]


# --- list --------------------------------------------------------------------------------


def test_list_passes_filters_as_query(fake: FakeVq) -> None:
    run(fake, "list", "--status", "failed,running", "--search", "night", "--limit", "20", "--sort", "priority")
    (req,) = fake.requests
    assert req.query == {"status": "failed,running", "search": "night", "limit": "20", "sort": "priority"}


def test_list_without_filters_sends_only_the_limit(fake: FakeVq) -> None:
    run(fake, "list")
    assert fake.requests[0].query == {"limit": "50"}


def test_list_says_when_it_shows_a_page(fake: FakeVq) -> None:
    fake.on("GET", "/jobs", {**s.job_list(), "total": 80})
    r = run(fake, "list")
    assert r.err == "showing 4 of 80 jobs (see --limit)\n"


def test_list_with_no_jobs_says_so_on_stderr(fake: FakeVq) -> None:
    fake.on("GET", "/jobs", {"jobs": [], "total": 0, "limit": 50, "offset": 0, "counts": {}})
    r = run(fake, "list")
    assert r.code == 0 and r.out == "" and "no jobs yet" in r.err
    assert "no jobs match" in run(fake, "list", "--status", "failed").err


def test_list_on_a_narrow_tty_truncates_the_name_column_only(fake: FakeVq) -> None:
    long = s.summary(1, "running", name="a very long job name that does not fit in a narrow terminal")
    fake.on("GET", "/jobs", {**s.job_list(), "jobs": [long], "total": 1})
    r = run(fake, "list", tty=True, width=70)
    assert all(len(line) <= 70 for line in r.out.splitlines())
    assert "…" in r.out and "smoke-image" in r.out
    piped = run(fake, "list", width=70)  # never cut when piped
    assert "does not fit in a narrow terminal" in piped.out


def test_colour_only_when_asked(fake: FakeVq) -> None:
    assert "\x1b[" not in run(fake, "list", tty=True).out
    assert "\x1b[34mrunning" in run(fake, "list", tty=True, color=True).out


# --- status / log ---------------------------------------------------------------------------


def test_status_shows_prompts_seeds_comfy_ids_errors_outputs(fake: FakeVq) -> None:
    out = run(fake, "status", "12").out
    assert "1002" in out and "2c4b7a97" in out and "CUDA out of memory" in out
    assert "output/vq/img1_00001_.png" in out and "running 12/20" in out


def test_status_verbose_shows_full_ids_paths_and_tracebacks(fake: FakeVq) -> None:
    out = run(fake, "status", "12", "-v").out
    assert "2c4b7a97-0000-4000-8000-000000000042" in out and "/data/stills/img3.png" in out
    assert "Traceback (most recent call last):" in out


def test_log_prints_one_line_per_entry(fake: FakeVq) -> None:
    out = run(fake, "log", "12").out.splitlines()
    assert out[0] == "2026-11-18 08:00:00  info     submitted: submitted with 5 prompt(s)"
    assert len(out) == 3


def test_log_follow_reads_on_until_the_job_ends(fake: FakeVq) -> None:
    pages = {0: s.LOG, 3: {"entries": [], "next_after": 3}}
    later = {"id": 4, "at": s.T2, "level": "info", "event": "job", "message": "job is now failed", "prompt_id": None}
    state = {"status": "running"}

    def log(req: Request) -> tuple[int, object]:
        after = int(req.query.get("after", 0))
        if after == 3 and state["status"] == "failed":
            return 200, {"entries": [later], "next_after": 4}
        return 200, pages.get(after, {"entries": [], "next_after": after})

    def job(req: Request) -> tuple[int, object]:
        return 200, {**s.detail(), "status": state["status"]}

    def finish(n: int) -> None:
        if n == 2:
            state["status"] = "failed"

    fake.on("GET", "/jobs/{id}/log", handler=log).on("GET", "/jobs/{id}", handler=job)
    r = run(fake, "log", "12", "--follow", on_sleep=finish)
    assert r.code == 0 and r.out.splitlines()[-1].endswith("job: job is now failed")
    assert len(r.out.splitlines()) == 4 and len(r.sleeps) == 2


def test_log_follow_json_is_one_entry_per_line(fake: FakeVq) -> None:
    fake.on("GET", "/jobs/{id}", s.finished())
    fake.on("GET", "/jobs/{id}/log", handler=lambda req: (200, s.LOG if req.query.get("after") == "0"
                                                          else {"entries": [], "next_after": 3}))
    r = run(fake, "log", "12", "-f", "--json")
    assert [json.loads(line)["id"] for line in r.out.splitlines()] == [1, 2, 3]


# --- cancel / retry -----------------------------------------------------------------------------


def cancel_body(job_id: int) -> dict[str, object]:
    return {"job": s.summary(job_id, "canceled"), "canceled": 2, "canceling": 1}


def test_cancel_one_job(fake: FakeVq) -> None:
    fake.on("POST", "/jobs/{id}/cancel", cancel_body(12))
    r = run(fake, "cancel", "12")
    assert r.code == 0 and fake.calls("POST") == [("POST", "/jobs/12/cancel")]
    assert r.out == "Job 12: 2 prompts canceled, 1 being interrupted (job is canceled).\n"
    assert fake.requests[-1].body is None and fake.requests[-1].content_type is None  # no form body


def test_cancel_several_jobs_goes_on_after_an_error_and_exits_with_the_worst(fake: FakeVq) -> None:
    fake.on("POST", "/jobs/{id}/cancel", cancel_body(12))
    fake.error("POST", "/jobs/13/cancel", 409, "conflict", "job 13 has nothing left to cancel")
    r = run(fake, "cancel", "12", "13", "14")
    assert r.code == 1
    assert fake.calls("POST") == [("POST", "/jobs/12/cancel"), ("POST", "/jobs/13/cancel"), ("POST", "/jobs/14/cancel")]
    assert r.err == "vq: job 13: job 13 has nothing left to cancel\n"
    assert len(r.out.splitlines()) == 2


def test_cancel_several_jobs_json_is_a_list_with_error_envelopes(fake: FakeVq) -> None:
    fake.on("POST", "/jobs/{id}/cancel", cancel_body(12))
    fake.error("POST", "/jobs/13/cancel", 409, "conflict", "nothing to cancel")
    r = run(fake, "cancel", "12", "13", "--json")
    body = r.json()
    assert body[0] == cancel_body(12) and body[1]["error"]["code"] == "conflict"


def test_cancel_a_prompt(fake: FakeVq) -> None:
    fake.on("POST", "/prompts/{id}/cancel", s.prompt(3, "canceled"))
    r = run(fake, "cancel", "--prompt", "43")
    assert fake.calls("POST") == [("POST", "/prompts/43/cancel")]
    assert r.out == "Prompt 43 (job 12 #3) is canceled.\n"


@pytest.mark.parametrize("command", ["cancel", "retry"])
def test_cancel_and_retry_need_a_target(fake: FakeVq, command: str) -> None:
    assert run(fake, command).code == 2
    r = run(fake, command, "12", "--prompt", "4")
    assert r.code == 2 and "not both" in r.err and fake.calls("POST") == []


def test_retry_jobs_and_a_prompt(fake: FakeVq) -> None:
    fake.on("POST", "/jobs/{id}/retry", {"job": s.summary(12, "running"), "retried": 1})
    fake.on("POST", "/prompts/{id}/retry", s.prompt(2, "pending"))
    assert run(fake, "retry", "12").out == "Job 12: 1 prompt back in the queue (job is running).\n"
    assert run(fake, "retry", "--prompt", "42").out == "Prompt 42 (job 12 #2) is pending again.\n"


# --- queue ----------------------------------------------------------------------------------


def test_pause_and_resume(fake: FakeVq) -> None:
    fake.on("POST", "/queue/pause", {**s.QUEUE, "paused": True, "worker": "paused", "in_flight": 0})
    fake.on("POST", "/queue/resume", s.QUEUE)
    assert run(fake, "pause").out.startswith("Queue paused; worker paused, 0/2 in flight")
    assert run(fake, "resume").out.startswith("Queue running; worker running, 1/2 in flight")
    assert run(fake, "pause", "--json").json()["paused"] is True


def test_priority_and_top(fake: FakeVq) -> None:
    fake.on("PATCH", "/jobs/{id}", s.summary(12, priority=10))
    fake.on("POST", "/jobs/{id}/top", s.summary(12, priority=11))
    assert run(fake, "priority", "12", "10").out == "Job 12 priority is now 10.\n"
    assert fake.requests[-1].body == {"priority": 10}
    assert run(fake, "top", "12").out == "Job 12 is at the top of the queue (priority 11).\n"


def test_clear_with_yes_sends_the_count_it_saw(fake: FakeVq) -> None:
    fake.on("POST", "/queue/clear", {"cleared": 6})
    r = run(fake, "clear", "--yes")
    assert r.code == 0 and r.out == "Canceled 6 prompts.\n"
    assert fake.requests[-1].body == {"expected_count": 6, "include_running": False}


def test_clear_running_counts_running_prompts_too(fake: FakeVq) -> None:
    fake.on("POST", "/queue/clear", {"cleared": 7})
    run(fake, "clear", "--yes", "--running")
    assert fake.requests[-1].body == {"expected_count": 7, "include_running": True}


def test_clear_asks_and_respects_no(fake: FakeVq) -> None:
    fake.on("POST", "/queue/clear", {"cleared": 6})
    r = run(fake, "clear", stdin="n\n", stdin_tty=True)
    assert r.code == 0 and "Cancel 6 prompts (pending and queued)? [y/N]" in r.err
    assert fake.calls("POST") == []
    r = run(fake, "clear", stdin="y\n", stdin_tty=True)
    assert r.code == 0 and fake.calls("POST") == [("POST", "/queue/clear")]


def test_clear_without_a_terminal_needs_yes(fake: FakeVq) -> None:
    r = run(fake, "clear")
    assert r.code == 2 and "pass --yes" in r.err and fake.calls("POST") == []


def test_clear_with_nothing_waiting(fake: FakeVq) -> None:
    fake.on("GET", "/queue", {**s.QUEUE, "counts": {"running": 1, "succeeded": 3}})
    assert run(fake, "clear").out == "Nothing to clear: no waiting prompts.\n"
    assert run(fake, "clear", "--json").json() == {"cleared": 0}


def test_clear_count_changed_is_1_with_advice(fake: FakeVq) -> None:
    fake.error("POST", "/queue/clear", 409, "count_changed", "the queue changed: 8 prompt(s) would be canceled, not 6",
               {"expected": 6, "actual": 8})
    r = run(fake, "clear", "-y")
    assert r.code == 1 and "the queue changed" in r.err and "run vq clear again" in r.err


def test_rm_deletes_each_job_and_exits_with_the_worst(fake: FakeVq) -> None:
    fake.on("DELETE", "/jobs/{id}", {"id": 12, "deleted": True})
    fake.error("DELETE", "/jobs/13", 409, "conflict", "job 13 is running; only finished jobs can be deleted")
    r = run(fake, "rm", "12", "13")
    assert fake.calls("DELETE") == [("DELETE", "/jobs/12"), ("DELETE", "/jobs/13")]
    assert r.code == 1 and r.out == "Job 12 deleted.\n" and "job 13 is running" in r.err
    assert fake.requests[0].body is None and fake.requests[0].content_type is None
    assert run(fake, "rm").code == 2


def test_health_shows_a_stuck_prompt_with_the_interrupt_command(fake: FakeVq) -> None:
    stuck = {"prompt_id": 40, "job_id": 12, "index": 2, "workflow": "wan-i2v", "running_seconds": 1900.0,
             "average_seconds": 600.0}
    fake.on("GET", "/health", {**s.HEALTH, "queue": {**s.HEALTH["queue"], "stuck": [stuck]}})
    r = run(fake, "health")
    [line] = [x for x in r.out.splitlines() if "stuck?" in x]
    assert "prompt 40 (job 12 #3) has run 32 min" in line and "average of 10 min" in line
    assert "vq cancel --prompt 40" in line
    assert "stuck?" not in run(FakeVq().on("GET", "/health", s.HEALTH), "health").out
