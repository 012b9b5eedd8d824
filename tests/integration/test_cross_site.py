"""Cross-site requests (issue 10, items 10 and 13): a page on another site can make the
browser send body-less POSTs and <img> GETs to ComfyUI; vq refuses them by their headers.

The cases are generated from the route table, so a new state-changing route is covered
the moment it is added."""

from __future__ import annotations

import re
from typing import Any

import pytest

from vq_extension import routes

LAN_HOST = "192.168.1.50:8188"
FOREIGN = ["https://evil.example", "null"]
STATE_CHANGING = [spec for spec, _ in routes.SPECS if spec.method not in ("GET", "HEAD", "OPTIONS")]
SAME_SITE_READS = [spec for spec, _ in routes.SPECS if spec.below_prefix in ("/browse", "/thumbnail")]

ONE_PROFILE = pytest.mark.parametrize("profile", ["0.8.0"], indirect=True)


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def test_the_table_has_state_changing_routes() -> None:
    names = {spec.path for spec in STATE_CHANGING}
    assert {"/vq/v1/jobs/{job_id}/cancel", "/vq/v1/queue/pause", "/vq/v1/workflows/reload"} <= names
    assert {spec.path for spec, _ in routes.SPECS if getattr(spec, "same_site_only", False)} == {
        "/vq/v1/browse", "/vq/v1/thumbnail"}


@ONE_PROFILE
async def test_state_changing_routes_refuse_foreign_origins(client: Any) -> None:
    # No body and no Content-Type: what fetch(url, {method: "POST", mode: "no-cors"}) sends.
    # One fake ComfyUI for every case (each route twice: /vq/v1 and /api/vq/v1).
    wrong = []
    for spec in STATE_CHANGING:
        for origin in FOREIGN:
            for prefix in ("", "/api"):
                resp = await client.request(spec.method, prefix + concrete(spec.path),
                                            headers={"Host": LAN_HOST, "Origin": origin})
                answer = await resp.json()
                if resp.status != 403 or answer["error"]["code"] != "cross_origin" \
                        or origin not in answer["error"]["message"]:
                    wrong.append(f"{spec.method} {prefix}{spec.path} Origin {origin}: {resp.status} {answer}")
    assert not wrong, "\n".join(wrong)
    assert not (await (await client.get("/vq/v1/queue", headers={"Host": LAN_HOST})).json())["paused"]


@ONE_PROFILE
async def test_same_origin_and_originless_posts_still_work(client: Any) -> None:
    resp = await client.post("/vq/v1/queue/pause", headers={"Host": LAN_HOST, "Origin": f"http://{LAN_HOST}"})
    assert resp.status == 200, await resp.text()
    resp = await client.post("/vq/v1/queue/resume")  # the CLI: no Origin at all
    assert resp.status == 200, await resp.text()


@ONE_PROFILE
@pytest.mark.parametrize("site", ["cross-site", "same-site"])
@pytest.mark.parametrize("spec", SAME_SITE_READS, ids=lambda s: s.below_prefix)
async def test_thumbnails_and_listings_refuse_other_sites(client: Any, comfy: Any, spec: Any, site: str) -> None:
    path = f"{comfy.paths.input_directory}/vq_smoke.png"
    query = {"path": path} if spec.below_prefix == "/thumbnail" else {}
    resp = await client.get(spec.path, params=query, headers={"Sec-Fetch-Site": site})
    answer = await resp.json()
    assert resp.status == 403 and answer["error"]["code"] == "cross_site", answer
    for allowed in ({"Sec-Fetch-Site": "same-origin"}, {"Sec-Fetch-Site": "none"}, {}):
        resp = await client.get(spec.path, params=query, headers=allowed)
        assert resp.status == 200, await resp.text()
