"""ComfyUI's entry into vq: ``install()`` binds the running ComfyUI, builds the app
(``app.build``), registers the routes and the start/stop hooks. It never raises into
ComfyUI, and nothing vq does at start-up can stop ComfyUI from starting: a failure (a
locked or read-only database, a bad vq.yaml) is logged, answered as 503 on
``/vq/v1/health`` with the reason, and retried in the background until vq starts."""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from contextlib import suppress
from pathlib import Path
from typing import Any

from aiohttp import web

from . import __version__, routes
from .api.http import error_response
from .app import App, Dirs, build
from .comfy.bridge import ComfyBridge
from .config import load_settings
from .errors import Unavailable

log = logging.getLogger("vq")
GUARD_ATTRIBUTE = "_vq_plugin"  # on PromptServer.instance: install once per server
RETRY_SECONDS = (5.0, 15.0, 30.0, 60.0)  # waits between start-up attempts, then every minute


class Plugin:
    """vq inside one ComfyUI: the app once it is built and started, and until then the
    reason it is not, with a background task that keeps trying. Routes call it as their
    ``Services`` (503 until vq runs); anything else is the app's (``plugin.store`` ...)."""

    def __init__(self, bridge: ComfyBridge, data_dir: Path) -> None:
        self.bridge, self.data_dir = bridge, data_dir
        self.app: App | None = None
        self.started = False
        self.error: str | None = "vq is starting"
        self._retry: asyncio.Task[None] | None = None
        self._retry_now = asyncio.Event()
        self._attempts = 0

    def __getattr__(self, name: str) -> Any:  # the app's parts, for code that has the plugin
        app = self.__dict__.get("app")
        if app is None:
            raise AttributeError(f"vq is not running ({self.__dict__.get('error')}): no {name}")
        return getattr(app, name)

    # --- what the routes use -------------------------------------------------------------

    def _running(self) -> App:
        if not self.started or self.app is None:
            raise Unavailable(f"vq is not running: {self.error}. It retries in the background; "
                              "details in ComfyUI's log")
        return self.app

    @property
    def jobs(self) -> Any:
        return self._running().jobs

    @property
    def reader(self) -> Any:
        return self._running().reader

    @property
    def workflows(self) -> Any:
        return self._running().workflows

    @property
    def files(self) -> Any:
        return self._running().files

    async def health(self) -> dict[str, Any]:
        return await self._running().health()

    # --- start-up --------------------------------------------------------------------------

    def build(self) -> bool:
        """Build the app (blocking: opens the database). False, with the reason kept, on failure."""
        try:
            dirs = Dirs(self.data_dir, Path(self.bridge.input_dir()), Path(self.bridge.output_dir()))
            self.app = build(load_settings(self.data_dir), dirs, self.bridge)
            return True
        except Exception as exc:
            self._failed("could not open its queue", exc)
            return False

    async def on_startup(self, _app: web.Application | None = None) -> None:
        """ComfyUI's on_startup: never raises. A failure leaves a retry running."""
        if self.app is not None and await self._start():
            return
        self._retry = asyncio.get_running_loop().create_task(self._keep_trying(), name="vq-start-retry")

    async def _start(self) -> bool:
        assert self.app is not None
        try:
            await self.app.start()
        except Exception as exc:
            self._failed("could not start", exc)
            return False
        self.started, self.error = True, None
        caps = self.bridge.capabilities
        log.info("vq: Video Queue %s running on ComfyUI %s (queue in %s; submit: %s, cancel: %s)",
                 __version__, caps.comfyui_version, self.app.store.path, caps.submit, caps.cancel)
        return True

    async def _keep_trying(self) -> None:
        while not self.started:
            wait = RETRY_SECONDS[min(self._attempts, len(RETRY_SECONDS) - 1)]
            with suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._retry_now.wait(), wait)
            self._retry_now.clear()
            self._attempts += 1
            if self.app is None and not await asyncio.to_thread(self.build):
                continue
            await self._start()

    def retry_now(self) -> None:
        """Try to start again at once (tests; a future "retry" button)."""
        self._retry_now.set()

    def _failed(self, what: str, exc: Exception) -> None:
        self.error = f"{what}: {exc}"
        log.error("vq: Video Queue %s (%s); ComfyUI runs without it, vq retries in the background",
                  what, exc, exc_info=not isinstance(exc, OSError))

    async def on_cleanup(self, _app: web.Application | None = None) -> None:
        if self._retry is not None:
            self._retry.cancel()
            with suppress(asyncio.CancelledError):
                await self._retry
        if self.app is not None and self.started:
            await self.app.stop()
        elif self.app is not None:
            self.app.close()


def install() -> Plugin | None:
    """Load vq into the running ComfyUI. Idempotent; never raises into ComfyUI."""
    try:
        bridge = ComfyBridge.from_comfyui(client_id=f"vq-{uuid.uuid4().hex}")
        existing = getattr(bridge.server, GUARD_ATTRIBUTE, None)
        if existing is not None:  # already installed (or already failed: False)
            return existing or None
        plugin = Plugin(bridge, Path(os.environ.get("VQ_DATA_DIR") or bridge.data_dir()))
        routes.register(bridge.routes, plugin)
        bridge.on_startup(plugin.on_startup)
        bridge.on_cleanup(plugin.on_cleanup)
        setattr(bridge.server, GUARD_ATTRIBUTE, plugin)
        if plugin.build():
            log.info("vq: Video Queue %s loaded (queue in %s)", __version__, plugin.app.store.path)  # type: ignore[union-attr]
        return plugin
    except Exception as exc:
        log.exception("vq: Video Queue failed to load (%s); ComfyUI continues without it", exc)
        _report_failure(exc)
        return None


def _report_failure(exc: Exception) -> None:
    """Answer GET /vq/v1/health with why vq is not running, so the sidebar and the CLI can
    say it instead of "not installed" (when even the routes could not be registered)."""
    try:
        server = ComfyBridge.server_instance()
        if getattr(server, GUARD_ATTRIBUTE, None) is not None:
            return
        message = f"vq failed to load: {exc} (details in ComfyUI's log)"

        async def health(_request: web.Request) -> web.Response:
            return error_response(503, "unavailable", message)

        server.routes.get(routes.PREFIX + "/health")(health)
        setattr(server, GUARD_ATTRIBUTE, False)  # registered once; a later install stays a no-op
    except Exception:
        log.exception("vq: could not even register the failure report")
