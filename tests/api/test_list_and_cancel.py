"""GET /jobs, POST /jobs/{jobId}/cancel and DELETE /jobs/{jobId} through API Gateway proxy events."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any

import boto3
import pytest
from support import REGION, SEED_KEYS, FakeLambdaContext, api_event, load_handler_module, minimal_spec

from autovid.aws.clients import client
from autovid.aws.jobs import JobsTable
from autovid.core.clock import iso, parse_iso, utc_now
from autovid.core.config import Limits, Settings
from autovid.jobs.listing import PageTokens
from autovid.jobs.records import JobError, JobOutput, JobStatus, new_job_record
from autovid.jobs.transitions import ClaimFor, JobStatusManager
from autovid.spec import parse_spec

SECRET = "local-signing-secret-for-tests"


@pytest.fixture
def api(aws: dict, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    secret_arn = boto3.client("secretsmanager", region_name=REGION).create_secret(Name="signing", SecretString=SECRET)[
        "ARN"
    ]
    monkeypatch.setenv("WEBHOOK_SECRET_ARN", secret_arn)
    handlers = {name: load_handler_module(name) for name in ("get_status", "manage_job")}
    calls: list[str] = []
    client("dynamodb").meta.events.register("before-call.dynamodb.*", lambda model, **_: calls.append(model.name))
    return {
        "call": lambda name, event: handlers[name].handler(event, FakeLambdaContext()),
        "table": JobsTable(Settings().jobs_table),
        "dynamodb_calls": calls,
    }


def with_key(event: dict, api_key_id: str | None) -> dict:
    if api_key_id:
        event["requestContext"]["identity"] = {"apiKeyId": api_key_id, "apiKey": "value-of-" + api_key_id}
    return event


def stored_job(api: dict, *, key: str | None = "key-a", age_seconds: float = 0, project: str | None = None) -> str:
    spec = minimal_spec()
    if project:
        spec["jobInfo"] = {"projectId": project}
    now = utc_now() - timedelta(seconds=age_seconds)
    record = new_job_record(parse_spec(spec, Limits()), ttl_seconds=3600, now=now, api_key_id=key)
    api["table"].create(record)
    return record["jobId"]


def listing(api: dict, query: dict[str, list[str]] | None = None, *, key: str | None = "key-a") -> dict:
    event = with_key(api_event("GET", "/jobs"), key)
    event["multiValueQueryStringParameters"] = query
    event["queryStringParameters"] = {name: values[-1] for name, values in (query or {}).items()} or None
    response = api["call"]("get_status", event)
    return {"code": response["statusCode"], **json.loads(response["body"])}


def all_pages(api: dict, query: dict[str, list[str]], *, key: str = "key-a") -> list[list[str]]:
    pages, token = [], None
    while True:
        page = listing(api, {**query, **({"nextToken": [token]} if token else {})}, key=key)
        assert page["code"] == 200, page
        pages.append([job["jobId"] for job in page["jobs"]])
        token = page["nextToken"]
        if token is None:
            return pages


def refused(answer: dict, parameter: str) -> str:
    assert answer["code"] == 400, answer
    assert set(answer) == {"code", "error", "details", "timestamp"}
    assert [d["field"] for d in answer["details"]] == [parameter], answer["details"]
    return answer["details"][0]["message"]


def test_jobs_are_listed_newest_first_with_the_seed_fields_by_a_query(api: dict) -> None:
    ids = [stored_job(api, age_seconds=age) for age in (30, 20, 10)]
    page = listing(api)
    assert page["code"] == 200 and page["nextToken"] is None
    assert [job["jobId"] for job in page["jobs"]] == ids[::-1]
    assert all(set(job) == SEED_KEYS for job in page["jobs"]), "no spec, history or progress"
    assert page["jobs"][0]["status"] == "submitted"
    assert "Query" in api["dynamodb_calls"] and "Scan" not in api["dynamodb_calls"]


def test_each_filter(api: dict) -> None:
    manager = JobStatusManager(api["table"])
    old = stored_job(api, age_seconds=3600, project="alpha")
    done = stored_job(api, age_seconds=300, project="alpha")
    manager.mark_processing(done)
    manager.mark_completed(done, JobOutput(s3Uri="s3://auto-vid-s3-bucket-test-123456789012/outputs/x/out.mp4"))
    broken = stored_job(api, age_seconds=200, project="beta")
    manager.mark_failed(broken, JobError(type="X", message="broken"))
    gone = stored_job(api, age_seconds=100)
    manager.mark_cancelled(gone)
    fresh = stored_job(api, project="alpha")

    def ids(query: dict[str, list[str]]) -> list[str]:
        page = listing(api, query)
        assert page["code"] == 200, page
        return [job["jobId"] for job in page["jobs"]]

    assert ids({"status": ["completed,failed"]}) == [broken, done]
    assert ids({"status": ["cancelled"], "limit": ["5"]}) == [gone]
    assert ids({"status": ["submitted", "cancelled"]}) == [fresh, gone, old], "repeated"
    assert ids({"projectId": ["alpha"]}) == [fresh, done, old]
    assert ids({"projectId": ["alpha"], "status": ["submitted"]}) == [fresh, old]
    done_at = api["table"].get(done)["submittedAt"]
    assert ids({"submittedAfter": [done_at]}) == [fresh, gone, broken], "after is exclusive"
    assert ids({"submittedBefore": [done_at]}) == [old], "before is exclusive"
    after = iso(parse_iso(done_at) - timedelta(seconds=1))
    before = iso(parse_iso(done_at) + timedelta(seconds=150))
    assert ids({"submittedAfter": [after], "submittedBefore": [before]}) == [broken, done]
    completed = listing(api, {"status": ["completed"]})["jobs"][0]
    assert completed["output"]["url"] and completed["output"]["urlExpiresAt"], "a fresh download link"


def test_pages_follow_each_other_without_gaps_or_repeats(api: dict) -> None:
    ids = [stored_job(api, age_seconds=age) for age in range(70, 0, -10)]
    newest_first = ids[::-1]
    assert all_pages(api, {"limit": ["3"]}) == [newest_first[:3], newest_first[3:6], newest_first[6:]]
    manager = JobStatusManager(api["table"])
    for job_id in ids[::2]:
        manager.mark_cancelled(job_id)
    pages = all_pages(api, {"limit": ["2"], "status": ["cancelled,submitted"]})
    assert [len(p) for p in pages] == [2, 2, 2, 1]
    assert sum(pages, []) == newest_first, "one query per status, merged newest first"
    assert all_pages(api, {"limit": ["4"]}) == [newest_first[:4], newest_first[4:]], "the last page has no token"


def test_a_caller_lists_only_the_jobs_of_its_own_key(api: dict) -> None:
    mine = [stored_job(api, key="key-a", age_seconds=age) for age in (3, 2)]
    theirs = stored_job(api, key="key-b", age_seconds=1)
    keyless = stored_job(api, key=None)
    assert [j["jobId"] for j in listing(api, key="key-a")["jobs"]] == mine[::-1]
    assert [j["jobId"] for j in listing(api, key="key-b")["jobs"]] == [theirs]
    assert [j["jobId"] for j in listing(api, key=None)["jobs"]] == [keyless], "without keys: the jobs without one"


def test_a_token_that_was_tampered_with_or_issued_to_another_key_is_refused(api: dict) -> None:
    for age in (3, 2, 1):
        stored_job(api, key="key-a", age_seconds=age)
        stored_job(api, key="key-b", age_seconds=age)
    token = listing(api, {"limit": ["1"]}, key="key-a")["nextToken"]
    payload, _, mac = token.partition(".")
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    forged_payload = (
        base64.urlsafe_b64encode(json.dumps({**data, "s": "key-b", "k": data["k"].replace("key-a", "key-b")}).encode())
        .rstrip(b"=")
        .decode()
    )
    assert "not a token" in refused(listing(api, {"nextToken": [f"{forged_payload}.{mac}"]}, key="key-b"), "nextToken")
    assert "not a token" in refused(listing(api, {"nextToken": [token[:-2] + "AA"]}, key="key-a"), "nextToken")
    assert "not a token" in refused(listing(api, {"nextToken": ["garbage"]}), "nextToken")
    assert "another API key" in refused(listing(api, {"nextToken": [token]}, key="key-b"), "nextToken")
    assert "other filters" in refused(listing(api, {"nextToken": [token], "status": ["failed"]}), "nextToken")
    # Signed with the stack's secret but issued to another key: still not usable by this one.
    foreign = PageTokens(SECRET).issue("key-b", data["f"], data["k"].replace("key-a", "key-b"))
    assert "another API key" in refused(listing(api, {"nextToken": [foreign]}, key="key-a"), "nextToken")
    assert listing(api, {"nextToken": [token], "limit": ["5"]}, key="key-a")["code"] == 200, "limit may change"


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ({"status": ["done"]}, "status"),
        ({"status": ["completed,bogus"]}, "status"),
        ({"submittedAfter": ["yesterday"]}, "submittedAfter"),
        ({"submittedBefore": ["2026-13-01T00:00:00Z"]}, "submittedBefore"),
        ({"submittedAfter": ["2026-02-01T00:00:00Z"], "submittedBefore": ["2026-01-01T00:00:00Z"]}, "submittedAfter"),
        ({"limit": ["0"]}, "limit"),
        ({"limit": ["101"]}, "limit"),
        ({"limit": ["ten"]}, "limit"),
        ({"projectId": [""]}, "projectId"),
        ({"submittedAfter": ["0001-01-01T00:00:00+01:00"]}, "submittedAfter"),
    ],
)
def test_a_bad_parameter_is_400_naming_it(api: dict, query: dict, parameter: str) -> None:
    refused(listing(api, query), parameter)


def test_dates_at_the_ends_of_the_calendar_list_nothing(api: dict) -> None:
    stored_job(api)
    assert listing(api, {"submittedAfter": ["9999-12-31T23:59:59.999999Z"]})["jobs"] == []
    assert listing(api, {"submittedBefore": ["0001-01-01T00:00:00Z"]})["jobs"] == []


def cancel(api: dict, job_id: str, *, key: str | None = "key-a") -> dict:
    event = with_key(
        api_event("POST", f"/jobs/{job_id}/cancel", resource="/jobs/{jobId}/cancel", path_parameters={"jobId": job_id}),
        key,
    )
    response = api["call"]("manage_job", event)
    return {"code": response["statusCode"], **json.loads(response["body"])}


def delete(api: dict, job_id: str, *, key: str | None = "key-a") -> dict:
    event = with_key(
        api_event("DELETE", f"/jobs/{job_id}", resource="/jobs/{jobId}", path_parameters={"jobId": job_id}), key
    )
    response = api["call"]("manage_job", event)
    return {"code": response["statusCode"], **(json.loads(response["body"]) if response["body"] else {})}


def running_execution(aws: dict) -> str:
    sfn = boto3.client("stepfunctions", region_name=REGION)
    machine = sfn.create_state_machine(
        name="jobs",
        definition=json.dumps({"StartAt": "Wait", "States": {"Wait": {"Type": "Wait", "Seconds": 600, "End": True}}}),
        roleArn="arn:aws:iam::123456789012:role/sfn",
    )["stateMachineArn"]
    return sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"]


def put(aws: dict, key: str) -> None:
    aws["s3"].put_object(Bucket=Settings().bucket_name, Key=key, Body=b"mp4")


def keys(aws: dict, prefix: str) -> list[str]:
    listed = aws["s3"].list_objects_v2(Bucket=Settings().bucket_name, Prefix=prefix)
    return [item["Key"] for item in listed.get("Contents", [])]


@pytest.mark.parametrize("status", [JobStatus.SUBMITTED, JobStatus.PROCESSING, JobStatus.RETRYING])
def test_cancelling_a_running_job_stops_it_and_removes_its_files(api: dict, aws: dict, status: JobStatus) -> None:
    job_id = stored_job(api)
    manager = JobStatusManager(api["table"])
    execution_arn = None
    if status is not JobStatus.SUBMITTED:
        execution_arn = running_execution(aws)
        manager.mark_processing(job_id, guards=[ClaimFor(execution_arn)])
        if status is JobStatus.RETRYING:
            manager.mark_retrying(job_id, reason="flaky")
    put(aws, f"work/{job_id}/out.mp4")
    put(aws, f"outputs/{job_id}/out.mp4")  # delivered just before the cancel
    answer = cancel(api, job_id)
    assert answer["code"] == 202, answer
    assert answer["status"] == "cancelled"
    assert [h["status"] for h in answer["statusHistory"]][-1] == "cancelled"
    assert answer["progress"] is None
    assert keys(aws, f"work/{job_id}/") == [] and keys(aws, f"outputs/{job_id}/") == []
    assert "activeStatus" not in api["table"].get(job_id), "ReconcileJobs no longer looks at it"
    if execution_arn:
        described = boto3.client("stepfunctions", region_name=REGION).describe_execution(executionArn=execution_arn)
        assert described["status"] == "ABORTED"
    again = cancel(api, job_id)
    assert again["code"] == 202 and again["statusHistory"] == answer["statusHistory"], "idempotent"


@pytest.mark.parametrize("status", ["completed", "failed"])
def test_cancelling_a_finished_job_is_409_naming_its_status(api: dict, status: str) -> None:
    job_id = stored_job(api)
    manager = JobStatusManager(api["table"])
    manager.mark_processing(job_id)
    if status == "completed":
        manager.mark_completed(job_id, JobOutput(s3Uri="s3://b/outputs/x.mp4"))
    else:
        manager.mark_failed(job_id, JobError(type="X", message="no"))
    answer = cancel(api, job_id)
    assert answer["code"] == 409
    assert answer["details"][0]["field"] == "status" and status in answer["details"][0]["message"]
    assert api["table"].get(job_id)["status"] == status


def test_cancel_and_delete_answer_404_for_another_keys_job_and_400_for_a_bad_id(api: dict) -> None:
    job_id = stored_job(api, key="key-b")
    assert cancel(api, job_id, key="key-a")["code"] == 404
    assert delete(api, job_id, key="key-a")["code"] == 404
    assert api["table"].get(job_id)["status"] == "submitted"
    assert cancel(api, "not-a-uuid")["code"] == 400
    assert cancel(api, "0b7a1f4e-8c55-4e0f-9a37-5d2c1b0e9f88")["code"] == 404


def test_deleting_a_finished_job_removes_its_output_and_record(api: dict, aws: dict) -> None:
    job_id = stored_job(api)
    manager = JobStatusManager(api["table"])
    manager.mark_processing(job_id)
    assert delete(api, job_id)["code"] == 409, "a running job is not deleted"
    bucket = Settings().bucket_name
    put(aws, f"outputs/{job_id}/out.mp4")
    manager.mark_completed(job_id, JobOutput(s3Uri=f"s3://{bucket}/outputs/{job_id}/out.mp4"))
    answer = delete(api, job_id)
    assert answer == {"code": 204}
    assert api["table"].get(job_id) is None
    assert keys(aws, f"outputs/{job_id}/") == []
    assert delete(api, job_id)["code"] == 404
    cancelled = stored_job(api)
    cancel(api, cancelled)
    assert delete(api, cancelled)["code"] == 204
