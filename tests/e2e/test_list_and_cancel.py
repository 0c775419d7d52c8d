"""Listing, cancelling and deleting jobs end to end on the local runtime, started with an API key
as `autovid up --api-key` does: the REST API, the ManageJob and GetStatus functions, the jobs
table's index, Step Functions, S3 and the webhook of a cancelled job."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
from e2e.conftest import Stack, started_stack, wait_for_marker
from e2e.test_webhook_delivery import Receiver

from autovid.aws.jobs import to_attribute_values
from autovid.core.clock import iso, utc_now
from autovid.core.config import Limits
from autovid.jobs.listing import PageTokens
from autovid.jobs.records import new_job_record
from autovid.spec import parse_spec
from autovid.webhooks.protocol import verify_signature
from autovid_cli.targets import ApiClient, ApiError
from sam_emulator.apigateway.server import api_key_id
from sam_emulator.testing import execution_history, wait_until

API_KEY = "e2e-list-and-cancel-key"
SCOPE = api_key_id(API_KEY)  # the id API Gateway gives the key, recorded on each job it submits


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.release.set()
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    environment = {"ALLOW_LOOPBACK_FETCH": "true", "ALLOW_HTTP_WEBHOOKS": "true", "WEBHOOK_MAX_ATTEMPTS": "2"}
    media = tmp_path_factory.mktemp("list-cancel-media")
    with started_stack(media, function_environment=environment, api_key=API_KEY) as started:
        started.api = ApiClient(started.runtime.api_url or "", api_key=API_KEY)
        yield started


def signing_secret(stack: Stack) -> str:
    arn = stack.runtime.outputs()["WebhookSigningSecretArn"]
    return stack.runtime.client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"]


def history_of(job: dict) -> list[str]:
    return [entry["status"] for entry in job["statusHistory"]]


def keys_under(stack: Stack, prefix: str) -> list[str]:
    listing = stack.runtime.client("s3").list_objects_v2(Bucket=stack.bucket, Prefix=prefix)
    return [item["Key"] for item in listing.get("Contents", [])]


def states_entered(stack: Stack, execution_arn: str) -> list[str]:
    return [
        event["stateEnteredEventDetails"]["name"]
        for event in execution_history(stack.runtime, execution_arn)
        if event["type"].endswith("StateEntered")
    ]


def stored_job(stack: Stack, *, scope: str | None = SCOPE, age_seconds: float = 0, project: str = "e2e") -> str:
    """A job recorded as SubmitJob records it, but never queued."""
    spec = stack.spec(jobInfo={"projectId": project, "title": "listed"})
    now = utc_now() - timedelta(seconds=age_seconds)
    record = new_job_record(parse_spec(spec, Limits()), ttl_seconds=3600, now=now, api_key_id=scope)
    stack.runtime.client("dynamodb").put_item(
        TableName=stack.runtime.ref("JobsTable"), Item=to_attribute_values(record)
    )
    return record["jobId"]


def http_error(call, *args, **kwargs) -> ApiError:
    with pytest.raises(ApiError) as caught:
        call(*args, **kwargs)
    return caught.value


def test_the_api_needs_the_key(stack: Stack) -> None:
    assert http_error(ApiClient(stack.runtime.api_url or "").list_jobs).status == 403


def test_listing_filters_pages_and_scope(stack: Stack) -> None:
    mine = [stored_job(stack, age_seconds=age, project="listing") for age in (50, 40, 30, 20, 10)]
    foreign = stored_job(stack, scope="another-key-id", age_seconds=15, project="listing")
    keyless = stored_job(stack, scope=None, age_seconds=5, project="listing")
    quick = stack.spec(jobInfo={"projectId": "listing-submit"})  # fails at ValidateJob: nothing to render
    quick["assets"]["audio"][1]["source"] = f"s3://{stack.bucket}/assets/e2e/missing.wav"
    submitted = stack.api.submit(quick)
    newest_first = mine[::-1]

    pages, token = [], None
    while True:
        page = stack.api.list_jobs(projectId="listing", limit=2, nextToken=token)
        pages.append([job["jobId"] for job in page["jobs"]])
        token = page["nextToken"]
        if token is None:
            break
    assert pages == [newest_first[:2], newest_first[2:4], newest_first[4:]], "only this key's jobs, newest first"
    assert foreign not in sum(pages, []) and keyless not in sum(pages, [])

    (listed,) = stack.api.list_jobs(projectId="listing-submit")["jobs"]
    assert listed["jobId"] == submitted["jobId"], "submit records the caller's key"
    assert "spec" not in listed and "statusHistory" not in listed

    stack.api.cancel(mine[1])
    assert [j["jobId"] for j in stack.api.list_jobs(projectId="listing", status="cancelled")["jobs"]] == [mine[1]]
    both = stack.api.list_jobs(projectId="listing", status=["cancelled", "submitted"], limit=100)["jobs"]
    assert [j["jobId"] for j in both] == newest_first
    third = stack.api.status(mine[2])["submittedAt"]
    after = stack.api.list_jobs(projectId="listing", submittedAfter=third)["jobs"]
    assert [j["jobId"] for j in after] == newest_first[:2]
    before = stack.api.list_jobs(projectId="listing", submittedBefore=third, status="submitted")["jobs"]
    assert [j["jobId"] for j in before] == [mine[0]]

    for query, parameter in [
        ({"status": "finished"}, "status"),
        ({"submittedAfter": "last tuesday"}, "submittedAfter"),
        ({"limit": 0}, "limit"),
        ({"nextToken": "forged"}, "nextToken"),
    ]:
        error = http_error(stack.api.list_jobs, **query)
        assert error.status == 400 and [d["field"] for d in error.body["details"]] == [parameter]


def test_a_tampered_or_foreign_token_is_refused(stack: Stack) -> None:
    for age in (3, 2, 1):
        stored_job(stack, age_seconds=age, project="tokens")
    token = stack.api.list_jobs(projectId="tokens", limit=1)["nextToken"]
    payload, _, mac = token.partition(".")
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    widened = base64.urlsafe_b64encode(json.dumps({**data, "s": "another-key-id"}).encode()).decode().rstrip("=")
    tampered = http_error(stack.api.list_jobs, projectId="tokens", nextToken=f"{widened}.{mac}")
    assert tampered.status == 400 and tampered.body["details"][0]["field"] == "nextToken"
    # A token properly signed by the stack, but for another key's jobs, is no use to this key.
    foreign = PageTokens(signing_secret(stack)).issue("another-key-id", data["f"], f"another-key-id#{iso(utc_now())}")
    refused = http_error(stack.api.list_jobs, projectId="tokens", nextToken=foreign)
    assert refused.status == 400 and "another API key" in refused.body["details"][0]["message"]
    assert len(stack.api.list_jobs(projectId="tokens", limit=1, nextToken=token)["jobs"]) == 1


def test_a_cancel_during_the_render_stops_the_execution_and_delivers_nothing(stack: Stack, receiver: Receiver) -> None:
    webhook = {"url": receiver.url, "metadata": {"run": "cancel"}}
    answers: dict[str, dict] = {}
    with stack.doubles.on("render", hold="before"):
        current = stack.api.submit(stack.spec(notifications={"webhook": webhook}))
        job_id = current["jobId"]
        assert wait_for_marker(stack.doubles, "render.held"), "RenderVideo started"
        answers["during"] = stack.api.status(job_id)
        answers["cancel"] = stack.api.cancel(job_id)  # while RenderVideo runs
        stack.doubles.release("render")
        assert wait_for_marker(stack.doubles, "render.finished")
        # RenderVideo's invocation, with the check that follows the render, has ended.
        assert not stack.runtime.functions.wait_for_handlers(timeout=60)

    assert answers["during"]["status"] == "processing"
    assert answers["cancel"]["status"] == "cancelled" and answers["cancel"]["jobId"] == job_id
    job = stack.api.status(job_id)
    assert job["status"] == "cancelled"
    assert history_of(job) == ["submitted", "processing", "cancelled"]
    sfn = stack.runtime.client("stepfunctions")
    execution = wait_until(
        lambda: (e := sfn.describe_execution(executionArn=job["executionArn"]))["status"] != "RUNNING" and e,
        timeout=30,
        what="the execution to stop",
    )
    assert execution["status"] == "ABORTED"
    entered = states_entered(stack, job["executionArn"])
    assert "RenderVideo" in entered and "UploadOutput" not in entered
    assert keys_under(stack, f"work/{job_id}/") == [], "the render's file is removed"
    assert keys_under(stack, f"outputs/{job_id}/") == [], "no output is delivered"

    (request,) = wait_until(lambda: receiver.for_job(job_id), timeout=30, what="the webhook")
    assert request["headers"]["x-autovid-event"] == "job.cancelled"
    assert verify_signature(signing_secret(stack), request["headers"]["x-autovid-signature"], request["body"])
    body = json.loads(request["body"])
    assert body["status"] == "cancelled" and body["metadata"] == {"run": "cancel"}

    # The ABORTED event of the stopped execution leaves the job cancelled.
    event = {
        "source": "aws.states",
        "detail-type": "Step Functions Execution Status Change",
        "detail": {
            "executionArn": job["executionArn"],
            "status": "ABORTED",
            "input": json.dumps({"jobId": job_id}),
            "redriveCount": 0,
        },
    }
    stack.runtime.invoke("SyncJobStatusFunction", event)
    assert stack.api.status(job_id)["status"] == "cancelled"
    assert stack.api.cancel(job_id)["statusHistory"] == job["statusHistory"], "cancelling again changes nothing"


def test_a_job_cancelled_while_queued_never_renders(stack: Stack) -> None:
    job_id = stored_job(stack)
    cancelled = stack.api.cancel(job_id)
    assert cancelled["status"] == "cancelled" and history_of(cancelled) == ["submitted", "cancelled"]
    queue = stack.runtime.outputs()["JobQueueUrl"]
    stack.runtime.client("sqs").send_message(QueueUrl=queue, MessageBody=json.dumps({"jobId": job_id}))

    sfn = stack.runtime.client("stepfunctions")
    machine = stack.runtime.ref("VideoJobStateMachine")

    def finished_execution() -> dict | None:
        for listed in sfn.list_executions(stateMachineArn=machine)["executions"]:
            execution = sfn.describe_execution(executionArn=listed["executionArn"])
            if job_id in execution["input"] and execution["status"] != "RUNNING":
                return execution
        return None

    execution = wait_until(finished_execution, timeout=30, what="the queued job's execution")
    assert execution["status"] == "SUCCEEDED"
    entered = states_entered(stack, execution["executionArn"])
    assert entered[-1] == "AlreadyHandled" and "ValidateJob" not in entered and "RenderVideo" not in entered
    job = stack.api.status(job_id)
    assert job["status"] == "cancelled" and history_of(job) == ["submitted", "cancelled"]
    assert keys_under(stack, f"work/{job_id}/") == []


def test_finished_jobs_refuse_a_cancel_and_are_deleted(stack: Stack) -> None:
    spec = stack.spec()
    spec["assets"]["audio"][1]["source"] = f"s3://{stack.bucket}/assets/e2e/missing.wav"
    failed = stack.run(spec)
    assert failed["status"] == "failed"
    conflict = http_error(stack.api.cancel, failed["jobId"])
    assert conflict.status == 409 and conflict.body["details"][0]["field"] == "status"
    assert "failed" in conflict.body["details"][0]["message"]

    completed = stack.run(stack.spec())
    assert completed["status"] == "completed", completed["error"]
    conflict = http_error(stack.api.cancel, completed["jobId"])
    assert conflict.status == 409 and "completed" in conflict.body["details"][0]["message"]
    assert keys_under(stack, f"outputs/{completed['jobId']}/") == [f"outputs/{completed['jobId']}/e2e.mp4"]

    for job in (failed, completed):
        assert stack.api.delete(job["jobId"]) is None  # 204
        assert http_error(stack.api.status, job["jobId"]).status == 404
        assert http_error(stack.api.delete, job["jobId"]).status == 404
    assert keys_under(stack, f"outputs/{completed['jobId']}/") == []

    waiting = stored_job(stack)
    assert http_error(stack.api.delete, waiting).status == 409, "a job that is not finished is kept"
    stack.api.cancel(waiting)
    stack.api.delete(waiting)
    assert http_error(stack.api.status, waiting).status == 404


def test_the_cli_lists_and_cancels(
    stack: Stack, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from autovid_cli.main import main

    monkeypatch.setenv("AUTOVID_API_KEY", API_KEY)
    target = ["--api", stack.runtime.api_url or "", "--json"]
    job_id = stored_job(stack, project="cli")
    assert main(["cancel", job_id, *target]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "cancelled"
    assert main(["jobs", "--project", "cli", "--status", "cancelled", "--all", *target]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [job["jobId"] for job in listed["jobs"]] == [job_id] and listed["nextToken"] is None
    assert main(["jobs", "--status", "finished", *target]) == 2, "a bad parameter is bad input"
    capsys.readouterr()
