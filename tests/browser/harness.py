"""Browser test host: the real ComfyUI frontend (comfyui-frontend-package 1.35.9) with the
plugin's web/ extension and its real /vq/v1 routes, backed by the fake ComfyUI of
``tests/fixtures/fakecomfy`` (which already serves the web root, ``/extensions``, settings,
users, object_info, the websocket and ``/view``).

On top of the fake's own ``main.py`` start-up this adds, for tests and hand-testing:

- a replay of the recorded boot answers (``tests/fixtures/comfy/frontend-boot-0.8.0.json``) for
  any other ``GET /api/...`` the frontend asks for;
- ``/__harness/*`` control routes (never part of ComfyUI): scripted node timing,
  injected HTTP failures, websocket drops, raw socket broadcasts, bulk job seeding;
- a small input image (``vq_smoke.png``) for ``tests/fixtures/comfy/graphs/upscale.json``, and
  folders of images on request (``/__harness/images``) for workflow submits.

Run by hand through ``scripts/ui-dev``, or:
    python -m tests.browser.harness --base-directory DIR [--port 8188]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from tests.fixtures.fakecomfy.captured import load_comfy_json
from tests.fixtures.fakecomfy.host import FakeComfy
from tests.fixtures.fakecomfy.main import serve
from tests.fixtures.fakecomfy.profiles import PROFILES

REPO = Path(__file__).resolve().parents[2]
PLUGIN_LINK = "video-queue"  # any name works: the plugin never hard-codes its folder
log = logging.getLogger("vq.harness")


@dataclass
class Fault:
    """Answer requests whose path starts with ``prefix`` with ``status`` (``count`` times,
    or until ``until``); ``prefix`` "/ws" refuses websocket connections instead."""

    prefix: str
    status: int = 500
    count: int | None = None
    until: float | None = None

    def active(self, now: float) -> bool:
        return (self.count is None or self.count > 0) and (self.until is None or now < self.until)


class Harness:
    def __init__(self, host: FakeComfy) -> None:
        self.host = host
        self.faults: list[Fault] = []
        self.boot = _boot_answers()

    # --- middleware ------------------------------------------------------------------------

    @web.middleware
    async def middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        now = time.monotonic()
        for fault in self.faults:
            if fault.active(now) and request.path.startswith(fault.prefix):
                if fault.count is not None:
                    fault.count -= 1
                if fault.prefix == "/ws":
                    return web.Response(status=fault.status, text="websocket refused by the test harness")
                return web.json_response(
                    {"error": {"code": "internal", "message": "fault injected by the test harness", "details": {}}},
                    status=fault.status,
                )
        return await handler(request)

    # --- routes ------------------------------------------------------------------------------

    def register(self, routes: web.RouteTableDef) -> None:
        routes.post("/__harness/behavior")(self.set_behavior)
        routes.post("/__harness/fault")(self.add_fault)
        routes.post("/__harness/fault/clear")(self.clear_faults)
        routes.post("/__harness/drop_ws")(self.drop_ws)
        routes.post("/__harness/broadcast")(self.broadcast)
        routes.post("/__harness/seed")(self.seed)
        routes.post("/__harness/images")(self.images)
        routes.get("/__harness/info")(self.info)
        # Last of the table: recorded answers for whatever else the frontend asks at boot.
        routes.get("/api/{tail:.*}")(self.replay)

    async def set_behavior(self, request: web.Request) -> web.Response:
        """``{default_node_seconds, node_seconds: {class: s}, progress_steps: {class: n},
        fail_nodes: {class: [exception, message]}, hold: [class], release: [class]}``; given
        keys replace the current ones. ``hold`` keeps nodes of those classes running
        (interruptible) until ``release`` names them: a test acts on a running prompt
        without guessing how long it runs."""
        body = await request.json()
        behavior = self.host.behavior
        for class_type in body.get("release", []):
            held = behavior.holds.pop(class_type, None)
            if held is not None:
                held.release()
        for class_type in body.get("hold", []):
            behavior.hold(class_type)
        if "default_node_seconds" in body:
            behavior.default_node_seconds = float(body["default_node_seconds"])
        for key in ("node_seconds", "progress_steps"):
            if key in body:
                setattr(behavior, key, dict(body[key]))
        if "fail_nodes" in body:
            behavior.fail_nodes = {k: (v[0], v[1]) for k, v in body["fail_nodes"].items()}
        return web.json_response({"ok": True})

    async def add_fault(self, request: web.Request) -> web.Response:
        body = await request.json()
        seconds = body.get("seconds")
        self.faults.append(Fault(prefix=body["prefix"], status=int(body.get("status", 500)), count=body.get("count"),
                                 until=time.monotonic() + float(seconds) if seconds is not None else None))
        return web.json_response({"ok": True, "faults": len(self.faults)})

    async def clear_faults(self, request: web.Request) -> web.Response:
        self.faults.clear()
        return web.json_response({"ok": True})

    async def drop_ws(self, request: web.Request) -> web.Response:
        """Close every socket; with ``{"refuse_seconds": s}`` also refuse reconnects for a while,
        with ``{"refuse": true}`` until ``/__harness/fault/clear``."""
        body = await request.json() if request.can_read_body else {}
        refuse = body.get("refuse_seconds")
        if refuse:
            self.faults.append(Fault(prefix="/ws", status=503, until=time.monotonic() + float(refuse)))
        elif body.get("refuse"):
            self.faults.append(Fault(prefix="/ws", status=503))
        sockets = list(self.host.server.sockets.values())
        for ws in sockets:
            await ws.close()
        return web.json_response({"closed": len(sockets)})

    async def broadcast(self, request: web.Request) -> web.Response:
        """``{"events": [[type, data], ...]}`` straight onto every socket, in one go."""
        body = await request.json()
        for event, data in body["events"]:
            self.host.server.send_sync(event, data)
        return web.json_response({"sent": len(body["events"])})

    async def seed(self, request: web.Request) -> web.Response:
        """``{"jobs": n, "paused": true}``: n one-prompt jobs through vq's job service
        (the queue is paused first, so they stay pending)."""
        body = await request.json()
        plugin = self.plugin()
        if body.get("paused", True):
            await plugin.jobs.pause()
        graph = load_comfy_json("graphs/upscale.json")
        started = time.monotonic()
        for i in range(int(body["jobs"])):
            g = json.loads(json.dumps(graph))
            g["2"]["inputs"]["scale_by"] = 1.0 + (i % 50) / 100
            await plugin.jobs.submit_graphs(name=f"{body.get('prefix', 'seed')} {i + 1:05d}", graphs=[g], priority=0,
                                            max_attempts=None)
        return web.json_response({"seeded": int(body["jobs"]), "seconds": round(time.monotonic() - started, 2)})

    async def images(self, request: web.Request) -> web.Response:
        """``{"folder": "stills", "count": 3}``: small PNGs in ``input/<folder>/``; answers
        the folder's absolute path (inside ComfyUI's input dir, so an allowed root)."""
        body = await request.json()
        folder = str(body.get("folder", "stills")).strip("/").replace("..", "_")
        paths = [self.host.make_image(f"{folder.replace('/', '_')}_{i + 1:02d}.png", size=(96 + 16 * i, 64), subfolder=folder)
                 for i in range(int(body.get("count", 3)))]
        return web.json_response({"folder": str(paths[0].parent), "files": [str(p) for p in paths]})

    async def info(self, request: web.Request) -> web.Response:
        return web.json_response({"base_dir": str(self.host.base_dir), "input_dir": self.host.paths.get_input_directory(),
                                  "sockets": len(self.host.server.sockets), "faults": len(self.faults)})

    async def replay(self, request: web.Request) -> web.Response:
        key = (request.path, request.query_string)
        found = self.boot.get(key) or self.boot.get((request.path, None))
        if found is None:
            return web.Response(status=404, text="404: Not Found")
        status, body = found
        if isinstance(body, (dict, list)):
            return web.json_response(body, status=status)
        return web.Response(status=status, text=body if isinstance(body, str) else "")

    def plugin(self) -> Any:
        plugin = getattr(self.host.server, "_vq_plugin", None)
        if plugin is None:
            raise web.HTTPServiceUnavailable(text="the vq plugin did not load; see the log")
        return plugin


def _boot_answers() -> dict[tuple[str, str | None], tuple[int, Any]]:
    """``(path, query)`` and ``(path, None)`` -> (status, body) of the recorded API calls."""
    answers: dict[tuple[str, str | None], tuple[int, Any]] = {}
    for r in load_comfy_json("frontend-boot-0.8.0.json")["requests"]:
        if r.get("kind") != "api" or r.get("method") != "GET" or "body" not in r:
            continue
        entry = (int(r["status"]), r["body"])
        answers.setdefault((r["path"], r.get("query") or ""), entry)
        answers.setdefault((r["path"], None), entry)
    return answers


def prepare_base_dir(base_dir: Path, plugin_dir: Path = REPO) -> Path:
    """``base_dir/custom_nodes/video-queue`` -> the plugin checkout (a symlink)."""
    custom = base_dir / "custom_nodes"
    custom.mkdir(parents=True, exist_ok=True)
    link = custom / PLUGIN_LINK
    if link.is_symlink() or link.exists():
        if link.resolve() != plugin_dir.resolve():
            raise SystemExit(f"{link} exists and points elsewhere; use a fresh --base-directory")
    else:
        os.symlink(plugin_dir, link, target_is_directory=True)
    return link


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="vq-harness", description="The vq browser test host (see module docstring).")
    parser.add_argument("--base-directory", required=True, type=Path)
    parser.add_argument("--port", type=int, default=8188)
    parser.add_argument("--listen", default="127.0.0.1")
    parser.add_argument("--profile", default="0.8.0", choices=sorted(PROFILES))
    parser.add_argument("--node-seconds", type=float, default=0.0, help="how long every node takes")
    parser.add_argument("--plugin-dir", type=Path, default=REPO)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(message)s")
    base = args.base_directory.resolve()
    base.mkdir(parents=True, exist_ok=True)
    prepare_base_dir(base, args.plugin_dir)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    host = FakeComfy(base, args.profile, argv=["main.py", *sys.argv[1:]])
    host.behavior.default_node_seconds = args.node_seconds
    host.make_image("vq_smoke.png", size=(96, 64))
    harness = Harness(host)

    async def load() -> None:
        host.install(loop=loop)
        host.load_custom_nodes()

    loop.run_until_complete(load())
    harness.register(host.server.routes)
    host.add_routes()
    host.app.middlewares.append(harness.middleware)
    host.start_worker()
    loop.run_until_complete(serve(host, args.listen, args.port))


if __name__ == "__main__":
    main()
