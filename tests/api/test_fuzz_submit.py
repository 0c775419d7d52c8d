"""Random JSON thrown at submit: never a 5xx, and every 4xx detail names a field."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import FakeLambdaContext, api_event, load_handler_module, minimal_spec

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)
SPEC_PATHS = [
    ("assets",),
    ("assets", "video"),
    ("assets", "video", "source"),
    ("assets", "audio"),
    ("backgroundMusic",),
    ("backgroundMusic", "playlist"),
    ("timeline",),
    ("output",),
    ("output", "filename"),
    ("output", "encoding"),
    ("jobInfo",),
    ("notifications",),
]


@st.composite
def near_valid_specs(draw: st.DrawFn) -> dict:
    """A valid spec with one part replaced by random JSON."""
    spec = minimal_spec()
    path = draw(st.sampled_from(SPEC_PATHS))
    target = spec
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = draw(json_values)
    return spec


@st.composite
def mutated_events(draw: st.DrawFn) -> dict:
    spec = minimal_spec()
    event = spec["timeline"][draw(st.integers(0, 1))]
    event[draw(st.sampled_from(["start", "type", "data"]))] = draw(json_values)
    return spec


bodies = (
    json_values.map(json.dumps)
    | near_valid_specs().map(json.dumps)
    | mutated_events().map(json.dumps)
    | st.text(max_size=200)
    | st.binary(max_size=100).map(lambda b: b.decode("latin-1"))
)


@pytest.fixture
def submit(aws: dict) -> Any:
    module = load_handler_module("submit_job")
    return lambda event: module.handler(event, FakeLambdaContext())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies, content_type=st.sampled_from(["application/json", "text/plain", None]))
def test_random_bodies_never_cause_a_5xx(submit: Any, body: str, content_type: str | None) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = submit(api_event("POST", "/jobs", body=body, headers=headers))
    assert response["statusCode"] < 500, response["body"]
    payload = json.loads(response["body"])
    if response["statusCode"] >= 400:
        assert payload["details"], payload
        for detail in payload["details"]:
            assert set(detail) == {"field", "message"}
            assert detail["message"]
    else:
        assert response["statusCode"] == 202
