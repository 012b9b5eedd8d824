"""Exit codes 0/1/2 and the messages of main()'s single error handler."""

from __future__ import annotations

import pytest

from tests.unit.cli import samples as s
from tests.unit.cli.fakes import URL, FakeVq, run
from vq_extension.cli.errors import ExitCode, http_status_to_exit_code


@pytest.fixture
def fake() -> FakeVq:
    return FakeVq().on("GET", "/health", s.HEALTH).on("GET", "/jobs/{id}", s.detail())


def test_success_is_0(fake: FakeVq) -> None:
    assert run(fake, "health").code == ExitCode.OK == 0


@pytest.mark.parametrize("status, code", [(200, 0), (201, 0), (400, 2), (403, 1), (404, 1), (409, 1), (500, 1),
                                          (503, 1)])
def test_http_status_translation(status: int, code: int) -> None:
    assert http_status_to_exit_code(status) == code


def test_the_error_envelopes_hint_is_printed(fake: FakeVq) -> None:
    fake.on("GET", "/jobs/{id}", {"error": {
        "code": "staging_unwritable", "message": "/c/input/vq cannot be written (Permission denied)",
        "details": {"folder": "/c/input/vq"}, "hint": "make that folder writable for ComfyUI"}}, 503)
    r = run(fake, "status", "12")
    assert r.code == 1
    assert r.err == ("vq: error: /c/input/vq cannot be written (Permission denied)\n"
                     "  hint: make that folder writable for ComfyUI\n")


def test_unreachable_comfyui_is_1_with_a_clear_message(fake: FakeVq) -> None:
    fake.down = True
    r = run(fake, "status", "12", "--url", "http://127.0.0.1:8188")
    assert r.code == 1 and r.out == ""
    assert r.err == "vq: error: ComfyUI is not reachable at http://127.0.0.1:8188 (is it running? see --url / VQ_URL)\n"


def test_unreachable_names_the_url_from_vq_url(fake: FakeVq) -> None:
    fake.down = True
    r = run(fake, "list", environ={"VQ_URL": "gpu-box:8188/"})
    assert r.code == 1 and "not reachable at http://gpu-box:8188 " in r.err


def test_a_read_timeout_says_so(fake: FakeVq) -> None:
    fake.timeout = True
    r = run(fake, "health", "--timeout", "3")
    assert r.code == 1 and "did not answer within 3 s" in r.err


def test_comfyui_without_vq_is_1_and_says_vq_is_not_installed() -> None:
    r = run(FakeVq(), "health")  # every route answers ComfyUI's plain 404
    assert r.code == 1
    assert r.err.startswith(f"vq: error: vq is not installed in the ComfyUI at {URL}\n")
    assert "/api/vq/v1/health" in r.err and "custom_nodes" in r.err


def test_a_vq_404_is_1_with_the_server_message(fake: FakeVq) -> None:
    fake.error("GET", "/jobs/99", 404, "not_found", "job 99 does not exist")
    r = run(fake, "status", "99")
    assert (r.code, r.err) == (1, "vq: error: job 99 does not exist\n")


def test_a_409_is_1(fake: FakeVq) -> None:
    fake.error("POST", "/jobs/12/retry", 409, "conflict", "job 12 has no failed, canceled or interrupted prompt")
    r = run(fake, "retry", "12")
    assert r.code == 1 and "has no failed" in r.err


def test_a_500_is_1(fake: FakeVq) -> None:
    fake.error("GET", "/queue", 500, "internal", "internal error in vq; the traceback is in ComfyUI's log")
    r = run(fake, "clear")
    assert r.code == 1 and "internal error in vq" in r.err


def test_a_non_envelope_error_is_reported_with_its_status(fake: FakeVq) -> None:
    fake.on("GET", "/queue", "boom", 502)
    r = run(fake, "clear")
    assert r.code == 1 and "HTTP 502" in r.err


def test_a_400_is_2_and_lists_the_field_errors(fake: FakeVq) -> None:
    fake.error("PATCH", "/jobs/12", 400, "invalid_request", "priority: Input should be less than or equal to 1000000",
               {"errors": [{"loc": ["priority"], "msg": "Input should be less than or equal to 1000000",
                            "type": "less_than_equal"}]})
    r = run(fake, "priority", "12", "99999999")
    assert r.code == 2
    assert r.err.splitlines() == ["vq: error: priority: Input should be less than or equal to 1000000",
                                  "  priority: Input should be less than or equal to 1000000"]


def test_a_usage_error_is_2_with_the_usage_line_and_no_request(fake: FakeVq) -> None:
    r = run(fake, "status", "twelve")
    assert r.code == 2 and fake.requests == []
    lines = r.err.splitlines()
    assert lines[0].startswith("usage: vq status") and lines[-1].startswith("vq: error: argument JOB")


def test_errors_never_go_to_stdout_even_with_json(fake: FakeVq) -> None:
    fake.error("GET", "/jobs/99", 404, "not_found", "job 99 does not exist")
    r = run(fake, "status", "99", "--json")
    assert r.code == 1 and r.out == "" and "job 99 does not exist" in r.err


def test_debug_shows_the_traceback(fake: FakeVq) -> None:
    fake.down = True
    r = run(fake, "health", "--debug")
    assert r.code == 1 and "Traceback (most recent call last)" in r.err and "ConnectionError" in r.err
    assert r.err.rstrip().endswith("see --url / VQ_URL)")


def test_an_unexpected_exception_is_1_with_a_hint_to_use_debug(fake: FakeVq) -> None:
    fake.on("GET", "/jobs/12", {"unexpected": "shape"})
    r = run(fake, "status", "12")
    assert r.code == 1 and r.err.startswith("vq: internal error: KeyError") and "--debug" in r.err
    assert "Traceback" in run(fake, "status", "12", "--debug").err


def test_ctrl_c_is_130(fake: FakeVq) -> None:
    def interrupt(_req):  # noqa: ANN001, ANN202
        raise KeyboardInterrupt

    fake.on("GET", "/health", handler=interrupt)
    assert run(fake, "health").code == 130


def test_help_and_version_exit_0(fake: FakeVq, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(fake, "--help").code == 0
    assert run(fake, "--version").code == 0
    assert "vq 0.1.0" in capsys.readouterr().out


def test_health_not_ok_is_1(fake: FakeVq) -> None:
    fake.on("GET", "/health", {**s.HEALTH, "ok": False,
                               "queue": {**s.QUEUE, "worker": "error", "worker_error": "RuntimeError: x"}})
    r = run(fake, "health")
    assert r.code == 1 and "not ok" in r.out and "RuntimeError: x" in r.out
