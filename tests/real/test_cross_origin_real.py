"""A real ComfyUI's own origin check guards loopback Host names only (and lets
`Origin: null` through): vq refuses a cross-origin body-less POST itself (issue 10, item 10)."""

import json


def test_cross_origin_bodyless_post_is_refused(real_comfy):
    # What fetch(url, {method: "POST", mode: "no-cors"}) from another site sends to a
    # ComfyUI reached by its LAN address: no body, no Content-Type, a foreign Origin.
    for origin in ("https://evil.example", "null"):
        status, body = real_comfy.request("POST", "/api/vq/v1/queue/pause", None,
                                          {"Host": "192.168.1.50:8188", "Origin": origin})
        assert status == 403, (origin, status, body[:300])
        assert json.loads(body)["error"]["code"] == "cross_origin"
    assert real_comfy.get_json("/api/vq/v1/queue")["paused"] is False
    # The CLI's way (no Origin) still works.
    for action, paused in (("pause", True), ("resume", False)):
        status, body = real_comfy.request("POST", f"/api/vq/v1/queue/{action}", None, {})
        assert status == 200 and json.loads(body)["paused"] is paused, body[:300]
