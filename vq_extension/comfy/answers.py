"""ComfyUI's answers and records in vq's terms: the request stand-in for calling ComfyUI's
own handlers in-process, response bodies, refusals and execution errors as ``PromptError``s,
and when a prompt started according to its history messages. Pure shapes; no ComfyUI
imports (only ``bridge.py`` talks to ComfyUI)."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web
from multidict import CIMultiDict, MultiDict
from yarl import URL

from ..errors import PromptError


def start_time(messages: list[Any]) -> float | None:
    for message in messages:
        if message and message[0] == "execution_start" and len(message) > 1:
            timestamp = (message[1] or {}).get("timestamp")
            if isinstance(timestamp, (int, float)):
                return timestamp / 1000
    return None


def json_body(response: web.StreamResponse) -> dict[str, Any]:
    raw = getattr(response, "body", None)
    raw = bytes(raw) if isinstance(raw, (bytes, bytearray)) else b"{}"
    try:
        answer = json.loads(raw or b"{}")
    except ValueError:
        return {"error": {"type": "unparseable", "message": raw[:300].decode(errors="replace")}}
    return answer if isinstance(answer, dict) else {}


class InProcessRequest:
    """The part of aiohttp's Request that ComfyUI's own handlers read, for in-process calls."""

    content_type = "application/json"
    remote = "127.0.0.1"

    def __init__(self, method: str, path: str, body: dict[str, Any] | None, app: web.Application) -> None:
        self.method, self.path = method, path
        self._body = body
        self.can_read_body = body is not None
        self.app = app
        self.headers: CIMultiDict[str] = CIMultiDict({"Content-Type": "application/json"})
        self.rel_url = URL(path)
        self.url = URL("http://127.0.0.1" + path)
        self.query: MultiDict[str] = MultiDict()
        self.match_info: dict[str, str] = {}

    async def json(self) -> dict[str, Any] | None:
        return self._body

    async def text(self) -> str:
        return json.dumps(self._body)

    async def read(self) -> bytes:
        return json.dumps(self._body).encode()


def validation_error(answer: dict[str, Any]) -> PromptError:
    """ComfyUI's POST /prompt refusal as one readable error, node errors included."""
    error = answer.get("error") or {}
    if isinstance(error, str):
        error = {"type": "invalid_prompt", "message": error}
    node_errors = answer.get("node_errors") or {}
    lines = []
    first_node: tuple[str, str | None] | None = None
    for node_id, entry in node_errors.items():
        class_type = entry.get("class_type")
        first_node = first_node or (str(node_id), class_type)
        for e in entry.get("errors") or []:
            detail = f": {e['details']}" if e.get("details") else ""
            lines.append(f"node {node_id} ({class_type}): {e.get('message', e.get('type'))}{detail}")
    head = str(error.get("message") or "ComfyUI refused the prompt")
    if error.get("details"):
        head += f" ({error['details']})"
    message = head + ("\n" + "\n".join(lines) if lines else "")
    return PromptError(
        type=str(error.get("type") or "invalid_prompt"),
        message=message,
        node_id=first_node[0] if first_node else None,
        node_type=first_node[1] if first_node else None,
        details={"node_errors": node_errors, "error": error},
    )


def execution_error(data: dict[str, Any]) -> PromptError:
    exc_type = data.get("exception_type") or "execution_error"
    message = data.get("exception_message") or "ComfyUI reported an execution error"
    return PromptError(
        type=str(exc_type),
        message=str(message).strip(),
        node_id=str(data["node_id"]) if data.get("node_id") is not None else None,
        node_type=data.get("node_type"),
        traceback=[str(line) for line in data.get("traceback") or []],
    )
