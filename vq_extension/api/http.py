"""The HTTP plumbing every vq route shares: refusing other sites, reading JSON bodies and
path ids safely, and answering with JSON or the error envelope."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from pydantic import ValidationError

from ..errors import InvalidRequest, PathForbidden, TooLarge, VqError
from .requests import MAX_INT
from .spec import RouteSpec

log = logging.getLogger("vq.routes")
Handler = Callable[..., Awaitable[Any]]

# Browsers send these cross-site without a CORS preflight; a body-less POST must refuse them.
SIMPLE_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data", "text/plain")


@dataclass(frozen=True)
class Reply:
    """An answer whose status differs from the route's usual one (e.g. a dry run's 200)."""

    status: int
    body: dict[str, Any]


def wrap(spec: RouteSpec, fn: Handler, api: Any) -> Callable[[web.Request], Awaitable[web.Response]]:
    """The aiohttp handler for route ``spec``: guards, parsing, ``fn(api, ...)``, the answer.
    ``api`` is what the handlers call (``routes.Services``); its settings are read per request."""

    async def handle(request: web.Request) -> web.Response:
        try:
            if spec.changes_state:
                _refuse_cross_origin(request)
            elif spec.same_site_only:
                _refuse_cross_site(request)
            kwargs: dict[str, Any] = {}
            if spec.query is not None:
                kwargs["query"] = spec.query.model_validate(dict(request.query))
            if spec.body is not None:
                kwargs["body"] = spec.body.model_validate(
                    await _json_body(request, api.settings.json_body_max_bytes))
            elif spec.raw:
                kwargs["request"] = request
            elif request.method in ("POST", "PATCH", "PUT", "DELETE"):
                _refuse_simple_forms(request)
            if spec.idempotent:
                kwargs["idempotency_key"] = _idempotency_key(request)
            for name, value in request.match_info.items():
                kwargs[name] = _int_id(name, value) if name.endswith("_id") else value
            result = await fn(api, **kwargs)
        except ValidationError as exc:
            return error_response(400, "invalid_request", _describe(exc), {"errors": _errors(exc)})
        except OverflowError:  # a number SQLite cannot hold slipped past the models
            return error_response(400, "invalid_request", f"a number in the request is larger than {MAX_INT}")
        except RecursionError:
            return error_response(400, "invalid_request", NESTED)
        except VqError as exc:
            return error_response(exc.status, exc.code, exc.message, exc.details, hint=exc.hint)
        except Exception:
            log.exception("vq: %s %s failed", request.method, request.path)
            return error_response(500, "internal", "internal error in vq; the traceback is in ComfyUI's log")
        if isinstance(result, web.StreamResponse):  # not JSON: e.g. an image
            return result
        if isinstance(result, Reply):
            return web.json_response(result.body, status=result.status, dumps=_dumps)
        return web.json_response(result, status=spec.status, dumps=_dumps)

    handle.__name__ = fn.__name__
    return handle


IDEMPOTENCY_HEADER = "Idempotency-Key"


def _idempotency_key(request: web.Request) -> str | None:
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is None:
        return None
    if not 1 <= len(key) <= 255 or not key.isascii() or not key.isprintable():
        raise InvalidRequest(f"{IDEMPOTENCY_HEADER} must be 1 to 255 printable ASCII characters")
    return key


async def _json_body(request: web.Request, limit: int) -> Any:
    if not request.can_read_body:
        return {}
    if request.content_type != "application/json":
        raise InvalidRequest(f"send the body as JSON (Content-Type: application/json), not {request.content_type}")
    if request.content_length is not None and request.content_length > limit:
        raise _body_too_large(limit)
    raw = bytearray()
    while chunk := await request.content.readany():
        raw += chunk
        if len(raw) > limit:
            raise _body_too_large(limit)
    try:
        return json.loads(raw, parse_constant=_no_constant)
    except RecursionError:
        raise InvalidRequest(NESTED) from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, NaN/Infinity
        raise InvalidRequest(f"the body is not valid JSON: {exc}") from None


NESTED = "the body is nested too deeply (vq reads JSON up to about 1000 levels deep)"


def _no_constant(name: str) -> Any:
    # Python's json reads NaN and Infinity, which JSON does not have: stored, they would
    # be served back later as invalid JSON.
    raise ValueError(f"{name} is not a JSON number; send a finite number")


def _body_too_large(limit: int) -> TooLarge:
    return TooLarge(f"the request body is larger than {limit} bytes; raise json_body_max_bytes in vq.yaml (or "
                    "VQ_JSON_BODY_MAX_BYTES) and restart ComfyUI, or send fewer graphs per submit",
                    {"limit": limit, "setting": "json_body_max_bytes"}, code="body_too_large")


def _refuse_cross_origin(request: web.Request) -> None:
    # A page on any site can make the browser POST here without a CORS preflight (no body,
    # or a form), and ComfyUI's own origin check covers loopback hosts only and lets
    # `Origin: null` (sandboxed frames, file: pages) through. Non-browsers send no Origin.
    origin = request.headers.get("Origin")
    if origin is not None and (origin == "null" or urlsplit(origin).netloc.lower() != request.host.lower()):
        raise PathForbidden(
            f"requests from another site are refused (Origin {origin}, this server {request.host}); use ComfyUI's "
            "own page or the vq CLI, and behind a reverse proxy pass the original Host header through",
            {"origin": origin, "host": request.host}, code="cross_origin")


def _refuse_cross_site(request: web.Request) -> None:
    # <img src> and other no-cors GETs send no Origin, but browsers send Sec-Fetch-Site.
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None and site not in ("same-origin", "none"):
        raise PathForbidden(f"this route answers ComfyUI's own page only (Sec-Fetch-Site: {site})",
                            {"sec_fetch_site": site}, code="cross_site")


def _refuse_simple_forms(request: web.Request) -> None:
    if request.content_type in SIMPLE_FORM_TYPES:
        raise InvalidRequest(f"this route takes no form data (got {request.content_type})")


def _int_id(name: str, value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise InvalidRequest(f"{name} must be a whole number, not {value!r}") from None
    if not 0 <= number <= MAX_INT:
        raise InvalidRequest(f"{name} must be a whole number from 0 to {MAX_INT}, not {value}") from None
    return number


def _describe(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in exc.errors())


def _errors(exc: ValidationError) -> list[dict[str, Any]]:
    return [{"loc": [str(p) for p in e["loc"]], "msg": e["msg"], "type": e["type"]} for e in exc.errors()]


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def error_response(status: int, code: str, message: str, details: dict[str, Any] | None = None, *,
                   hint: str | None = None) -> web.Response:
    error = {"code": code, "message": message, "details": details or {}, **({"hint": hint} if hint else {})}
    return web.json_response({"error": error}, status=status)
