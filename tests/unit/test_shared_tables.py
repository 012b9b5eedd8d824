"""Tables the sidebar needs are defined once in Python; the sidebar's copies in web/js must
stay equal to them (the JS runs in the browser without a round trip for constants)."""

from __future__ import annotations

import json
import re

from tests.helpers import REPO
from vq_extension import media
from vq_extension.queue.models import (
    ACTIONABLE_ORDER,
    CANCELABLE,
    RETRYABLE,
    TERMINAL,
    PromptStatus,
)

JS = REPO / "web" / "js"


def js_array(source: str, name: str) -> list[str]:
    match = re.search(rf"export const {name} = Object\.freeze\((\[[^\]]*\])\)", source)
    assert match, f"{name} not found"
    return json.loads(match.group(1))


def test_the_sidebar_media_table_is_media_py() -> None:
    source = (JS / "media.js").read_text()
    found = {kind: json.loads(values) for kind, values in
             re.findall(r'"?(\w+)"?: Object\.freeze\((\[[^\]]*\])\)', source)}
    assert found == {kind: sorted(extensions) for kind, extensions in media.KINDS}


def test_the_sidebar_statuses_are_the_state_machine_s() -> None:
    source = (JS / "format.js").read_text()
    assert js_array(source, "JOB_STATUSES") == [s.value for s in ACTIONABLE_ORDER]
    assert set(js_array(source, "TERMINAL_STATUSES")) == {s.value for s in TERMINAL}
    assert set(js_array(source, "RETRYABLE_STATUSES")) == {s.value for s in RETRYABLE}
    assert set(js_array(source, "CANCELABLE_STATUSES")) == {s.value for s in CANCELABLE}
    meta = set(re.findall(r"^  (\w+): \{ label:", source, re.M))
    assert meta == {s.value for s in PromptStatus}
