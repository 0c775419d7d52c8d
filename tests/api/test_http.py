"""The submit and status Lambdas through API Gateway proxy events: codes, headers, bodies."""

from __future__ import annotations

import json
import time
from typing import Any

import boto3
import pytest
from support import (
    EVENTS_DIR,
    SEED_KEYS,
    FakeLambdaContext,
    api_event,
    load_handler_module,
    minimal_spec,
    response_headers,
)

from autovid.aws.jobs import JobsTable
from autovid.core.config import Settings
from autovid.jobs.read_model import read_job

OUTPUT_KEYS = {"url", "urlExpiresAt", "s3Uri", "duration", "size"}
ERROR_KEYS = {"error", "details", "timestamp"}


@pytest.fixture
def submit(aws: dict) -> Any:
    module = load_handler_module("submit_job")
    return lambda event: module.handler(event, FakeLambdaContext())


@pytest.fixture
def status(aws: dict) -> Any:
    module = load_handler_module("get_status")
    return lambda event: module.handler(event, FakeLambdaContext())


def post(path: str = "/jobs", body: Any = None, *, raw: str | None = None, headers: dict | None = None) -> dict:
    return api_event("POST", path, body=raw if raw is not None else json.dumps(body), headers=headers)


def get(job_id: str, path: str = "/jobs") -> dict:
    return api_event("GET", f"{path}/{job_id}", resource=f"{path}/{{jobId}}", path_parameters={"jobId": job_id})


def body_of(response: dict) -> dict:
    assert response_headers(response)["Content-Type"] == "application/json"
    return json.loads(response["body"])


def assert_error_shape(response: dict, status_code: int) -> dict:
    assert response["statusCode"] == status_code, response["body"]
    body = body_of(response)
    assert set(body) == ERROR_KEYS
    assert body["timestamp"].endswith("Z")
    assert isinstance(body["details"], list)
    return body


def queued_job_ids(aws: dict) -> list[str]:
    messages = aws["sqs"].receive_message(QueueUrl=aws["queue_url"], MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"])["jobId"] for m in messages]


@pytest.mark.parametrize("path", ["/jobs", "/submit"])
def test_submit_answers_202_with_the_seed_shape(submit: Any, aws: dict, path: str) -> None:
    response = submit(post(path, minimal_spec()))
    assert response["statusCode"] == 202
    body = body_of(response)
    assert set(body) == SEED_KEYS
    assert set(body["output"]) == OUTPUT_KEYS and not any(body["output"].values())
    assert body["status"] == "submitted"
    assert body["submittedAt"] == body["updatedAt"]
    assert (body["completedAt"], body["processingTime"], body["error"]) == (None, None, None)
    assert body["metadata"] == {"outputFilename": "out.mp4"}
    assert response_headers(response)["Location"] == f"/jobs/{body['jobId']}"
    assert queued_job_ids(aws) == [body["jobId"]]


def test_the_record_holds_spec_metadata_ttl_and_one_history_entry(submit: Any, aws: dict) -> None:
    spec = minimal_spec()
    spec["jobInfo"] = {"projectId": "p", "title": "Title", "tags": ["t"]}
    before = time.time()
    body = body_of(submit(post(body=spec)))
    record = JobsTable(aws_table_name()).get(body["jobId"])
    assert record["spec"]["assets"]["video"]["source"] == spec["assets"]["video"]["source"]
    assert record["spec"]["assets"]["audio"] == spec["assets"]["audio"]
    assert record["spec"]["timeline"][0]["data"]["text"] == "Hello there"
    assert record["spec"]["timeline"][0]["data"]["duckingLevel"] == 0.2
    assert record["spec"]["backgroundMusic"]["volume"] == 0.3, "defaults are stored, so the record alone reprocesses"
    assert record["metadata"] == {"projectId": "p", "title": "Title", "tags": ["t"], "outputFilename": "out.mp4"}
    assert abs(record["ttl"] - (before + 7 * 24 * 3600)) <= 5
    assert record["statusHistory"] == [{"status": "submitted", "at": body["submittedAt"], "reason": "submitted"}]
    assert body["jobInfo"] == spec["jobInfo"]


def aws_table_name() -> str:
    import os

    return os.environ["DYNAMODB_JOBS_TABLE"]


def test_invalid_spec_is_400_with_every_field_error(submit: Any, aws: dict) -> None:
    spec = minimal_spec()
    spec["timeline"][1]["data"]["assetId"] = "sfx_x"
    spec["output"]["filename"] = "../../x.mp4"
    body = assert_error_shape(submit(post(body=spec)), 400)
    assert {d["field"] for d in body["details"]} == {"timeline[1].data.assetId", "output.filename"}
    assert body["error"] == "invalid job spec: 2 errors"
    assert queued_job_ids(aws) == []


def test_body_over_256_kb_is_413(submit: Any) -> None:
    spec = minimal_spec()
    spec["jobInfo"] = {"title": "x" * (300 * 1024)}
    body = assert_error_shape(submit(post(body=spec)), 413)
    assert "262144" in body["error"]


@pytest.mark.parametrize(
    ("raw", "headers"),
    [
        ("jobs=1", {"Content-Type": "application/x-www-form-urlencoded"}),
        ("<xml/>", {"Content-Type": "text/xml"}),
        ("not json at all", {}),
    ],
)
def test_non_json_is_415(submit: Any, raw: str, headers: dict) -> None:
    assert_error_shape(submit(post(raw=raw, headers=headers)), 415)


@pytest.mark.parametrize("raw", ['{"assets": ', '{"a": NaN}', "\xff"])
def test_malformed_json_is_400(submit: Any, raw: str) -> None:
    body = assert_error_shape(submit(post(raw=raw)), 400)
    assert body["details"][0]["field"] == "body"


def test_the_sample_events_work(submit: Any, status: Any) -> None:
    valid = json.loads((EVENTS_DIR / "submit_valid.json").read_text())
    assert submit(valid)["statusCode"] == 202
    invalid = json.loads((EVENTS_DIR / "submit_invalid.json").read_text())
    fields = {d["field"] for d in assert_error_shape(submit(invalid), 400)["details"]}
    assert {"assets.video.source", "backgroundMusic.playlist[0]", "timeline[0].start", "output.filename"} <= fields
    lookup = json.loads((EVENTS_DIR / "get_status.json").read_text())
    assert_error_shape(status(lookup), 404)


@pytest.mark.parametrize("path", ["/jobs", "/status"])
def test_status_answers_200_with_history(submit: Any, status: Any, path: str) -> None:
    job_id = body_of(submit(post(body=minimal_spec())))["jobId"]
    response = status(get(job_id, path))
    assert response["statusCode"] == 200
    body = body_of(response)
    assert set(body) == SEED_KEYS | {"statusHistory", "progress", "executionArn", "notifications"}
    assert body["jobId"] == job_id
    assert [h["status"] for h in body["statusHistory"]] == ["submitted"]


def test_status_links_the_execution_in_the_console_on_aws(
    submit: Any, status: Any, aws: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id = body_of(submit(post(body=minimal_spec())))["jobId"]
    arn = "arn:aws:states:eu-west-1:123456789012:execution:auto-vid-VideoJobStateMachine:run-1"
    boto3.client("dynamodb", region_name="us-east-1").update_item(
        TableName=aws_table_name(),
        Key={"jobId": {"S": job_id}},
        UpdateExpression="SET executionArn = :arn",
        ExpressionAttributeValues={":arn": {"S": arn}},
    )
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    body = body_of(status(get(job_id)))
    assert body["executionArn"] == arn
    assert body["consoleUrl"] == (
        "https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1#/v2/executions/details/" + arn
    )
    local = Settings().model_copy(update={"aws_endpoint_url": "http://127.0.0.1:4566"})
    body = read_job(job_id, local).body()  # against a local endpoint there is no console to link
    assert body["executionArn"] == arn and "consoleUrl" not in body


def test_unknown_job_is_404(status: Any) -> None:
    body = assert_error_shape(status(get("0b7a1f4e-8c55-4e0f-9a37-5d2c1b0e9f88")), 404)
    assert body["details"][0]["field"] == "jobId"


@pytest.mark.parametrize("job_id", ["abc", "123", "0b7a1f4e8c554e0f9a375d2c1b0e9f88x"])
def test_job_id_that_is_not_a_uuid_is_400(status: Any, job_id: str) -> None:
    body = assert_error_shape(status(get(job_id)), 400)
    assert body["details"] == [{"field": "jobId", "message": "must be a UUID"}]


def test_wrong_method_is_405_with_allow(submit: Any, status: Any) -> None:
    response = submit(api_event("PUT", "/jobs"))
    assert_error_shape(response, 405)
    assert response_headers(response)["Allow"] == "GET, POST", "GET /jobs is routed to GetStatus"
    assert response_headers(submit(api_event("GET", "/submit")))["Allow"] == "POST"
    job = api_event("PATCH", "/jobs/0b7a1f4e-8c55-4e0f-9a37-5d2c1b0e9f88", resource="/jobs/{jobId}")
    response = status(job)
    assert_error_shape(response, 405)
    assert response_headers(response)["Allow"] == "DELETE, GET", "DELETE is routed to ManageJob"


def test_unknown_route_is_404(submit: Any) -> None:
    assert_error_shape(submit(api_event("POST", "/nowhere")), 404)


def test_unexpected_failure_is_500_and_leaks_nothing(status: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(self: JobsTable, job_id: str) -> None:
        raise RuntimeError("secret-internal-table-arn:aws:dynamodb:password=hunter2")

    monkeypatch.setattr(JobsTable, "get", explode)
    response = status(get("0b7a1f4e-8c55-4e0f-9a37-5d2c1b0e9f88"))
    body = assert_error_shape(response, 500)
    assert body == {"error": "internal error", "details": [], "timestamp": body["timestamp"]}
    assert "secret" not in response["body"] and "hunter2" not in response["body"]


def test_queue_failure_marks_the_job_failed_and_answers_503(
    submit: Any, aws: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SQS_JOB_QUEUE_URL", aws["queue_url"] + "-deleted")
    response = submit(post(body=minimal_spec()))
    assert_error_shape(response, 503)
    assert response_headers(response)["Retry-After"] == "30"
    items = aws["dynamodb"].scan(TableName=aws_table_name())["Items"]
    assert len(items) == 1
    record = JobsTable(aws_table_name()).get(items[0]["jobId"]["S"])
    assert record["status"] == "failed"
    assert record["error"]["type"] == "QueueUnavailable"
    assert [h["status"] for h in record["statusHistory"]] == ["submitted", "failed"]


def test_cors_is_off_by_default_and_configurable(aws: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    plain = load_handler_module("submit_job").handler(post(body=minimal_spec()), FakeLambdaContext())
    assert "Access-Control-Allow-Origin" not in response_headers(plain)
    monkeypatch.setenv("CORS_ALLOW_ORIGIN", "https://app.example.com")
    event = post(body=minimal_spec(), headers={"Content-Type": "application/json", "Origin": "https://app.example.com"})
    response = load_handler_module("submit_job").handler(event, FakeLambdaContext())
    assert response_headers(response)["Access-Control-Allow-Origin"] == "https://app.example.com"


def test_deeply_nested_json_is_400_not_500(submit: Any) -> None:
    body = assert_error_shape(submit(post(raw="[" * 20_000 + "]" * 20_000)), 400)
    assert body["details"] == [{"field": "body", "message": "is nested too deeply"}]


def test_bad_base64_body_is_400(submit: Any) -> None:
    event = post(raw="not base64 !!!")
    event["isBase64Encoded"] = True
    body = assert_error_shape(submit(event), 400)
    assert body["details"][0]["field"] == "body"


def test_base64_body_and_header_case_are_handled(submit: Any) -> None:
    import base64

    event = post(
        raw=base64.b64encode(json.dumps(minimal_spec()).encode()).decode(), headers={"content-type": "application/json"}
    )
    event["isBase64Encoded"] = True
    assert submit(event)["statusCode"] == 202


def test_queue_and_table_both_failing_still_answers_503(
    submit: Any, aws: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The record cannot be marked failed either: the answer is still a clean 503, never a 500."""
    from autovid.core.errors import UpstreamUnavailableError

    monkeypatch.setenv("SQS_JOB_QUEUE_URL", aws["queue_url"] + "-deleted")

    def throttled(self: JobsTable, job_id: str, **kwargs: Any) -> None:
        raise UpstreamUnavailableError("DynamoDB UpdateItem failed (ProvisionedThroughputExceededException)")

    monkeypatch.setattr(JobsTable, "update", throttled)
    assert_error_shape(submit(post(body=minimal_spec())), 503)
