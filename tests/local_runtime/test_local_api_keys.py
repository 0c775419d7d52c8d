"""`autovid up --api-key`: API Gateway's API key check, where the template's Auth asks for it."""

from __future__ import annotations

import json

from local_runtime.fixture_paths import TEST_TEMPLATE
from local_runtime.test_local_api import _request


def test_an_api_key_is_enforced_where_the_template_requires_one(local_runtime_factory):
    keyed = local_runtime_factory(TEST_TEMPLATE, api_key="s3cret-key")

    status, _, body = _request(keyed, "GET", "/items/42")
    assert (status, json.loads(body)) == (403, {"message": "Forbidden"})
    assert _request(keyed, "GET", "/items/42", headers={"x-api-key": "wrong"})[0] == 403
    status, _, body = _request(keyed, "GET", "/items/42", headers={"X-Api-Key": "s3cret-key"})
    assert status == 200
    identity = json.loads(body)["requestContext"]["identity"]
    assert identity["apiKey"] == "s3cret-key" and identity["apiKeyId"].startswith("local")
    assert _request(keyed, "GET", "/items/special")[0] == 200, "the event's Auth turns the key off"
    assert _request(keyed, "GET", "/nowhere")[0] == 403


def test_without_api_key_or_when_the_template_needs_none_requests_pass(local_runtime_factory):
    unkeyed = local_runtime_factory(TEST_TEMPLATE)
    assert _request(unkeyed, "GET", "/items/42")[0] == 200, "no --api-key: nothing is checked"
    unkeyed.stop()
    open_api = local_runtime_factory(TEST_TEMPLATE, api_key="k", parameter_overrides={"EnableExtras": "true"})
    assert _request(open_api, "GET", "/items/42")[0] == 200, "ApiKeyRequired false in the template"


def test_the_projects_api_requires_the_key_given_to_autovid_up(local_runtime_factory):
    from support import REPO_ROOT

    stack = local_runtime_factory(REPO_ROOT / "template.yaml", api_key="project-key")
    job_path = "/jobs/0b7a1f4e-8c55-4e0f-9a37-5d2c1b0e9f88"
    status, _, body = _request(stack, "GET", job_path)
    assert (status, json.loads(body)) == (403, {"message": "Forbidden"})
    status, _, body = _request(stack, "GET", job_path, headers={"x-api-key": "project-key"})
    assert status == 404 and json.loads(body)["error"] == "job not found", "the key lets the request through"
    assert _request(stack, "POST", "/submit", body=b"{}", headers={"Content-Type": "application/json"})[0] == 403
