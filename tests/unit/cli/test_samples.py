"""The canned API bodies the CLI tests use must match the OpenAPI document (closed
objects), so CLI tests cannot pass against shapes the server never sends."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest

from tests.helpers import closed
from tests.unit.cli import samples as s
from vq_extension.api.openapi import build_document
from vq_extension.routes import SPECS

DOC = build_document(SPECS)


@pytest.mark.parametrize("model, body", [
    ("Health", s.HEALTH),
    ("QueueState", s.QUEUE),
    ("JobList", s.job_list()),
    ("JobDetail", s.detail()),
    ("JobDetail", s.finished("failed")),
    ("JobSummary", s.summary()),
    ("PromptDetail", s.prompt(2, "failed", error=s.ERROR)),
    ("LogPage", s.LOG),
])
def test_sample_matches_the_document(model: str, body: Any) -> None:
    components = closed(DOC["components"])
    jsonschema.validate(body, {"$ref": f"#/components/schemas/{model}", "components": components},
                        cls=jsonschema.Draft202012Validator)
