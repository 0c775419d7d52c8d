"""Asynchronous invokes: Lambda's retries, then the OnFailure destination from the template."""

from __future__ import annotations

import json
import logging

from sam_emulator.testing import wait_until


def invoke_async(runtime, payload: dict) -> None:
    response = runtime.client("lambda").invoke(
        FunctionName=runtime.ref("AsyncProbe"), InvocationType="Event", Payload=json.dumps(payload)
    )
    assert response["StatusCode"] == 202


def failure_records(runtime) -> list[dict]:
    """Records in the OnFailure queue, taken out of it."""
    sqs, queue = runtime.client("sqs"), runtime.ref("AsyncFailureQueue")
    messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
    for message in messages:
        sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
    return [json.loads(message["Body"]) for message in messages]


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


def test_an_event_that_fails_once_is_retried_and_not_sent_anywhere(runtime, caplog):
    runtime.inject_fault("AsyncProbe", lambda: RuntimeError("blip"), times=1)
    with caplog.at_level(logging.INFO, logger="sam_emulator"):
        invoke_async(runtime, {"pause": 0, "case": "fails once"})
        wait_until(lambda: runtime.faults.remaining("AsyncProbe") == 0, what="the first attempt")
        assert runtime.async_invoker.wait_idle(timeout=15), "the retry finished"
    lines = [r.getMessage() for r in caplog.records if "AsyncProbe" in r.getMessage()]
    assert len(lines) == 2, lines
    assert "via async invoke" in lines[0] and "RuntimeError" in lines[0]
    assert "retry 1" in lines[1] and " ok " in lines[1]
    assert failure_records(runtime) == []
