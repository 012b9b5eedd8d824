"""The CLI's HTTP client of ``/api/vq/v1``: turns answers into data and errors into
``CliError``s, so commands never look at status codes themselves."""

from __future__ import annotations

from typing import Any

import requests

from .errors import ApiError, CliError, NotInstalled, Unreachable

DEFAULT_URL = "http://127.0.0.1:8188"
# The /api alias survives reverse proxies that forward only /api (docs/api.md).
API_PREFIX = "/api/vq/v1"
DEFAULT_TIMEOUT = 30.0


def normalize_url(url: str) -> str:
    """``localhost:8188`` and ``http://host:8188/`` both mean ``http://host:8188``."""
    url = url.strip().rstrip("/")
    if "://" not in url:
        url = "http://" + url
    return url


class VqClient:
    """A thin wrapper over a ``requests.Session``; tests mount a fake adapter on it."""

    def __init__(self, url: str = DEFAULT_URL, *, session: requests.Session | None = None,
                 timeout: float = DEFAULT_TIMEOUT) -> None:
        self.url = normalize_url(url)
        self.session = session or requests.Session()
        self.timeout = timeout

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self.request("GET", path, params=params)

    def post(self, path: str, body: Any = None, *, headers: dict[str, str] | None = None) -> Any:
        return self.request("POST", path, body=body, headers=headers)

    def patch(self, path: str, body: Any) -> Any:
        return self.request("PATCH", path, body=body)

    def delete(self, path: str) -> Any:
        return self.request("DELETE", path)

    def request(self, method: str, path: str, *, params: dict[str, Any] | None = None, body: Any = None,
                headers: dict[str, str] | None = None) -> Any:
        url = self.url + API_PREFIX + path
        query = {k: v for k, v in (params or {}).items() if v is not None and v != ""}
        try:
            # json=None sends no body and no Content-Type, which body-less POSTs need.
            response = self.session.request(method, url, params=query or None, json=body, timeout=self.timeout,
                                            headers=headers)
        except requests.Timeout as exc:
            if isinstance(exc, requests.ConnectTimeout):
                raise Unreachable(self.url) from exc
            raise Unreachable(self.url, timed_out=True, timeout=self.timeout) from exc
        except requests.ConnectionError as exc:
            raise Unreachable(self.url) from exc
        if response.status_code >= 400:
            raise self._error(response, path)
        try:
            return response.json()
        except ValueError as exc:
            raise CliError(f"{method} {API_PREFIX}{path} answered {response.status_code} without JSON; "
                           f"is {self.url} a ComfyUI with vq?") from exc

    def _error(self, response: requests.Response, path: str) -> CliError:
        try:
            body = response.json()
        except ValueError:
            body = None
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict) and "message" in error:
            return ApiError(response.status_code, str(error.get("code", "error")), str(error["message"]),
                            error.get("details") if isinstance(error.get("details"), dict) else {}, body,
                            hint=error["hint"] if isinstance(error.get("hint"), str) else None)
        if response.status_code == 404:
            # ComfyUI's own 404 (plain text): the route is not there, so vq is not loaded.
            return NotInstalled(self.url, API_PREFIX + path)
        text = (response.text or "").strip().splitlines()
        reason = text[0][:200] if text else response.reason
        return ApiError(response.status_code, "http_error", f"HTTP {response.status_code} from {self.url}: {reason}")
