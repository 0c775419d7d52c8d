"""schemathesis against the local API (the template's routes on `autovid up`'s runtime): no 5xx,
and every answer conforms to openapi.json (status code, content type, headers, body schema).

Positive-data acceptance is not checked: openapi.json gives the job spec's JSON shape, and the
service validates more than a schema can say (asset ids that must exist, sources it can read,
times inside the video), answering a documented 400 with each field's reason."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from support import REPO_ROOT

from sam_emulator.testing import running_runtime

schema = schemathesis.openapi.from_path(str(REPO_ROOT / "openapi.json"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def api_url() -> Iterator[str]:
    with running_runtime(REPO_ROOT / "template.yaml", parameter_overrides={"TtsProvider": "espeak-ng"}) as runtime:
        yield runtime.api_url or ""


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_local_api_answers_as_openapi_json_documents(case: schemathesis.Case, api_url: str) -> None:
    case.call_and_validate(base_url=api_url, checks=CHECKS)
