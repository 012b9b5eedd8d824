"""An in-memory vq REST API for CLI tests: a ``requests`` transport adapter mounted on a
real ``requests.Session``, so the CLI's HTTP code runs unchanged and nothing leaves the
process. Also ``run()``, which runs ``vq`` with a captured environment.

Routes are registered per test: ``fake.on("GET", "/jobs/12", body)``; a path with
``{id}`` matches any integer. An unregistered path answers like ComfyUI without vq
(plain-text 404); ``fake.down = True`` refuses connections like a stopped ComfyUI.
"""

from __future__ import annotations

import io as _io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import requests
from requests.adapters import BaseAdapter

from vq_extension.cli.app import main
from vq_extension.cli.http import API_PREFIX, VqClient
from vq_extension.cli.output import IO

URL = "http://comfy.test:8188"
NOW = 1_795_000_000.0  # a fixed clock: 2026-11-18T08:26:40Z

Handler = Callable[["Request"], tuple[int, Any]]


@dataclass
class Request:
    method: str
    path: str  # below /api/vq/v1
    query: dict[str, str]
    body: Any
    content_type: str | None
    headers: dict[str, str] = field(default_factory=dict)


class FakeVq:
    def __init__(self) -> None:
        self.routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self.requests: list[Request] = []
        self.down = False
        self.timeout = False

    def on(self, method: str, path: str, body: Any = None, status: int = 200,
           handler: Handler | None = None) -> FakeVq:
        pattern = re.compile("^" + re.sub(r"\\\{\w+\\\}", r"\\d+", re.escape(path)) + "$")
        self.routes.insert(0, (method, pattern, handler or (lambda _req: (status, body))))
        return self

    def error(self, method: str, path: str, status: int, code: str, message: str,
              details: dict[str, Any] | None = None) -> FakeVq:
        return self.on(method, path, {"error": {"code": code, "message": message, "details": details or {}}},
                       status)

    def calls(self, method: str | None = None) -> list[tuple[str, str]]:
        return [(r.method, r.path) for r in self.requests if method is None or r.method == method]

    def session(self) -> requests.Session:
        session = requests.Session()
        adapter = _Adapter(self)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        return session

    def client(self, url: str = URL) -> VqClient:
        return VqClient(url, session=self.session(), timeout=5)


class _Adapter(BaseAdapter):
    def __init__(self, fake: FakeVq) -> None:
        super().__init__()
        self.fake = fake

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        if self.fake.down:
            raise requests.ConnectionError("[Errno 111] Connection refused")
        if self.fake.timeout:
            raise requests.ReadTimeout("read timed out")
        parts = urlsplit(request.url or "")
        raw = request.body.decode() if isinstance(request.body, bytes) else request.body
        req = Request(request.method or "GET", parts.path.removeprefix(API_PREFIX), dict(parse_qsl(parts.query)),
                      json.loads(raw) if raw else None, request.headers.get("Content-Type"), dict(request.headers))
        self.fake.requests.append(req)
        for method, pattern, handler in self.fake.routes:
            if method == req.method and parts.path.startswith(API_PREFIX) and pattern.match(req.path):
                status, body = handler(req)
                return _response(request, status, json.dumps(body).encode(), "application/json")
        return _response(request, 404, b"404: Not Found", "text/plain")

    def close(self) -> None:
        pass


def _response(request: requests.PreparedRequest, status: int, content: bytes, ctype: str) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = content
    response.headers["Content-Type"] = ctype
    response.url = request.url or ""
    response.request = request
    response.reason = {200: "OK", 201: "Created", 404: "Not Found"}.get(status, "")
    return response


@dataclass
class Result:
    code: int
    out: str
    err: str
    sleeps: list[float] = field(default_factory=list)

    def json(self) -> Any:
        return json.loads(self.out)


def run(fake: FakeVq, *argv: str, tty: bool = False, color: bool = False, width: int = 100, stdin: str = "",
        stdin_tty: bool = False, max_sleeps: int | None = None, on_sleep: Callable[[int], None] | None = None,
        environ: dict[str, str] | None = None) -> Result:
    """Run ``vq argv`` against ``fake``; sleeping is instant and recorded. ``max_sleeps``
    raises KeyboardInterrupt after that many sleeps (how a user stops ``vq watch``)."""
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if on_sleep is not None:
            on_sleep(len(sleeps))
        if max_sleeps is not None and len(sleeps) >= max_sleeps:
            raise KeyboardInterrupt

    io = IO(_io.StringIO(), _io.StringIO(), _io.StringIO(stdin), stdout_tty=tty, stdin_tty=stdin_tty,
            color=color, width=width, sleep=sleep)
    env = {"VQ_URL": URL} if environ is None else environ
    code = main(list(argv), io=io, connect=lambda url, timeout: VqClient(url, session=fake.session(), timeout=timeout),
                now=lambda: NOW, environ=env)
    return Result(code, io.stdout.getvalue(), io.stderr.getvalue(), sleeps)  # type: ignore[attr-defined]
