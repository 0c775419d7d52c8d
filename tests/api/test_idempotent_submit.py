"""POST /jobs with an Idempotency-Key: one job per key and body, 422 for another body."""

from __future__ import annotations

import json
from typing import Any

import pytest
from support import FakeLambdaContext, api_event, load_handler_module, minimal_spec, response_headers

from autovid.jobs.submit import IDEMPOTENCY_KEY_TTL_SECONDS


@pytest.fixture
def submit(aws: dict) -> Any:
    module = load_handler_module("submit_job")
    return lambda event: module.handler(event, FakeLambdaContext())


def post(spec: Any, key: str | None = None, *, api_key_id: str | None = None, header: str = "Idempotency-Key") -> dict:
    event = api_event("POST", "/jobs", body=json.dumps(spec) if not isinstance(spec, str) else spec)
    if key is not None:
        event["headers"] = {**(event.get("headers") or {}), header: key}
    if api_key_id:
        event["requestContext"].setdefault("identity", {})["apiKeyId"] = api_key_id
    return event


def body(response: dict) -> dict:
    return json.loads(response["body"])


def records(aws: dict) -> list[dict]:
    import os

    return aws["dynamodb"].scan(TableName=os.environ["DYNAMODB_JOBS_TABLE"])["Items"]


def queued(aws: dict) -> int:
    attributes = aws["sqs"].get_queue_attributes(
        QueueUrl=aws["queue_url"], AttributeNames=["ApproximateNumberOfMessages"]
    )
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def test_the_same_key_and_body_answer_the_same_job_once(submit: Any, aws: dict) -> None:
    first = submit(post(minimal_spec(), "order-42"))
    # The same JSON written differently is the same body.
    again = submit(post(json.dumps(minimal_spec(), indent=4, sort_keys=True), "order-42", header="idempotency-key"))

    assert first["statusCode"] == again["statusCode"] == 202
    assert body(first)["jobId"] == body(again)["jobId"]
    assert body(again) == body(first)
    headers_first = {k.lower(): v for k, v in response_headers(first).items()}
    headers_again = {k.lower(): v for k, v in response_headers(again).items()}
    assert (headers_first["idempotent-replayed"], headers_again["idempotent-replayed"]) == ("false", "true")
    assert headers_again["location"] == f"/jobs/{body(first)['jobId']}"
    assert len(records(aws)) == 1 and queued(aws) == 1, "no second record or message"


def test_the_same_key_with_another_body_is_422(submit: Any, aws: dict) -> None:
    assert submit(post(minimal_spec(), "order-43"))["statusCode"] == 202
    other = minimal_spec()
    other["jobInfo"] = {"projectId": "p", "title": "another video"}
    refused = submit(post(other, "order-43"))

    assert refused["statusCode"] == 422
    error = body(refused)
    assert error["error"] == "Idempotency-Key reused"
    assert error["details"][0]["field"] == "Idempotency-Key"
    assert "different request body" in error["details"][0]["message"]
    assert len(records(aws)) == 1 and queued(aws) == 1


def test_keys_are_scoped_to_the_caller_and_absent_keys_change_nothing(submit: Any, aws: dict) -> None:
    one = body(submit(post(minimal_spec(), "shared", api_key_id="client-a")))["jobId"]
    two = body(submit(post(minimal_spec(), "shared", api_key_id="client-b")))["jobId"]
    plain = [body(submit(post(minimal_spec())))["jobId"] for _ in range(2)]
    assert len({one, two, *plain}) == 4
    assert len(records(aws)) == 4 and queued(aws) == 4


def test_a_refused_spec_leaves_the_key_free_for_the_corrected_one(submit: Any, aws: dict) -> None:
    broken = minimal_spec()
    broken["output"]["filename"] = "../../x.mp4"
    assert submit(post(broken, "order-44"))["statusCode"] == 400
    fixed = submit(post(minimal_spec(), "order-44"))
    assert fixed["statusCode"] == 202
    assert {k.lower(): v for k, v in response_headers(fixed).items()}["idempotent-replayed"] == "false"


@pytest.mark.parametrize("key", ["", "x" * 256, "tab\there", "caf\u00e9"])
def test_an_unusable_key_is_400(submit: Any, aws: dict, key: str) -> None:
    refused = submit(post(minimal_spec(), key))
    assert refused["statusCode"] == 400
    assert body(refused)["details"][0]["field"] == "Idempotency-Key"
    assert records(aws) == []


def test_keys_expire_after_24_hours(submit: Any, aws: dict) -> None:
    import os

    submit(post(minimal_spec(), "order-45"))
    (item,) = aws["dynamodb"].scan(TableName=os.environ["IDEMPOTENCY_TABLE_NAME"])["Items"]
    assert IDEMPOTENCY_KEY_TTL_SECONDS == 24 * 3600
    created = int(json.loads(records(aws)[0]["ttl"]["N"]))  # the job's own TTL, 7 days from submit
    expires = int(item["expiration"]["N"])
    job_ttl_seconds = int(os.environ.get("DYNAMODB_JOBS_TTL_SECONDS", 7 * 24 * 3600))
    submitted = created - job_ttl_seconds
    assert abs(expires - (submitted + IDEMPOTENCY_KEY_TTL_SECONDS)) <= 5


def test_a_retry_while_the_first_request_runs_is_409(submit: Any, aws: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    import autovid.jobs.submit as submit_module

    original = submit_module.submit_job
    during: list[dict] = []

    def slow_first(*args: Any, **kwargs: Any) -> Any:
        monkeypatch.setattr(submit_module, "submit_job", original)
        during.append(submit(post(minimal_spec(), "order-46")))  # the client retries meanwhile
        return original(*args, **kwargs)

    monkeypatch.setattr(submit_module, "submit_job", slow_first)
    first = submit(post(minimal_spec(), "order-46"))

    assert first["statusCode"] == 202
    (retry,) = during
    assert retry["statusCode"] == 409
    assert body(retry)["details"][0]["field"] == "Idempotency-Key"
    assert {k.lower(): v for k, v in response_headers(retry).items()}["retry-after"] == "1"
    assert len(records(aws)) == 1


def test_an_expired_key_makes_a_new_job(submit: Any, aws: dict) -> None:
    import os
    import time

    first = body(submit(post(minimal_spec(), "order-47")))["jobId"]
    table = os.environ["IDEMPOTENCY_TABLE_NAME"]
    (item,) = aws["dynamodb"].scan(TableName=table)["Items"]
    aws["dynamodb"].update_item(  # 24 hours later (DynamoDB's TTL may not have deleted it yet)
        TableName=table,
        Key={"id": item["id"]},
        UpdateExpression="SET expiration = :past",
        ExpressionAttributeValues={":past": {"N": str(int(time.time()) - 1)}},
    )
    again = submit(post(minimal_spec(), "order-47"))
    assert again["statusCode"] == 202
    assert body(again)["jobId"] != first
    assert {k.lower(): v for k, v in response_headers(again).items()}["idempotent-replayed"] == "false"
