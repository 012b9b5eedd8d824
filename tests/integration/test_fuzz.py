"""Fuzz every route from the OpenAPI document (issue 10, item 16): random path ids,
query parameters and bodies, against the fake ComfyUI host. No answer may be a 5xx and
none may hang. Hypothesis draws the cases (a fixed seed and a bounded number per route,
so the run is repeatable and stays under a minute); they are then sent in order.

The bodies mix three kinds: random JSON of any shape, objects with the route's own field
names holding random values (reaching the validators), and raw bytes with a JSON
content type."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from vq_extension import routes
from vq_extension.api.openapi import build_document

DOCUMENT = build_document(routes.SPECS)
EXAMPLES_PER_ROUTE = 12
TIMEOUT = 20.0  # a hang guard, not a measurement

SCALARS = st.one_of(
    st.none(), st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
    st.sampled_from(["", "/", "..", "/etc/passwd", "/proc/self/cwd", "C:\\x", "\x00", "smoke-image", "-1",
                     "9223372036854775808", "a" * 300]),
)
JSON = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                     st.dictionaries(st.text(max_size=10), inner, max_size=4)),
                    max_leaves=12)
PARAM_TEXT = st.one_of(st.text(max_size=20), st.integers(min_value=-(2**70), max_value=2**70).map(str),
                       st.sampled_from(["", "0", "-1", "true", "null", "a,b", "/etc", "%00", "1e999"]))


def operations() -> list[tuple[str, str, dict[str, Any]]]:
    return [(method.upper(), path, op) for path, item in DOCUMENT["paths"].items() for method, op in item.items()]


def fields_of(op: dict[str, Any]) -> list[str]:
    schema = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
    if "$ref" in schema:
        schema = DOCUMENT["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return sorted(schema.get("properties", {}))


def case_strategy(path: str, op: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    names = re.findall(r"\{(\w+)\}", path)
    query_names = [p["name"] for p in op.get("parameters", []) if p["in"] == "query"]
    fields = fields_of(op)
    body = st.none()
    if "requestBody" in op:
        field_objects = st.dictionaries(st.sampled_from(fields), JSON, max_size=len(fields)) if fields else JSON
        body = st.one_of(JSON.map(lambda v: ("json", v)), field_objects.map(lambda v: ("json", v)),
                         st.binary(max_size=60).map(lambda b: ("raw", b)))
    return st.fixed_dictionaries({
        "ids": st.fixed_dictionaries({n: PARAM_TEXT for n in names}),
        "query": st.dictionaries(st.sampled_from(query_names + ["junk"]), PARAM_TEXT, max_size=3),
        "body": body,
    })


def draw_cases(path: str, op: dict[str, Any]) -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = []

    @seed(20261206)
    @settings(max_examples=EXAMPLES_PER_ROUTE, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(case_strategy(path, op))
    def collect(case: dict[str, Any]) -> None:
        cases.append(case)

    collect()
    return cases


def test_every_route_is_fuzzed() -> None:
    assert {(m, p) for m, p, _ in operations()} == {(s.method, s.path) for s, _ in routes.SPECS}


@pytest.mark.parametrize("profile", ["0.8.0"], indirect=True)
async def test_no_route_answers_5xx_or_hangs(client: Any) -> None:
    failures = []
    for method, path, op in operations():
        for case in draw_cases(path, op):
            url = re.sub(r"\{(\w+)\}", lambda m: _segment(case["ids"][m.group(1)]), path)
            kwargs: dict[str, Any] = {"params": case["query"]}
            if case["body"] is not None:
                kind, value = case["body"]
                data = json.dumps(value).encode() if kind == "json" else value
                kwargs.update(data=data, headers={"Content-Type": "application/json"})
            try:
                resp = await asyncio.wait_for(client.request(method, url, **kwargs), TIMEOUT)
                text = await asyncio.wait_for(resp.text(), TIMEOUT)
            except asyncio.TimeoutError:
                failures.append(f"{method} {url} {kwargs}: no answer within {TIMEOUT} s")
                continue
            if resp.status >= 500:
                failures.append(f"{method} {url} {kwargs}: {resp.status} {text[:300]}")
    assert not failures, "\n".join(failures[:20])


def _segment(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe="") or "x"
