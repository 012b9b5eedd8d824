"""OpenAI-compatible chat client for LM Studio (also Ollama or any ``/v1`` server).

Request building and answer parsing are plain functions (``chat_body``, ``answer_text``),
so any transport shares them; the transport here is aiohttp, because the client runs on
ComfyUI's event loop and must never block it. Shapes and error forms follow
``reference/lmstudio-and-wan-prompting.md`` sections 2.4 and 3.
"""

from __future__ import annotations

import asyncio
import errno
import json
import re
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp

from .errors import (
    AutopromptBackendError,
    AutopromptError,
    AutopromptOutputError,
    AutopromptTimeout,
    AutopromptUnavailable,
)

DEFAULT_URL = "http://127.0.0.1:1234"
CONNECT_TIMEOUT = 3.0  # the reference's reachability budget: refused or silent within 3 s means offline
# A JIT-loaded model unloads after this much idle time, so it stops holding VRAM that
# ComfyUI's video jobs need (reference section 4, step 4).
MODEL_TTL_SECONDS = 600
# Which setting names each stage's model, for hints that say exactly what to change.
MODEL_SETTING = {"caption": "autoprompt_caption_model", "motion": "autoprompt_motion_model"}

Message = dict[str, Any]
_THINK = re.compile(r"<think>.*?(</think>|$)", re.DOTALL | re.IGNORECASE)


def system_message(text: str) -> Message:
    return {"role": "system", "content": text}


def user_message(text: str, image_url: str | None = None) -> Message:
    if image_url is None:
        return {"role": "user", "content": text}
    return {"role": "user", "content": [{"type": "text", "text": text},
                                        {"type": "image_url", "image_url": {"url": image_url}}]}


def assistant_message(text: str) -> Message:
    return {"role": "assistant", "content": text}


@dataclass(frozen=True)
class ChatRequest:
    stage: str  # "caption" or "motion", so an error names the stage and its setting
    model: str
    messages: tuple[Message, ...]
    temperature: float = 0.6
    max_tokens: int = 600


class ChatClient(Protocol):
    async def chat(self, request: ChatRequest) -> str: ...


def chat_body(request: ChatRequest) -> dict[str, Any]:
    """The POST /v1/chat/completions body (section 2.4). Non-streaming: answers are ~100 words."""
    return {"model": request.model, "messages": list(request.messages), "temperature": request.temperature,
            "max_tokens": request.max_tokens, "stream": False, "ttl": MODEL_TTL_SECONDS}


def error_text(body: Any) -> str | None:
    """The message of either error shape (section 3): ``{"error": "msg"}`` or
    ``{"error": {"message": ...}}``; None when the body carries no ``error``."""
    if not isinstance(body, dict) or body.get("error") is None:
        return None
    error = body["error"]
    if isinstance(error, dict):
        return str(error.get("message") or body.get("message") or json.dumps(error))
    return str(error)


def answer_text(status: int, body: Any, request: ChatRequest, url: str) -> str:
    """The assistant's text, or the typed error this answer means. A top-level ``error``
    fails even on HTTP 200, and so does empty content (section 3, handling rules)."""
    message = error_text(body)
    if status >= 400 or message is not None:
        raise classify(status, message or f"HTTP {status}", request.model, request.stage, url)
    try:
        content = body["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise AutopromptBackendError(f"LM Studio at {url} answered without choices[0].message.content",
                                     stage=request.stage) from None
    # Reasoning models may think inline; `reasoning` fields are ignored (section 2.4).
    text = _THINK.sub("", content if isinstance(content, str) else "").strip()
    if not text:
        raise AutopromptOutputError(f"{request.model} answered with empty text", stage=request.stage)
    return text


def classify(status: int, message: str, model: str, stage: str, url: str) -> AutopromptError:
    """Map an LM Studio / Ollama error to what the user has to do about it."""
    lowered = message.lower()
    setting = MODEL_SETTING.get(stage, "the model setting")
    if status in (401, 403):
        return AutopromptUnavailable(
            f"LM Studio at {url} requires an API token ({status})", stage=stage,
            hint="Turn off 'Require Authentication' in LM Studio's server settings")
    if "no models loaded" in lowered:
        return AutopromptUnavailable(f"LM Studio has no model loaded: {message}", stage=stage,
                                     hint=f"Start LM Studio and load {model} (lms load {model})")
    if "invalid model identifier" in lowered or "model_not_found" in lowered or (
            status == 404 and "not found" in lowered):
        return AutopromptUnavailable(f"LM Studio does not have the model {model!r}: {message}", stage=stage,
                                     hint=f"Download {model} in LM Studio, or set {setting} to a model it lists")
    if "does not support images" in lowered:
        return AutopromptUnavailable(f"{model} cannot read images: {message}", stage=stage,
                                     hint=f"Load a vision model for captions and set {setting} to it")
    return AutopromptBackendError(f"LM Studio at {url} answered {status}: {message}", stage=stage)


def normalize_root(url: str) -> str:
    """``lmstudio_url`` is the server root; a pasted ``.../v1`` (the form OpenAI SDKs want)
    means the same server."""
    url = url.strip().rstrip("/")
    if "://" not in url:
        url = "http://" + url
    return url[:-3] if url.endswith("/v1") else url


def _is_reset(exc: aiohttp.ClientError) -> bool:
    # A keep-alive connection the server closed between requests shows up as one of these;
    # one retry on a fresh connection is what every HTTP client does about it.
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return True
    return isinstance(exc, aiohttp.ClientOSError) and exc.errno in (errno.ECONNRESET, errno.EPIPE)


class LmStudioClient:
    """One aiohttp session per client, created on first use inside the running loop."""

    def __init__(self, url: str = DEFAULT_URL, *, timeout: float = 120.0,
                 connect_timeout: float = CONNECT_TIMEOUT) -> None:
        self.url = normalize_root(url)
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def get_json(self, path: str) -> tuple[int, Any]:
        """GET for the probe: short timeouts, (status, JSON body or None)."""
        return await self._send("GET", path, None, self.connect_timeout * 2, stage=None)

    async def chat(self, request: ChatRequest) -> str:
        status, body = await self._send("POST", "/v1/chat/completions", chat_body(request), self.timeout,
                                        stage=request.stage)
        return answer_text(status, body, request, self.url)

    async def _send(self, method: str, path: str, body: Any, total: float, *,
                    stage: str | None) -> tuple[int, Any]:
        timeout = aiohttp.ClientTimeout(total=total, sock_connect=self.connect_timeout)
        retried = False
        while True:
            try:
                async with self._open().request(method, self.url + path, json=body, timeout=timeout) as response:
                    return response.status, _json_or_none(await response.text())
            except aiohttp.ClientError as exc:
                if _is_reset(exc) and not retried:
                    retried = True
                    continue
                raise self._failure(exc, stage, total) from exc
            except asyncio.TimeoutError as exc:  # the total budget ran out
                raise self._failure(exc, stage, total) from exc

    def _failure(self, exc: Exception, stage: str | None, total: float) -> AutopromptError:
        # Order matters: the connect-timeout class is also a TimeoutError, and "nobody
        # answered the connection" means offline, not slow.
        if isinstance(exc, aiohttp.ClientConnectorError | aiohttp.ConnectionTimeoutError):
            return AutopromptUnavailable(
                f"LM Studio is not reachable at {self.url} ({exc or type(exc).__name__})", stage=stage,
                hint=f"Start LM Studio's server (lms server start) at {self.url}, or set lmstudio_url")
        if isinstance(exc, asyncio.TimeoutError):
            return AutopromptTimeout(
                f"LM Studio at {self.url} did not answer within {total:g} s", stage=stage,
                hint="A first request may load the model; raise autoprompt_timeout_seconds or load the "
                     "model in LM Studio beforehand")
        return AutopromptBackendError(f"LM Studio at {self.url}: {type(exc).__name__}: {exc}", stage=stage)

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        return self._session


def _json_or_none(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None
