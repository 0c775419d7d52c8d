"""The project's own template.yaml on the local runtime: submit and status over HTTP, end to end."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from sam_emulator.runtime import LocalRuntime
from sam_emulator.testing import running_runtime, wait_until

REPO_ROOT = Path(__file__).resolve().parents[2]
PROJECT_TEMPLATE = REPO_ROOT / "template.yaml"
SUBMIT_EVENT = REPO_ROOT / "events" / "submit_valid.json"

pytestmark = pytest.mark.skipif(not PROJECT_TEMPLATE.exists(), reason="template.yaml is not in the repository yet")


@pytest.fixture(scope="module")
def project_runtime() -> Iterator[LocalRuntime]:
    with running_runtime(PROJECT_TEMPLATE) as runtime:
        yield runtime


def _request(runtime: LocalRuntime, method: str, path: str, body: str | None = None) -> tuple[int, dict]:
    url = urlsplit(runtime.api_url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    try:
        connection.request(method, path, body=body, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"null")
    finally:
        connection.close()


def _job_spec() -> str:
    return json.loads(SUBMIT_EVENT.read_text())["body"]


@pytest.mark.parametrize(("submit_path", "status_path"), [("/jobs", "/jobs/{}"), ("/submit", "/status/{}")])
def test_submit_then_status_reaches_dynamodb(project_runtime, submit_path, status_path):
    status, submitted = _request(project_runtime, "POST", submit_path, _job_spec())

    assert status == 202, submitted
    job_id = submitted["jobId"]
    status, job = _request(project_runtime, "GET", status_path.format(job_id))
    assert status == 200, job
    # The Pipe may have started the workflow already (GetStatus's first call is a cold start).
    assert job["jobId"] == job_id and job["statusHistory"][0]["status"] == submitted["status"]

    table = project_runtime.ref("JobsTable")
    item = project_runtime.client("dynamodb").get_item(TableName=table, Key={"jobId": {"S": job_id}})
    assert item["Item"]["jobId"] == {"S": job_id}
    assert "spec" in item["Item"] and int(item["Item"]["ttl"]["N"]) > 0, "the full spec, with a TTL"


def test_a_submitted_job_goes_through_sqs_and_the_pipe_into_one_execution(project_runtime):
    """Submit sends {jobId} to the queue; the Pipe (its only consumer) turns it into one execution."""
    assert project_runtime.pipes, "the template declares the Pipe"
    status, submitted = _request(project_runtime, "POST", "/jobs", _job_spec())
    assert status == 202, submitted
    sfn = project_runtime.client("stepfunctions")
    targets = {pipe.spec.target_arn for pipe in project_runtime.pipes.values()}

    def executions_for_job() -> list[dict]:
        found = []
        for target in targets:
            for execution in sfn.list_executions(stateMachineArn=target)["executions"]:
                description = sfn.describe_execution(executionArn=execution["executionArn"])
                if submitted["jobId"] in description["input"]:
                    found.append(description)
        return found

    executions = wait_until(executions_for_job, what="the pipe to start the job's execution")
    assert len(executions) == 1
    # Pipes hand Step Functions the batch as a JSON array, even with BatchSize 1; InputTemplate shapes each record.
    assert json.loads(executions[0]["input"]) == [{"jobId": submitted["jobId"]}]


def test_unknown_job_is_404(project_runtime):
    status, body = _request(project_runtime, "GET", "/jobs/00000000-0000-4000-8000-000000000000")

    assert status == 404, body


@pytest.mark.parametrize(("method", "path"), [("GET", "/"), ("GET", "/nope"), ("POST", "/jobs/x/y")])
def test_undeclared_routes_get_missing_authentication_token(project_runtime, method, path):
    status, body = _request(project_runtime, method, path)

    assert status == 403
    assert body == {"message": "Missing Authentication Token"}


def test_every_resource_type_is_supported_or_deliberately_ignored(project_runtime):
    assert project_runtime.stack.unsupported == []
