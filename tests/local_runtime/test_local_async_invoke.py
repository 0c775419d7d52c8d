"""Asynchronous invokes: Lambda's retries, then the OnFailure destination from the template."""

from __future__ import annotations

import json

from autovid_local.testing import wait_until


def invoke_async(runtime, payload: dict) -> None:
    response = runtime.client("lambda").invoke(
        FunctionName=runtime.ref("AsyncProbe"), InvocationType="Event", Payload=json.dumps(payload)
    )
    assert response["StatusCode"] == 202


def failure_records(runtime) -> list[dict]:
    sqs = runtime.client("sqs")
    messages = sqs.receive_message(QueueUrl=runtime.ref("AsyncFailureQueue"), MaxNumberOfMessages=10)
    return [json.loads(message["Body"]) for message in messages.get("Messages", [])]


def test_an_event_that_keeps_failing_goes_to_the_on_failure_queue(runtime):
    runtime.inject_fault("AsyncProbe", lambda: RuntimeError("disk on fire"), times=3)
    invoke_async(runtime, {"pause": 0, "case": "always failing"})

    records = wait_until(lambda: failure_records(runtime), timeout=15, what="the OnFailure record")
    assert len(records) == 1
    record = records[0]
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3, "the first try and two retries"
    assert record["requestContext"]["functionArn"].startswith(runtime.get_att("AsyncProbe", "Arn"))
    assert record["requestPayload"] == {"pause": 0, "case": "always failing"}
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert record["responsePayload"]["errorType"] == "RuntimeError"
    assert record["responsePayload"]["errorMessage"] == "disk on fire"
    assert runtime.faults.remaining("AsyncProbe") == 0


def test_an_event_that_fails_once_is_retried_and_not_sent_anywhere(runtime):
    runtime.inject_fault("AsyncProbe", lambda: RuntimeError("blip"), times=1)
    invoke_async(runtime, {"pause": 0, "case": "fails once"})

    wait_until(lambda: runtime.faults.remaining("AsyncProbe") == 0, what="the first attempt")
    assert runtime.async_invoker.wait_idle(timeout=15), "the retry finished"
    assert failure_records(runtime) == []
