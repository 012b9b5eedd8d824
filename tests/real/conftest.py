"""Fixtures for the real-ComfyUI suite (tests/real).

Every test in this directory is skipped unless ``VQ_COMFYUI_DIR`` points at a ComfyUI
source checkout. ComfyUI is started through ``scripts/comfyui`` (so it uses the same
Python and flags as a developer's manual run), once per session, on a free port with a
fresh state directory in pytest's tmp dir; this checkout is linked into it as
``custom_nodes/video-queue``. See docs/real-comfyui.md.

Fixture and helper API. Test modules cannot reliably import from a conftest.py (pytest
re-imports every conftest as the module "conftest"), so the upload helper is also a
method, ``real_comfy.upload(name, data)``, and a fixture, ``comfy_upload(name, data)``:

``real_comfy`` (session) -> RealComfy
    url           "http://127.0.0.1:<port>" (no trailing slash)
    port          int
    state_dir     Path of the --base-directory (custom_nodes/, input/, output/, temp/,
                  user/, models/, comfyui.db)
    input_dir, output_dir, temp_dir, user_dir, custom_nodes_dir: Paths in state_dir
    node_dir      state_dir / "custom_nodes" / "video-queue" (symlink to this checkout)
    log_path      Path of the ComfyUI log (stdout + stderr); every start appends to it
                  and writes a "==== vq: start N ====" line first
    pid           PID of the running ComfyUI process (None when stopped)
    starts        how many times it was started
    log_text(current=True)  the log text of the current run (or the whole file)
    get(path, **kw) / post(path, data, **kw) / request(method, path, data, headers)
                  small urllib helpers returning (status, body bytes), never raising on 4xx/5xx
    get_json(path) / post_json(path, obj, expect=200)
                  parsed JSON; raise AssertionError on another status
    upload(name, data, **kw)  see upload() below
    is_alive()    the process is running
    wait_ready(timeout=120)  waits for GET /system_stats == 200
    start()       starts ComfyUI (if not running) and waits until ready
    restart()     SIGKILL, then start again on the same state dir and port, wait ready
    kill9()       SIGKILL the process group (ComfyUI and its helper), wait for it
    stop()        SIGTERM, then SIGKILL after 10 s

``upload(real_comfy, name, data, *, subfolder="", type="input", overwrite=True)``
    POST /upload/image (multipart field ``image``); returns the JSON answer
    ({"name", "subfolder", "type"}).

``real_comfy_factory(**kw)`` (function scope) -> a further, started RealComfy with its own
fresh state dir and free port, stopped at the end of the test. Keyword arguments:
``node_name="video-queue"``, ``extra_args=None`` (ComfyUI args), ``ready_timeout=120``,
``env=None`` (overrides, e.g. {"VQ_COMFYUI_DIR": ..., "VQ_COMFYUI_PYTHON": ...} for
another ComfyUI version), ``port=None``, ``state_dir=None``. Each instance takes
~0.8 GB of memory and 10-20 s to start.

The ComfyUI instance is shared by the whole session: tests must not assume an empty
queue, history or output directory, and a test that calls kill9() must leave it running
again (call restart() or start()). ComfyUI keeps history in memory, so a restart
forgets it.
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
SCRIPT = REPO / "scripts" / "comfyui"
NODE_NAME = "video-queue"
READY_TIMEOUT = 120.0


SKIP_REASON = ("real ComfyUI tests: set VQ_COMFYUI_DIR to a ComfyUI checkout "
               "(see docs/real-comfyui.md)")


def _comfy_dir() -> str | None:
    return os.environ.get("VQ_COMFYUI_DIR") or None


def pytest_collection_modifyitems(config, items):
    # Hooks in a conftest see every item of the session: touch only ours.
    for item in items:
        if HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.real)


@pytest.fixture(autouse=True)
def _require_real_comfyui():
    if not _comfy_dir():
        pytest.skip(SKIP_REASON)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RealComfy:
    """One real ComfyUI process, started by scripts/comfyui."""

    def __init__(self, state_dir: Path, port: int | None = None,
                 node_name: str = NODE_NAME, extra_args: list[str] | None = None,
                 ready_timeout: float = READY_TIMEOUT, env: dict | None = None):
        Path(state_dir).mkdir(parents=True, exist_ok=True)
        self.state_dir = Path(state_dir).resolve()
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.node_name = node_name
        self.extra_args = list(extra_args or [])
        self.ready_timeout = ready_timeout
        # Overrides on top of os.environ, e.g. {"VQ_COMFYUI_DIR": ..., "VQ_COMFYUI_PYTHON": ...}
        # for a second instance of another ComfyUI version.
        self.env = dict(env or {})
        self.input_dir = self.state_dir / "input"
        self.output_dir = self.state_dir / "output"
        self.temp_dir = self.state_dir / "temp"
        self.user_dir = self.state_dir / "user"
        self.custom_nodes_dir = self.state_dir / "custom_nodes"
        self.node_dir = self.custom_nodes_dir / node_name
        self.log_path = self.state_dir.parent / f"{self.state_dir.name}-comfyui.log"
        self.starts = 0
        self._proc: subprocess.Popen | None = None
        self._log_offset = 0
        # Safety net if pytest dies without tearing the fixture down.
        atexit.register(self._kill_at_exit)

    def _kill_at_exit(self) -> None:
        if self.is_alive():
            self._signal_group(signal.SIGKILL)

    # -- process control -------------------------------------------------------
    @property
    def pid(self) -> int | None:
        return self._proc.pid if self.is_alive() else None

    def is_alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def command(self) -> list[str]:
        cmd = [str(SCRIPT), "--port", str(self.port), "--state", str(self.state_dir),
               "--node-name", self.node_name]
        if self.extra_args:
            cmd += ["--", *self.extra_args]
        return cmd

    def start(self) -> "RealComfy":
        if self.is_alive():
            return self
        self.starts += 1
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self._log_offset = log.tell()
            log.write(f"==== vq: start {self.starts} ({' '.join(self.command())}) ====\n"
                      .encode())
            log.flush()
            # start_new_session: ComfyUI and scripts/comfyui's settings helper share a
            # process group of their own, so kill9() gets both and Ctrl-C of pytest
            # does not reach them first.
            self._proc = subprocess.Popen(
                self.command(), cwd=str(REPO), stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True,
                env={**os.environ, **self.env})
        self.wait_ready(self.ready_timeout)
        return self

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        last = "no answer yet"
        while time.monotonic() < deadline:
            if not self.is_alive():
                raise RuntimeError(
                    f"ComfyUI exited with code {self._proc.returncode if self._proc else None} "
                    f"before it was ready; log {self.log_path}:\n{self._log_tail()}")
            try:
                status, _ = self.get("/system_stats", timeout=2)
                if status == 200:
                    return
                last = f"HTTP {status}"
            except OSError as e:  # connection refused, reset, timeout
                last = repr(e)
            time.sleep(0.25)
        raise TimeoutError(f"ComfyUI at {self.url} not ready after {timeout:.0f} s ({last}); "
                           f"log {self.log_path}:\n{self._log_tail()}")

    def _signal_group(self, sig: int) -> None:
        if self._proc is None:
            return
        try:
            os.killpg(self._proc.pid, sig)
        except ProcessLookupError:
            pass

    def kill9(self) -> None:
        if self._proc is None:
            return
        self._signal_group(signal.SIGKILL)
        self._proc.wait(timeout=30)

    def stop(self, timeout: float = 10.0) -> None:
        if self._proc is None:
            return
        if self._proc.poll() is None:
            try:
                os.kill(self._proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self._proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
        # Also ends what is left of the group (the settings helper), or ComfyUI itself.
        self._signal_group(signal.SIGKILL)
        self._proc.wait(timeout=30)

    def restart(self) -> "RealComfy":
        self.kill9()
        return self.start()

    # -- logs -------------------------------------------------------------------
    def log_text(self, current: bool = True) -> str:
        try:
            with open(self.log_path, "rb") as f:
                if current:
                    f.seek(self._log_offset)
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def _log_tail(self, n: int = 60) -> str:
        return "\n".join(self.log_text().splitlines()[-n:])

    # -- HTTP ---------------------------------------------------------------------
    def request(self, method: str, path: str, data: bytes | None = None,
                headers: dict | None = None, timeout: float = 30) -> tuple[int, bytes]:
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def get(self, path: str, **kw) -> tuple[int, bytes]:
        return self.request("GET", path, **kw)

    def post(self, path: str, data: bytes | None = b"", **kw) -> tuple[int, bytes]:
        return self.request("POST", path, data=data, **kw)

    def get_json(self, path: str, **kw):
        status, body = self.get(path, **kw)
        if status != 200:
            raise AssertionError(f"GET {path} -> {status}: {body[:500]!r}")
        return json.loads(body)

    def post_json(self, path: str, obj, expect: int | None = 200, **kw):
        status, body = self.post(path, json.dumps(obj).encode(),
                                 headers={"Content-Type": "application/json"}, **kw)
        if expect is not None and status != expect:
            raise AssertionError(f"POST {path} -> {status}: {body[:500]!r}")
        return json.loads(body) if body else None

    def upload(self, name: str, data: bytes, **kw) -> dict:
        """Same as the module-level ``upload(self, name, data, **kw)``."""
        return upload(self, name, data, **kw)

    def __repr__(self) -> str:
        return f"<RealComfy {self.url} pid={self.pid} state={self.state_dir}>"


def upload(real_comfy: RealComfy, name: str, data: bytes, *, subfolder: str = "",
           type: str = "input", overwrite: bool = True) -> dict:
    """POST /upload/image with the multipart field ``image``; returns ComfyUI's JSON."""
    boundary = "vq" + uuid.uuid4().hex
    parts = []

    def field(name_: str, value: str) -> None:
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name_}"'
                     f"\r\n\r\n{value}\r\n".encode())

    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="image"; '
                 f'filename="{name}"\r\nContent-Type: application/octet-stream\r\n\r\n'
                 .encode() + data + b"\r\n")
    field("type", type)
    if subfolder:
        field("subfolder", subfolder)
    if overwrite:
        field("overwrite", "true")
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    status, resp = real_comfy.post(
        "/upload/image", body,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    if status != 200:
        raise AssertionError(f"upload {name} -> {status}: {resp[:500]!r}")
    return json.loads(resp)


@pytest.fixture(scope="session")
def real_comfy(tmp_path_factory):
    if not _comfy_dir():
        pytest.skip(SKIP_REASON)
    state = tmp_path_factory.mktemp("comfy") / "state"
    comfy = RealComfy(state)
    try:
        comfy.start()
    except BaseException:
        comfy.stop()
        raise
    try:
        yield comfy
    finally:
        comfy.stop()


@pytest.fixture
def real_comfy_factory(tmp_path_factory):
    made: list[RealComfy] = []

    def make(state_dir: Path | None = None, **kw) -> RealComfy:
        if state_dir is None:
            state_dir = tmp_path_factory.mktemp("comfy-extra") / "state"
        comfy = RealComfy(state_dir, **kw)
        made.append(comfy)
        comfy.start()
        return comfy

    try:
        yield make
    finally:
        for comfy in made:
            comfy.stop()


@pytest.fixture
def comfy_upload(real_comfy):
    """``comfy_upload(name, data)`` = ``upload(real_comfy, name, data)``."""
    def _upload(name: str, data: bytes, **kw) -> dict:
        return upload(real_comfy, name, data, **kw)
    return _upload


CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TAB_BUTTON = '[class~="vq.queue-tab-button"]'  # the frontend names it "<tab id>-tab-button"


@pytest.fixture(scope="module")
def page(real_comfy: Any) -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("needs Debian's chromium: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    # Opened per module: Playwright's sync API keeps an event loop running while it is open.
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(real_comfy.url + "/")
        page.locator(TAB_BUTTON).wait_for(timeout=60_000)
        page.errors = errors  # type: ignore[attr-defined]
        yield page
        browser.close()
