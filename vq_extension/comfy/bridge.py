"""The seam to ComfyUI: the only module that imports ComfyUI's own modules.

What it does, and why each choice (see the integration brief, sections 3-6 and 11):
- submit: calls the server's own registered POST /prompt handler in-process (strategy A),
  so every version's semantics (tuple arity, sensitive keys, on_prompt handlers, id
  checks) come for free; falls back to validate + put with the version's tuple shape.
- observe: ``snapshot()`` reads the queue, ``outcome()`` reads history (the source of
  truth). Callers must read the queue before history: the worker moves an item from
  running to history atomically, so that order never shows a live prompt as missing.
- cancel: deletes a pending item, or interrupts exactly one running prompt (never the
  global interrupt while something else runs).
- tap: a chained ``send_sync`` wrapper that forwards vq's prompts' events to the loop.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import logging
import os
import time
import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from types import ModuleType
from typing import Any

from aiohttp import web

from ..errors import PromptError
from .answers import (
    InProcessRequest,
    execution_error,
    json_body,
    start_time,
    validation_error,
)
from .capabilities import detect, validate_arity
from .outputs import parse_outputs

log = logging.getLogger("vq.bridge")

TAP_EVENTS = frozenset(
    {"execution_start", "executing", "progress", "execution_success", "execution_error", "execution_interrupted"}
)
TERMINAL_EVENTS = ("execution_success", "execution_error", "execution_interrupted")


class ComfyUnavailable(RuntimeError):
    """ComfyUI could not take the prompt for a reason that is not the prompt's fault."""


@dataclass(frozen=True)
class SubmitResult:
    accepted: bool
    error: PromptError | None = None


@dataclass(frozen=True)
class QueueSnapshot:
    running: frozenset[str]
    pending: frozenset[str]

    def __contains__(self, comfy_prompt_id: object) -> bool:
        return comfy_prompt_id in self.running or comfy_prompt_id in self.pending


@dataclass(frozen=True)
class Outcome:
    """How ComfyUI's history says a prompt ended."""

    status: str  # "succeeded" | "failed" | "interrupted"
    error: PromptError | None
    outputs: list[dict[str, Any]]
    started_at: float | None = None  # from ComfyUI's execution_start message


TapListener = Callable[[str, str, dict[str, Any]], None]  # (event, comfy prompt id, payload) on the loop


class ComfyBridge:
    def __init__(
        self,
        *,
        server: Any,
        execution: ModuleType,
        folder_paths: ModuleType,
        nodes: ModuleType,
        version: str,
        client_id: str,
    ) -> None:
        self.server = server
        self._execution = execution
        self._folder_paths = folder_paths
        self._nodes = nodes
        self.client_id = client_id
        self._post_prompt = _find_route(server.routes, "POST", "/prompt")
        self._get_object_info = _find_route(server.routes, "GET", "/object_info")
        self._validate_params = validate_arity(execution)
        self.capabilities = detect(server=server, execution=execution, folder_paths=folder_paths, version=version,
                                   has_post_prompt=self._post_prompt is not None)
        self._history_map = "map_function" in inspect.signature(server.prompt_queue.get_history).parameters
        self._watched: Collection[str] = frozenset()
        self._listener: TapListener | None = None
        self._progress: dict[str, dict[str, Any]] = {}  # comfy prompt id -> latest progress (worker thread writes)
        self._progress_due = False

    @staticmethod
    def server_instance() -> Any:
        """ComfyUI's running PromptServer."""
        return importlib.import_module("server").PromptServer.instance

    @classmethod
    def from_comfyui(cls, client_id: str) -> ComfyBridge:
        """Bind to the running ComfyUI (import-time of the plugin, inside ComfyUI)."""
        try:
            version = importlib.import_module("comfyui_version").__version__
        except ImportError:  # very old builds have no version file
            version = "0.0.0"
        return cls(
            server=cls.server_instance(),
            execution=importlib.import_module("execution"),
            folder_paths=importlib.import_module("folder_paths"),
            nodes=importlib.import_module("nodes"),
            version=str(version),
            client_id=client_id,
        )

    # --- places ----------------------------------------------------------------------

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return self.server.loop

    @property
    def routes(self) -> web.RouteTableDef:
        return self.server.routes

    def on_startup(self, callback: Callable[[web.Application], Any]) -> None:
        self.server.app.on_startup.append(callback)

    def on_cleanup(self, callback: Callable[[web.Application], Any]) -> None:
        """Best effort: ComfyUI exits without running cleanup; test servers do run it."""
        self.server.app.on_cleanup.append(callback)

    def port(self) -> int | None:
        """The port this ComfyUI serves (its ``--port``); known before the site starts."""
        port = getattr(self.server, "port", None)
        if port is None:
            try:
                port = importlib.import_module("comfy.cli_args").args.port
            except Exception:  # not ComfyUI's usual layout: the instance id says "-"
                return None
        try:
            return int(port)
        except (TypeError, ValueError):
            return None

    def data_dir(self) -> str:
        """Where vq keeps its database: ComfyUI's hidden system-user directory
        (never served over HTTP); older versions get the same name by hand."""
        fp = self._folder_paths
        if hasattr(fp, "get_system_user_directory"):
            return fp.get_system_user_directory("video_queue")
        return os.path.join(fp.get_user_directory(), "__video_queue")

    def input_dir(self) -> str:
        return self._folder_paths.get_input_directory()

    def output_dir(self) -> str:
        return self._folder_paths.get_output_directory()

    def directory_for_type(self, type_: str) -> str | None:
        return self._folder_paths.get_directory_by_type(type_)

    # --- submit ----------------------------------------------------------------------

    async def submit(self, graph: dict[str, Any], *, comfy_prompt_id: str, extra_data: dict[str, Any]) -> SubmitResult:
        """Queue one graph in ComfyUI under ``comfy_prompt_id``. A prompt ComfyUI refuses
        comes back as ``accepted=False`` with ComfyUI's own error text. Must run on the loop."""
        body = {"prompt": graph, "prompt_id": comfy_prompt_id, "client_id": self.client_id, "extra_data": extra_data}
        if self._post_prompt is not None:
            try:
                status, answer = await self._submit_via_handler(dict(body))
            except Exception:
                if self.knows(comfy_prompt_id):
                    # It raised after queueing (a later step or hook failed): the prompt is
                    # ComfyUI's now. Never queue it twice; track it like any other.
                    log.warning("vq: ComfyUI's POST /prompt handler raised after queueing %s; keeping it",
                                comfy_prompt_id, exc_info=True)
                    return SubmitResult(True)
                # A ComfyUI whose handler wants more of aiohttp's Request than the shim has:
                # do what the handler does instead, from now on.
                log.warning("vq: ComfyUI's POST /prompt handler failed in-process; switching to "
                            "validate-and-put submission", exc_info=True)
                self._post_prompt = None
                self.capabilities = replace(self.capabilities, submit="validate_and_put")
                status, answer = await self._submit_via_queue(body)
        else:
            status, answer = await self._submit_via_queue(body)
        if status == 200 and not answer.get("node_errors"):
            return SubmitResult(True)
        if status == 200:
            # Some outputs validated and were queued, others were dropped silently: vq runs
            # whole graphs or nothing, so take it back out.
            self.delete_pending(comfy_prompt_id) or self.interrupt(comfy_prompt_id)
        if status in (200, 400):
            return SubmitResult(False, validation_error(answer))
        raise ComfyUnavailable(f"ComfyUI answered POST /prompt with HTTP {status}: {str(answer)[:300]}")

    async def _submit_via_handler(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        response = await self._post_prompt(InProcessRequest("POST", "/prompt", body, self.server.app))
        return response.status, json_body(response)

    async def _submit_via_queue(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Strategy B: what POST /prompt does, shaped for this version's queue items."""
        body = self.server.trigger_on_prompt(body)
        number = self.server.number
        self.server.number += 1
        comfy_prompt_id = body["prompt_id"]
        valid = await self._validate(comfy_prompt_id, body["prompt"])
        if not valid[0]:
            return 400, {"error": valid[1], "node_errors": valid[3]}
        extra_data = dict(body.get("extra_data") or {})
        extra_data["client_id"] = body["client_id"]
        sensitive = {
            key: extra_data.pop(key)
            for key in getattr(self._execution, "SENSITIVE_EXTRA_DATA_KEYS", ())
            if key in extra_data
        }
        extra_data["create_time"] = int(time.time() * 1000)
        item: tuple[Any, ...] = (number, comfy_prompt_id, body["prompt"], extra_data, valid[2])
        if self.capabilities.queue_item_arity == 6:
            item += (sensitive,)
        self.server.prompt_queue.put(item)
        return 200, {"prompt_id": comfy_prompt_id, "number": number, "node_errors": valid[3]}

    async def _validate(self, comfy_prompt_id: str, graph: dict[str, Any]) -> tuple[Any, ...]:
        validate = self._execution.validate_prompt
        args: tuple[Any, ...] = {1: (graph,), 2: (comfy_prompt_id, graph)}.get(self._validate_params, (comfy_prompt_id, graph, None))
        result = validate(*args)
        return await result if inspect.isawaitable(result) else result

    # --- preflight -------------------------------------------------------------------

    async def object_info(self) -> dict[str, Any] | None:
        """Node schemas as GET /object_info serves them (live model lists included)."""
        if self._get_object_info is None:
            return None
        response = await self._get_object_info(InProcessRequest("GET", "/object_info", None, self.server.app))
        return json_body(response) if response.status == 200 else None

    async def validate(self, graph: dict[str, Any]) -> PromptError | None:
        """ComfyUI's own validation of a graph, without queueing it; None when it passes."""
        valid = await self._validate(str(uuid.uuid4()), graph)
        if valid[0] and not valid[3]:
            return None
        return validation_error({"error": valid[1] or {}, "node_errors": valid[3]})

    # --- observe ---------------------------------------------------------------------

    def snapshot(self) -> QueueSnapshot:
        queue = self.server.prompt_queue
        read = getattr(queue, "get_current_queue_volatile", None) or queue.get_current_queue
        running, pending = read()
        return QueueSnapshot(frozenset(item[1] for item in running), frozenset(item[1] for item in pending))

    def knows(self, comfy_prompt_id: str) -> bool:
        """Is the prompt in ComfyUI's queue, running, or in its history (queue read first)?"""
        if comfy_prompt_id in self.snapshot():
            return True
        return bool(self.server.prompt_queue.get_history(prompt_id=comfy_prompt_id).get(comfy_prompt_id))

    def outcome(self, comfy_prompt_id: str) -> Outcome | None:
        """The prompt's ending from history, or None if history does not have it."""
        queue = self.server.prompt_queue
        if self._history_map:  # no deep copy of the entry (graph included) under ComfyUI's mutex
            found = queue.get_history(prompt_id=comfy_prompt_id, map_function=_outcome_fields)
        else:
            found = queue.get_history(prompt_id=comfy_prompt_id)
        entry = found.get(comfy_prompt_id)
        if entry is None:
            return None
        status = entry.get("status") or {}
        messages = status.get("messages") or []
        terminal = next((m for m in reversed(messages) if m and m[0] in TERMINAL_EVENTS), None)
        outputs = parse_outputs(entry.get("outputs") or {}, entry.get("meta"), self.directory_for_type)
        started_at = start_time(messages)
        if terminal is not None:
            event, data = terminal[0], terminal[1] if len(terminal) > 1 else {}
            if event == "execution_success":
                return Outcome("succeeded", None, outputs, started_at)
            if event == "execution_interrupted":
                return Outcome("interrupted", None, outputs, started_at)
            return Outcome("failed", execution_error(data), outputs, started_at)
        # No terminal message (older histories): fall back to status_str.
        if status.get("status_str") == "success" or not status:
            return Outcome("succeeded", None, outputs, started_at)
        error = PromptError("execution_error", "ComfyUI reported an error without details")
        return Outcome("failed", error, outputs, started_at)

    # --- cancel ----------------------------------------------------------------------

    def delete_pending(self, comfy_prompt_id: str) -> bool:
        """Remove a not-yet-started prompt from ComfyUI's queue; False if it is not there."""
        return bool(self.server.prompt_queue.delete_queue_item(lambda item: item[1] == comfy_prompt_id))

    def interrupt(self, comfy_prompt_id: str) -> bool:
        """Interrupt exactly this prompt if it is the one running; False otherwise."""
        queue = self.server.prompt_queue
        if hasattr(queue, "interrupt_if_running"):
            return bool(queue.interrupt_if_running(comfy_prompt_id))
        with queue.mutex:  # the lock get()/task_done() take, so "running" cannot change under us
            running = any(item[1] == comfy_prompt_id for item in queue.currently_running.values())
            if running:
                self._nodes.interrupt_processing(True)
        return running

    # --- events ----------------------------------------------------------------------

    def watch(self, comfy_prompt_ids: Collection[str]) -> None:
        """The ComfyUI prompt ids whose events the tap forwards (replaced, not merged)."""
        self._watched = frozenset(comfy_prompt_ids)

    def install_tap(self, listener: TapListener) -> None:
        """Chain a wrapper onto send_sync, once per server (re-installs swap the listener)."""
        self._listener = listener
        server = self.server
        current = server.send_sync
        if getattr(current, "_vq_bridge", None) is not None:
            current._vq_bridge = self
            return
        original = current

        def send_sync(event: Any, data: Any, sid: Any = None) -> Any:
            try:
                send_sync._vq_bridge._on_event(event, data)
            except Exception:  # never raise into ComfyUI's executor thread
                log.exception("vq event tap failed")
            return original(event, data, sid)

        send_sync._vq_bridge = self  # type: ignore[attr-defined]
        send_sync.__wrapped__ = original  # type: ignore[attr-defined]
        server.send_sync = send_sync

    def _on_event(self, event: Any, data: Any) -> None:
        # Runs on ComfyUI's executor thread: O(1), copy what we need, hop to the loop.
        if not isinstance(event, str) or event not in TAP_EVENTS or not isinstance(data, dict):
            return
        comfy_prompt_id = data.get("prompt_id")
        if comfy_prompt_id not in self._watched or self._listener is None:
            return
        payload = {k: data.get(k) for k in ("node", "value", "max", "node_id", "exception_message") if k in data}
        if event == "progress" or (event == "executing" and payload.get("node") is not None):
            # Progress is a hint: keep the latest per prompt and wake the loop once for a burst
            # (a sampler sends one per step), not once per event.
            self._progress.setdefault(comfy_prompt_id, {}).update(payload)
            if not self._progress_due:
                self._progress_due = True
                self.loop.call_soon_threadsafe(self._deliver_progress)
            return
        self.loop.call_soon_threadsafe(self._listener, event, comfy_prompt_id, payload)

    def _deliver_progress(self) -> None:
        self._progress_due = False
        latest, self._progress = self._progress, {}
        if self._listener is not None:
            for comfy_prompt_id, payload in latest.items():
                self._listener("progress", comfy_prompt_id, payload)

    def broadcast(self, event: str, data: dict[str, Any]) -> None:
        """Send a vq event to every connected browser (safe from any thread)."""
        self.server.send_sync(event, data)


def _outcome_fields(entry: dict[str, Any]) -> dict[str, Any]:
    """The parts of a history entry ``outcome`` reads (history entries are not changed once written)."""
    return {"status": entry.get("status"), "outputs": entry.get("outputs"), "meta": entry.get("meta")}


def _find_route(routes: Any, method: str, path: str) -> Callable[..., Any] | None:
    for route in routes:
        if isinstance(route, web.RouteDef) and route.method == method and route.path == path:
            return route.handler
    return None
