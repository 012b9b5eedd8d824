"""The OpenAPI document: valid OpenAPI 3.1, lists exactly the routes the plugin serves,
and real answers of the running plugin (on the fake ComfyUI) match its schemas."""

from __future__ import annotations

import copy
import json
import re
import shlex
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import jsonschema
import pytest
from openapi_spec_validator import validate
from PIL import Image

from tests.helpers import REPO, closed, comfy_graph
from tests.integration.helpers import wait_for
from vq_extension.api.openapi import build_document
from vq_extension.api.spec import PREFIX
from vq_extension.routes import SPECS

SPEC_OF = {(spec.method, spec.path): spec for spec, _fn in SPECS}


@pytest.fixture
def profile() -> str:
    return "0.8.0"  # the document does not depend on the ComfyUI version


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return build_document(SPECS)


def test_the_document_is_valid_openapi_3_1(doc: dict[str, Any]) -> None:
    validate(doc)
    assert doc["openapi"] == "3.1.0"


def test_every_operation_documents_its_answer_and_its_errors(doc: dict[str, Any]) -> None:
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            spec = SPEC_OF[(method.upper(), path)]
            responses = op["responses"]
            ok = [s for s in responses if s.startswith("2")]
            assert len(ok) == 1 + (spec.also_ok is not None), (method, path)
            assert "500" in responses, (method, path)
            if "{" in path:
                assert {"400", "404"} <= set(responses), (method, path)
            assert op["operationId"] and op["summary"], (method, path)
            if path == f"{PREFIX}/openapi.json" or spec.content_type:
                continue
            for status in ok:
                assert "$ref" in responses[status]["content"]["application/json"]["schema"], (method, path)


def test_the_document_lists_exactly_the_served_routes(comfy: Any, doc: dict[str, Any]) -> None:
    served: set[tuple[str, str]] = set()
    for route in comfy.app.router.routes():
        path = route.resource.canonical if route.resource is not None else ""
        if route.method != "HEAD" and (path.startswith(PREFIX + "/") or path.startswith("/api" + PREFIX + "/")):
            served.add((route.method, path))
    documented = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    assert {(m, p) for m, p in served if not p.startswith("/api")} == documented
    assert {(m, p.removeprefix("/api")) for m, p in served if p.startswith("/api")} == documented  # the alias


async def test_the_served_document_is_the_built_one(client: Any, doc: dict[str, Any]) -> None:
    for prefix in ("/api" + PREFIX, PREFIX):
        resp = await client.get(prefix + "/openapi.json")
        assert resp.status == 200
        assert await resp.json() == doc


# --- real answers against the schemas -------------------------------------------------------------


class Checker:
    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc
        self.components = closed(copy.deepcopy(doc["components"]))
        self.seen: set[tuple[str, str, str]] = set()

    def check(self, method: str, template: str, status: int, body: Any) -> None:
        responses = self.doc["paths"][PREFIX + template][method.lower()]["responses"]
        assert str(status) in responses, f"{method} {template} answered {status}, which is not documented"
        response = responses[str(status)]
        if "$ref" in response:
            response = self.doc["components"]["responses"][str(status)]
        schema = response["content"]["application/json"]["schema"]
        jsonschema.validate(body, {**closed(schema), "components": self.components},
                            cls=jsonschema.Draft202012Validator)
        self.seen.add((method.upper(), PREFIX + template, str(status)))


async def call(client: Any, checker: Checker, method: str, template: str, status: int, *,
               ids: dict[str, int] | None = None, **kwargs: Any) -> Any:
    path = template.format(**(ids or {}))
    resp = await client.request(method, "/api" + PREFIX + path, **kwargs)
    body = await resp.json()
    assert resp.status == status, (method, path, resp.status, body)
    checker.check(method, template, status, body)
    return body


def upscale(scale: float) -> dict[str, Any]:
    graph = comfy_graph("upscale")
    graph["1"]["inputs"]["image"] = "vq_smoke.png"
    graph["2"]["inputs"]["scale_by"] = scale
    graph["3"]["inputs"]["filename_prefix"] = "vq_test/openapi"
    return graph


async def until(client: Any, job_id: int, statuses: set[str], timeout: float = 10.0) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        body = await (await client.get(f"/api{PREFIX}/jobs/{job_id}")).json()
        return body if body["status"] in statuses else None

    return await wait_for(check, timeout, f"job {job_id} to reach {statuses}")


async def test_real_answers_match_the_document(client: Any, comfy: Any, doc: dict[str, Any]) -> None:
    c = Checker(doc)
    await call(client, c, "GET", "/health", 200)
    await call(client, c, "GET", "/openapi.json", 200)
    job = await call(client, c, "POST", "/jobs", 201,
                     json={"name": "schema", "graphs": [upscale(1.25), comfy_graph("invalid_missing_image")]})
    job_id = {"job_id": job["id"]}
    done = await until(client, job["id"], {"failed", "succeeded"})
    assert done["status"] == "failed"  # one output, one ComfyUI validation error: both shapes appear
    good, bad = (p["id"] for p in done["prompts"])
    await call(client, c, "GET", "/jobs", 200, params={"status": "failed,running", "limit": "5"})
    await call(client, c, "GET", "/jobs/{job_id}", 200, ids=job_id)
    await call(client, c, "GET", "/jobs/{job_id}/log", 200, ids=job_id)
    await call(client, c, "GET", "/prompts/{prompt_id}", 200, ids={"prompt_id": good})
    await call(client, c, "PATCH", "/jobs/{job_id}", 200, ids=job_id, json={"priority": 3})
    await call(client, c, "POST", "/jobs/{job_id}/top", 200, ids=job_id)
    await call(client, c, "GET", "/queue", 200)
    await call(client, c, "POST", "/queue/pause", 200)
    await call(client, c, "POST", "/prompts/{prompt_id}/retry", 200, ids={"prompt_id": bad})
    await call(client, c, "POST", "/prompts/{prompt_id}/cancel", 200, ids={"prompt_id": bad})
    await call(client, c, "POST", "/jobs/{job_id}/retry", 200, ids=job_id)
    await call(client, c, "POST", "/jobs/{job_id}/cancel", 200, ids=job_id)
    second = await call(client, c, "POST", "/jobs", 201, json={"graphs": [upscale(1.5)]})
    await call(client, c, "POST", "/queue/clear", 200, json={"expected_count": 1})
    await call(client, c, "POST", "/queue/resume", 200)
    # errors: the envelope, for each status a route documents
    await call(client, c, "GET", "/jobs/{job_id}", 404, ids={"job_id": 999999})
    await call(client, c, "GET", "/jobs", 400, params={"limit": "0"})
    await call(client, c, "POST", "/jobs/{job_id}/cancel", 409, ids={"job_id": second["id"]})
    await call(client, c, "POST", "/queue/clear", 409, json={"expected_count": 5})
    await call(client, c, "POST", "/queue/pause", 400, data="x=1",
               headers={"Content-Type": "application/x-www-form-urlencoded"})
    # workflow routes and workflow submits (201 and the dry run's 200)
    await call(client, c, "GET", "/workflows", 200)
    await call(client, c, "GET", "/workflows/{name}", 200, ids={"name": "wan-i2v-nstage"})
    await call(client, c, "GET", "/workflows/{name}", 404, ids={"name": "no-such-workflow"})
    await call(client, c, "POST", "/workflows/reload", 200)
    folder = images(Path(comfy.paths.input_directory) / "openapi")
    await call(client, c, "POST", "/jobs", 200, json={"workflow": "smoke-image", "input": str(folder), "tries": 2,
                                                      "dry_run": True})
    created = await call(client, c, "POST", "/jobs", 201, json={"workflow": "smoke-image", "input": str(folder),
                                                                "seed": 3})
    await call(client, c, "POST", "/jobs", 400, json={"workflow": "smoke-image", "input": str(folder),
                                                      "params": {"scale_by": 99}})
    await call(client, c, "POST", "/jobs", 403, json={"workflow": "smoke-image", "input": "/etc"})
    await call(client, c, "POST", "/jobs", 404, json={"workflow": "nope", "input": str(folder)})
    await until(client, created["id"], {"succeeded"})
    await call(client, c, "GET", "/jobs/{job_id}", 200, ids={"job_id": created["id"]})
    await call(client, c, "DELETE", "/jobs/{job_id}", 200, ids={"job_id": created["id"]})
    await call(client, c, "DELETE", "/jobs/{job_id}", 404, ids={"job_id": created["id"]})
    untested = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops} - {(m, p) for m, p, _ in c.seen}
    # The file routes (paths, browse, thumbnail, uploads, staging) and auto-prompt (with a fake
    # LM Studio) are checked in their own suites.
    files = {(m, p) for m, p in untested
             if p.split("/")[3] in ("paths", "browse", "thumbnail", "uploads", "staging", "autoprompt")}
    assert untested == files, f"routes whose real answers were not checked: {untested - files}"


def images(folder: Path, count: int = 2) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        Image.new("RGB", (32 + 2 * i, 24), (40 * i, 90, 160)).save(folder / f"img{i + 1}.png")
    return folder


# --- docs/api.md is checked against the document ----------------------------------------------------

API_MD = REPO / "docs" / "api.md"
HEADING = re.compile(r"^### (GET|POST|PATCH|PUT|DELETE) (/vq/v1/\S*)\s*$", re.M)
TABLE_ROW = re.compile(r"^\| (GET|POST|PATCH|PUT|DELETE) \| `(/vq/v1/[^`]*)` \|", re.M)
SH_BLOCK = re.compile(r"```sh\n(.*?)```", re.S)


def api_md_sections() -> dict[tuple[str, str], str]:
    text = API_MD.read_text(encoding="utf-8")
    marks = list(HEADING.finditer(text))
    out = {}
    for i, m in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else text.find("\n## ", m.end())
        out[(m[1], m[2])] = text[m.end():end if end != -1 else None]
    return out


def curl_commands(section: str) -> list[list[str]]:
    commands = []
    for block in SH_BLOCK.findall(section):
        joined = block.replace("\\\n", " ")
        commands += [shlex.split(line) for line in joined.splitlines() if line.strip().startswith("curl")]
    return commands


def template_regex(path: str) -> re.Pattern[str]:
    """{job_id} matches a number, {name} a path segment (as routes.py parses them)."""
    pattern = re.sub(r"\\\{(\w+)\\\}", lambda m: r"\d+" if m[1].endswith("_id") else r"[^/?]+", re.escape(path))
    return re.compile("^" + pattern + "$")


def test_api_md_has_a_section_and_a_table_row_for_every_route(doc: dict[str, Any]) -> None:
    documented = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    assert set(api_md_sections()) == documented
    assert set(TABLE_ROW.findall(API_MD.read_text(encoding="utf-8"))) == documented


def test_api_md_curl_examples_match_the_document(doc: dict[str, Any]) -> None:
    components = {"components": doc["components"]}
    for (method, path), section in api_md_sections().items():
        commands = curl_commands(section)
        assert commands, f"{method} {path}: no curl example"
        op = doc["paths"][path][method.lower()]
        for argv in commands:
            where = f"{method} {path}: {' '.join(argv)}"
            given = argv[argv.index("-X") + 1] if "-X" in argv else "GET"
            assert given == method, where
            url = next(a for a in argv if a.startswith("$VQ"))
            target, _, query = url.removeprefix("$VQ").partition("?")
            assert template_regex(path).match("/vq/v1" + target), where
            allowed = {p["name"] for p in op.get("parameters", []) if p["in"] == "query"}
            assert {k for k, _ in parse_qsl(query)} <= allowed, where
            if "-d" in argv:
                body = json.loads(argv[argv.index("-d") + 1])
                schema = op["requestBody"]["content"]["application/json"]["schema"]
                jsonschema.validate(body, {**schema, **components}, cls=jsonschema.Draft202012Validator)
                assert "Content-Type: application/json" in argv, where
            elif "-F" in argv:
                assert "multipart/form-data" in op["requestBody"]["content"], where
            else:
                assert "requestBody" not in op, f"{where}: the route takes a body; show one"
