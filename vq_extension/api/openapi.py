"""The OpenAPI 3.1 document of the REST API, built from the route table
(``routes.SPECS``, whose ``RouteSpec`` carries every fact about a route) and the pydantic request (``schemas``) and response (``responses``)
models, so it cannot describe routes that do not exist or miss ones that do.

Served at ``GET /vq/v1/openapi.json``; docs/api.md is checked against it by the tests.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from .. import __version__
from . import autoprompt_responses, file_responses, responses, workflow_responses
from .spec import RouteSpec

REF = "#/components/schemas/{model}"
PATH_PARAM = re.compile(r"\{(\w+)\}")

# Every error answer has the same envelope; these say when each status happens.
ERROR_TEXT = {
    400: "The body, query or a path id is invalid (`invalid_request`); `message` names the field.",
    403: "A path lies outside the allowed roots (`path_not_allowed`), or the request came from another site's "
         "page (`cross_origin`: an Origin that is not this server; `cross_site`: a cross-site Sec-Fetch-Site).",
    404: "No such job, prompt, workflow or file (`not_found`).",
    409: "The current state does not allow it (`conflict`, `count_changed`).",
    413: "The body or upload is larger than the limit (`body_too_large`, `upload_too_large`).",
    415: "The file is not an image or video vq takes (`unsupported_media`).",
    500: "A bug in vq (`internal`); the traceback is in ComfyUI's log.",
    502: "LM Studio answered with an error auto-prompt cannot use (`autoprompt_backend_error`).",
    503: "A dependency is down: ComfyUI's queue not ready (`unavailable`), LM Studio unreachable or without "
         "the model a stage needs (`autoprompt_unavailable`, with a `hint`).",
    504: "LM Studio did not answer within autoprompt_timeout_seconds (`autoprompt_timeout`).",
}
INFO = {
    "title": "vq (Video Queue) REST API",
    "version": __version__,
    "summary": "A durable batch job queue inside ComfyUI",
    "description": (
        "Every route is served twice by ComfyUI: as `/vq/v1/...` and as `/api/vq/v1/...` (the two "
        "servers below); clients should prefer `/api`. JSON in and out; timestamps are ISO 8601 UTC "
        "strings; ids are integers. Clients must ignore fields they do not know. Every error answer "
        "is `{\"error\": {\"code\", \"message\", \"details\"}}`."
    ),
    "license": {"name": "MIT", "identifier": "MIT"},
}


def build_document(specs: Iterable[tuple[RouteSpec, Any]]) -> dict[str, Any]:
    """The document for the route table ``specs`` ((spec, handler) pairs)."""
    routes = list(specs)
    schemas = _component_schemas(routes)
    paths: dict[str, dict[str, Any]] = {}
    for spec, fn in routes:
        paths.setdefault(spec.path, {})[spec.method.lower()] = _operation(spec, fn, schemas)
    return {
        "openapi": "3.1.0",
        "info": INFO,
        "servers": [{"url": "/api", "description": "the /api alias (survives proxies)"},
                    {"url": "/", "description": "direct"}],
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": schemas,
            "responses": {
                str(status): {"description": text, "content": {"application/json": {
                    "schema": {"$ref": REF.format(model="ErrorEnvelope")}}}}
                for status, text in ERROR_TEXT.items()
            },
        },
        "tags": [{"name": tag} for tag in sorted({_tag(spec.path) for spec, _ in routes})],
    }


_built: dict[str, Any] | None = None


def document(specs: Iterable[tuple[RouteSpec, Any]]) -> dict[str, Any]:
    """The served document: built once (the route table is complete once routes.py is imported)."""
    global _built
    if _built is None:
        _built = build_document(specs)
    return copy.deepcopy(_built)


def _component_schemas(routes: list[tuple[RouteSpec, Any]]) -> dict[str, Any]:
    """JSON schemas of every model the routes use, with refs into components."""
    models: list[tuple[type[BaseModel], str]] = [(responses.ErrorEnvelope, "serialization")]
    for spec, _fn in routes:
        also = model_named(spec.also_ok.response) if spec.also_ok else None
        for model, mode in ((spec.body, "validation"), (spec.query, "validation"),
                            (_response_model(spec), "serialization"), (also, "serialization")):
            if model is not None and (model, mode) not in models:
                models.append((model, mode))
    _keys, top = models_json_schema(models, ref_template=REF)
    return dict(sorted(top.get("$defs", {}).items()))


def _response_model(spec: RouteSpec) -> type[BaseModel] | None:
    return model_named(spec.response) if spec.response else None


def model_named(name: str) -> type[BaseModel]:
    """A response model by the name a ``RouteSpec`` gives."""
    for module in (responses, workflow_responses, file_responses, autoprompt_responses):
        if hasattr(module, name):
            return getattr(module, name)
    raise KeyError(f"no response model named {name}")


def _operation(spec: RouteSpec, fn: Any, schemas: dict[str, Any]) -> dict[str, Any]:
    name = getattr(fn, "__name__", spec.path)
    op: dict[str, Any] = {
        "operationId": name,
        "summary": spec.summary,
        "tags": [_tag(spec.path)],
    }
    params = [{"name": p, "in": "path", "required": True, "schema": _path_schema(p)}
              for p in PATH_PARAM.findall(spec.path)]
    if spec.query is not None:
        params += _query_params(spec.query, schemas)
    if getattr(spec, "idempotent", False):
        params.append({"name": "Idempotency-Key", "in": "header", "required": False,
                       "description": "a fresh key per intended submit (e.g. a uuid4); a repeat within 24 h "
                                      "answers 200 with the same job, a different body 409",
                       "schema": {"type": "string", "minLength": 1, "maxLength": 255}})
    if params:
        op["parameters"] = params
    raw = spec.raw
    if spec.body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {
            "schema": {"$ref": REF.format(model=spec.body.__name__)}}}}
    elif raw and spec.method == "POST":  # a streamed upload: one file part, optionally a subfolder field first
        parts = {"subfolder": {"type": "string"},
                 "file": {"type": "string", "contentMediaType": "application/octet-stream"}}
        op["requestBody"] = {"required": True, "content": {"multipart/form-data": {"schema": {
            "type": "object", "required": ["file"], "properties": parts}}}}
    response = _response_model(spec)
    ok: dict[str, Any] = {"description": spec.summary}
    if response is not None:
        ok["content"] = {"application/json": {"schema": {"$ref": REF.format(model=_name(response, schemas))}}}
    elif spec.content_type:
        ok["content"] = {spec.content_type: {"schema": {"type": "string", "contentMediaType": spec.content_type}}}
    else:
        ok["content"] = {"application/json": {"schema": {"type": "object"}}}
    answers = {str(spec.status): ok}
    if spec.also_ok:
        model = model_named(spec.also_ok.response)
        answers[str(spec.also_ok.status)] = {"description": spec.also_ok.when, "content": {"application/json": {
            "schema": {"$ref": REF.format(model=_name(model, schemas))}}}}
    op["responses"] = {**answers, **{
        str(status): {"$ref": f"#/components/responses/{status}"} for status in _errors(spec)}}
    return op


def _path_schema(name: str) -> dict[str, Any]:
    # routes.py parses names ending in _id as whole numbers; others (a workflow name) stay text
    return {"type": "integer", "minimum": 0} if name.endswith("_id") else {"type": "string"}


def _name(model: type[BaseModel], schemas: dict[str, Any]) -> str:
    # Pydantic suffixes a model used in both modes with differing schemas.
    for candidate in (model.__name__, f"{model.__name__}-Output"):
        if candidate in schemas:
            return candidate
    raise KeyError(f"no component schema for {model.__name__}")


def _query_params(model: type[BaseModel], schemas: dict[str, Any]) -> list[dict[str, Any]]:
    schema = schemas.get(model.__name__) or model.model_json_schema(ref_template=REF)
    required = set(schema.get("required", []))
    out = []
    for name, prop in schema.get("properties", {}).items():
        prop = dict(prop)
        param: dict[str, Any] = {"name": name, "in": "query", "required": name in required}
        if "description" in prop:
            param["description"] = prop.pop("description")
        if prop.get("type") == "array":
            # ?status=failed,running (one comma-separated value), not ?status=a&status=b
            param.update(style="form", explode=False)
        param["schema"] = prop
        out.append(param)
    return out


def _errors(spec: RouteSpec) -> list[int]:
    has_ids = bool(PATH_PARAM.search(spec.path))
    statuses = set(spec.errors)
    if spec.body is not None or spec.query is not None or has_ids or spec.method != "GET":
        statuses.add(400)  # body-less POSTs refuse form posts with 400 too
    if has_ids:
        statuses.add(404)
    if spec.body is not None:
        statuses.add(413)  # json_body_max_bytes
    if spec.changes_state or spec.same_site_only:
        statuses.add(403)  # cross_origin / cross_site
    if spec.method != "GET" and spec.conflicts:
        statuses.add(409)
    statuses.add(500)
    return sorted(statuses)


def _tag(path: str) -> str:
    return path.removeprefix("/vq/v1/").split("/", 1)[0].replace(".json", "") or "vq"
