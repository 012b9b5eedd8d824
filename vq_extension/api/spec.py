"""What is known about one route, in one place: the route table (``routes.py``) fills it,
the handler wrapper and the OpenAPI document read it."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

PREFIX = "/vq/v1"


@dataclass(frozen=True)
class AlsoOk:
    """A second success answer besides the route's usual one."""

    status: int
    response: str  # model name in ``api.responses``
    when: str


@dataclass(frozen=True)
class RouteSpec:
    method: str
    path: str  # with PREFIX
    summary: str
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    status: int = 200
    # The answer's model in ``api.responses``, by name: only the OpenAPI document needs the
    # models, and building them costs a third of the plugin's import time.
    response: str | None = None
    raw: bool = False  # the handler reads the request itself (multipart) and gets it as `request`
    content_type: str | None = None  # a raw route's answer when it is not JSON
    errors: tuple[int, ...] = ()  # statuses the table cannot tell: user paths (403), dependencies (503), ...
    conflicts: bool = True  # a non-GET route that may answer 409 (False: it only reads or toggles)
    also_ok: AlsoOk | None = None
    # A GET whose answer must not reach another site's page (an <img> or a listing sends no
    # Origin): refused unless Sec-Fetch-Site says same-origin, or is absent (non-browsers).
    same_site_only: bool = False
    idempotent: bool = False  # accepts an Idempotency-Key header, passed to the handler as `idempotency_key`

    @property
    def changes_state(self) -> bool:
        return self.method not in ("GET", "HEAD", "OPTIONS")

    @property
    def below_prefix(self) -> str:
        return self.path.removeprefix(PREFIX)
