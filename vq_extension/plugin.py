"""ComfyUI's entry into vq: ``install()`` binds the running ComfyUI, builds the app
(``app.build``), registers the routes and the start/stop hooks. It never raises into
ComfyUI: any failure is logged and reported as 503 on ``/vq/v1/health``."""

from __future__ import annotations

import logging
import os
import uuid
from pathlib import Path

from aiohttp import web

from . import __version__, routes
from .app import App, Dirs, build
from .comfy.bridge import ComfyBridge
from .config import load_settings

log = logging.getLogger("vq")
GUARD_ATTRIBUTE = "_vq_plugin"  # on PromptServer.instance: install once per server


def install() -> App | None:
    """Load vq into the running ComfyUI. Idempotent; never raises into ComfyUI."""
    try:
        bridge = ComfyBridge.from_comfyui(client_id=f"vq-{uuid.uuid4().hex}")
        existing = getattr(bridge.server, GUARD_ATTRIBUTE, None)
        if existing is not None:  # already installed (or already failed: False)
            return existing or None
        data_dir = Path(os.environ.get("VQ_DATA_DIR") or bridge.data_dir())
        dirs = Dirs(data_dir, Path(bridge.input_dir()), Path(bridge.output_dir()))
        plugin = build(load_settings(data_dir), dirs, bridge)
        routes.register(bridge.routes, plugin)

        async def start(_app: web.Application) -> None:
            await plugin.start()

        async def stop(_app: web.Application) -> None:
            await plugin.stop()

        bridge.on_startup(start)
        bridge.on_cleanup(stop)
        setattr(bridge.server, GUARD_ATTRIBUTE, plugin)
        caps = bridge.capabilities
        log.info("vq: Video Queue %s loaded on ComfyUI %s (queue in %s; submit: %s, cancel: %s)",
                 __version__, caps.comfyui_version, plugin.store.path, caps.submit, caps.cancel)
        return plugin
    except Exception as exc:
        log.exception("vq: Video Queue failed to load (%s); ComfyUI continues without it", exc)
        _report_failure(exc)
        return None


def _report_failure(exc: Exception) -> None:
    """Answer GET /vq/v1/health with why vq is not running, so the sidebar and the CLI can
    say it instead of "not installed" (e.g. a bad vq.yaml, a database from a newer vq)."""
    try:
        server = ComfyBridge.server_instance()
        if getattr(server, GUARD_ATTRIBUTE, None) is not None:
            return
        message = f"vq failed to load: {exc} (details in ComfyUI's log)"

        async def health(_request: web.Request) -> web.Response:
            return routes.error_response(503, "unavailable", message)

        server.routes.get(routes.PREFIX + "/health")(health)
        setattr(server, GUARD_ATTRIBUTE, False)  # registered once; a later install stays a no-op
    except Exception:
        log.exception("vq: could not even register the failure report")
