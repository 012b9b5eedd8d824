"""Fixtures of the browser suite: the harness host (a subprocess: the fake ComfyUI with the
plugin, see harness.py), Debian's Chromium driven by Playwright, and a page with the real
frontend booted and the Video Queue tab open.

Each test module gets its own host (a fresh queue database) and one booted page, because
booting the frontend costs ~5-9 s; tests in a module isolate themselves by job names.
Screenshots go to ``test-artifacts/`` at the repo root.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import comfy_graph

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("VQ_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TAB_BUTTON = '[class~="vq.queue-tab-button"]'  # the frontend names it "<tab id>-tab-button"
READY = re.compile(r"To see the GUI go to: (http://\S+)")


def _requirements() -> str | None:
    if not CHROMIUM.exists():
        return f"Debian's Chromium is not installed at {CHROMIUM} (apt-get install -y chromium)"
    try:
        import comfyui_frontend_package  # noqa: F401
        import playwright.sync_api  # noqa: F401
    except ImportError as exc:
        return f"{exc.name} is not installed (pip install -r requirements-test.txt)"
    return None


class Host:
    """A running harness subprocess and HTTP helpers for tests."""

    def __init__(self, base_dir: Path, log_path: Path, **options: Any) -> None:
        self.base_dir = base_dir
        self.log_path = log_path
        args = [sys.executable, "-m", "tests.browser.harness", "--base-directory", str(base_dir), "--port", "0"]
        if options.get("node_seconds"):
            args += ["--node-seconds", str(options["node_seconds"])]
        if options.get("lmstudio"):
            args += ["--lmstudio"]
        env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}
        self._log = open(log_path, "w", encoding="utf-8")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(args, cwd=REPO, env=env, stdout=self._log, stderr=subprocess.STDOUT)
        self.url = self._wait_ready()

    def _wait_ready(self, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
            found = READY.search(text)
            if found:
                return found.group(1)
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"the harness did not start; its log:\n{self.log_path.read_text(errors='replace')}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()

    # --- HTTP -----------------------------------------------------------------------------

    def call(self, method: str, path: str, body: Any = None, *, ok: bool = True) -> Any:
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if body is not None else {}
        req = urllib.request.Request(self.url.rstrip("/") + path, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as err:
            if ok:
                raise AssertionError(f"{method} {path} -> {err.code}: {err.read().decode(errors='replace')}") from None
            return {"status": err.code, "body": json.loads(err.read() or b"null")}
        return json.loads(raw) if raw else None

    def vq(self, method: str, path: str, body: Any = None, **kw: Any) -> Any:
        return self.call(method, "/api/vq/v1" + path, body, **kw)

    def behavior(self, **fields: Any) -> None:
        self.call("POST", "/__harness/behavior", fields)

    def submit(self, name: str, n: int = 1, *, salt: float | None = None) -> dict[str, Any]:
        """A job of ``n`` upscale graphs (model-free; each with its own scale so none is cached)."""
        graph = comfy_graph("upscale")
        base = salt if salt is not None else (time.time() * 1000 % 997) / 10000
        graphs = []
        for i in range(n):
            g = json.loads(json.dumps(graph))
            g["2"]["inputs"]["scale_by"] = round(1.05 + base + i / 100, 5)
            g["3"]["inputs"]["filename_prefix"] = f"vq_test/{re.sub(r'[^a-z0-9]+', '_', name.lower())}"
            graphs.append(g)
        return self.vq("POST", "/jobs", {"name": name, "graphs": graphs})

    def wait_job(self, job_id: int, status: str | set[str], timeout: float = 30.0) -> dict[str, Any]:
        want = {status} if isinstance(status, str) else status
        deadline = time.monotonic() + timeout
        job: dict[str, Any] = {}
        while time.monotonic() < deadline:
            job = self.vq("GET", f"/jobs/{job_id}")
            if job["status"] in want:
                return job
            time.sleep(0.1)
        raise AssertionError(f"job {job_id} is {job.get('status')}, not {want}, after {timeout} s")


def started_host(tmp_path_factory: pytest.TempPathFactory, name: str, **options: Any) -> Iterator[Host]:
    """A harness ComfyUI for one test module (skipped when the browser tools are missing)."""
    reason = _requirements()
    if reason:
        pytest.skip(reason)
    base = tmp_path_factory.mktemp(name)
    h = Host(base, base.parent / f"{base.name}-harness.log", **options)
    yield h
    h.stop()


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Host]:
    yield from started_host(tmp_path_factory, "comfy")


@pytest.fixture(scope="module")
def chromium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    # Per module, not per session: Playwright's sync API keeps an asyncio loop running
    # while it is started, which would break every pytest-asyncio test collected after us.
    reason = _requirements()
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=10_000)  # 2 shared cores: allow for a busy machine
    profile = tmp_path_factory.mktemp("chromium-profile")  # a fresh user-data dir
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 900},
        )
        context.set_default_timeout(15000)
        yield context
        context.close()
    shutil.rmtree(profile, ignore_errors=True)


class Booted:
    """A page with the frontend booted against ``host`` and helpers for the vq panel."""

    def __init__(self, page: Any, host: Host) -> None:
        self.page = page
        self.host = host
        self.errors: list[str] = []
        page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))
        page.on("console", self._console)

    def _console(self, msg: Any) -> None:
        text = msg.text
        if msg.type == "error" and ("vq" in text.lower() or "Error loading extension" in text):
            self.errors.append(f"console: {text}")

    def boot(self) -> None:
        self.page.goto(self.host.url)
        self.page.wait_for_selector(TAB_BUTTON, timeout=45000)

    @property
    def root(self) -> Any:
        return self.page.locator("[data-testid=vq-root]")

    def open_tab(self) -> None:
        if not self.root.count():
            self.page.click(TAB_BUTTON)
        self.root.wait_for()

    def close_tab(self) -> None:
        if self.root.count():
            self.page.click(TAB_BUTTON)
        self.root.wait_for(state="detached")

    def card(self, name: str) -> Any:
        return self.page.locator("[data-testid=job-card]").filter(has=self.page.locator(".vq-card-name", has_text=re.compile(f"^{re.escape(name)}$")))

    def search(self, text: str) -> None:
        box = self.page.locator("[data-testid=search]")
        box.fill(text)

    def reset_filters(self) -> None:
        from playwright.sync_api import expect

        self.search("")
        self.page.locator("[data-testid=chip-all]").click()
        self.page.locator("[data-testid=sort]").select_option("actionable")
        total = self.host.vq("GET", "/jobs?limit=1")["total"]
        expect(self.page.locator("[data-testid=job-card]")).to_have_count(min(total, 50))

    def expand(self, name: str) -> Any:
        card = self.card(name)
        toggle = card.locator("[data-testid=job-toggle]")
        if toggle.get_attribute("aria-expanded") != "true":
            toggle.click()
        card.locator(".vq-detail-inner").wait_for()
        return card

    def collapse_all(self) -> None:
        """Collapse every expanded card, each click confirmed before the next look: a look
        taken before the last click's re-render would chase a toggle that is gone."""
        from playwright.sync_api import expect

        opened = self.page.locator("[data-testid=job-toggle][aria-expanded=true]")
        for job_id in [toggle.get_attribute("data-id") for toggle in opened.all()]:
            toggle = self.page.locator(f"[data-testid=job-toggle][data-id='{job_id}']")
            if toggle.count() and toggle.get_attribute("aria-expanded") == "true":
                toggle.click()
                expect(toggle).to_have_attribute("aria-expanded", "false")

    def toast(self, text: str) -> Any:
        return self.page.locator(".p-toast-message", has_text=text)

    def shot(self, name: str, locator: Any = None) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        if locator is not None:  # to the top of the panel, below its sticky header
            locator.evaluate("el => el.scrollIntoView({block: 'start'})")
        # Off-screen rows use content-visibility: give them a few frames to paint.
        self.page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(r, 200))))")
        (locator or self.page).screenshot(path=str(path))
        return path


@pytest.fixture(scope="module")
def ui(chromium: Any, host: Host) -> Iterator[Booted]:
    page = chromium.new_page()
    booted = Booted(page, host)
    booted.boot()
    booted.open_tab()
    yield booted
    page.close()
    assert not booted.errors, "errors in the page:\n" + "\n".join(booted.errors)
