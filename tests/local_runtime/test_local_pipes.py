"""The Pipe: SQS -> InputTemplate -> StartExecution, delete after success, DLQ after failures."""

from __future__ import annotations

import json
import uuid

from sam_emulator.event_sources.pipes import json_path, render_input_template
from sam_emulator.testing import wait_until


def _executions_with_job(runtime, state_machine: str, job_id: str) -> list[dict]:
    sfn = runtime.client("stepfunctions")
    found = []
    for execution in sfn.list_executions(stateMachineArn=runtime.ref(state_machine))["executions"]:
        description = sfn.describe_execution(executionArn=execution["executionArn"])
        if job_id in description["input"]:
            found.append(description)
    return found


def _queue_depth(runtime, queue: str) -> int:
    attributes = runtime.client("sqs").get_queue_attributes(
        QueueUrl=runtime.ref(queue),
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def test_message_starts_exactly_one_execution_with_templated_input_and_is_deleted(runtime):
    job_id = f"pipe-{uuid.uuid4().hex[:8]}"
    sent = runtime.client("sqs").send_message(
        QueueUrl=runtime.ref("JobsQueue"), MessageBody=json.dumps({"jobId": job_id})
    )

    executions = wait_until(lambda: _executions_with_job(runtime, "PipeTarget", job_id), what="the pipe's execution")
    wait_until(lambda: _queue_depth(runtime, "JobsQueue") == 0, what="the message to be deleted")

    assert len(executions) == 1
    # Pipes always hand Step Functions a JSON array, even for a batch of one.
    assert json.loads(executions[0]["input"]) == [
        {"jobId": job_id, "note": f"job {job_id} via {runtime.ref('JobsPipe')}", "messageId": sent["MessageId"]}
    ]
    assert len(_executions_with_job(runtime, "PipeTarget", job_id)) == 1
    assert _queue_depth(runtime, "JobsDeadLetterQueue") == 0


def test_failed_start_redelivers_then_lands_in_dead_letter_queue(runtime):
    # A target that no longer exists makes every StartExecution fail.
    runtime.client("stepfunctions").delete_state_machine(stateMachineArn=runtime.ref("OrphanTarget"))
    body = json.dumps({"jobId": f"orphan-{uuid.uuid4().hex[:8]}"})
    runtime.client("sqs").send_message(QueueUrl=runtime.ref("OrphanQueue"), MessageBody=body)
    sqs = runtime.client("sqs")

    def dead_letter() -> list[dict]:
        response = sqs.receive_message(QueueUrl=runtime.ref("OrphanDeadLetterQueue"), AttributeNames=["All"])
        return response.get("Messages", [])

    messages = wait_until(dead_letter, timeout=15, what="the message in the DLQ")

    assert [message["Body"] for message in messages] == [body]
    stats = runtime.pipes["OrphanPipe"].stats
    assert stats.start_failures == 2  # maxReceiveCount
    assert stats.executions_started == 0
    assert _queue_depth(runtime, "OrphanQueue") == 0


def test_input_template_quotes_strings_only_inside_json_strings():
    record = {"messageId": "m-1", "body": json.dumps({"jobId": "j-1", "n": 3, "tags": ["a", "b"]}), "attributes": {}}

    rendered = render_input_template(
        '{"id": <$.body.jobId>, "text": "job <$.body.jobId> has <$.body.n>", "tags": <$.body.tags>, '
        '"pipe": <aws.pipes.pipe-name>, "missing": <$.body.nope>}',
        record,
        {"aws.pipes.pipe-name": "my-pipe"},
    )

    assert rendered == {"id": "j-1", "text": "job j-1 has 3", "tags": ["a", "b"], "pipe": "my-pipe", "missing": None}


def test_input_template_free_text_and_whole_body():
    record = {"messageId": "m-1", "body": "plain text", "attributes": {"SenderId": "AIDA"}}

    assert render_input_template("Hello, <$.attributes.SenderId>", record, {}) == "Hello, AIDA"
    assert render_input_template("<$.body>", record, {}) == "plain text"


def test_json_path_subset():
    document = {"a": {"b": [{"c": 1}, {"c": 2}]}, "d-e": "x"}

    assert json_path(document, "$.a.b[1].c") == 2
    assert json_path(document, "$.a.b[*].c") == [1, 2]
    assert json_path(document, "$.d-e") == "x"
    assert json_path(document, "$") == document
    assert json_path(document, "$.nope") is None


def test_without_an_input_template_the_sqs_record_is_passed_as_pipes_does(runtime):
    job_id = f"raw-{uuid.uuid4().hex[:8]}"
    body = json.dumps({"jobId": job_id})
    sent = runtime.client("sqs").send_message(
        QueueUrl=runtime.ref("RawQueue"),
        MessageBody=body,
        MessageAttributes={"origin": {"DataType": "String", "StringValue": "test"}},
    )
    executions = wait_until(lambda: _executions_with_job(runtime, "PipeTarget", job_id), what="the raw execution")
    records = json.loads(executions[0]["input"])
    assert len(records) == 1
    record = records[0]
    assert record["messageId"] == sent["MessageId"]
    assert record["body"] == body, "the body stays a string"
    assert record["md5OfBody"] == sent["MD5OfMessageBody"]
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == runtime.get_att("RawQueue", "Arn")
    assert record["awsRegion"] == runtime.pseudo.region
    assert record["receiptHandle"] and record["attributes"]["ApproximateReceiveCount"] == "1"
    assert record["messageAttributes"]["origin"]["stringValue"] == "test"


def test_a_message_whose_delete_fails_is_reported(caplog):
    from sam_emulator.event_sources.pipes import PipeSpec, SqsToStateMachinePipe

    class Sfn:
        def start_execution(self, **kwargs):
            return {"executionArn": "arn:x"}

    class Sqs:
        def delete_message_batch(self, **kwargs):
            return {"Successful": [], "Failed": [{"Id": "0", "Code": "ReceiptHandleIsInvalid", "Message": "gone"}]}

    spec = PipeSpec(logical_id="P", name="p", source_arn="arn:q", target_arn="arn:sm", batch_size=1)
    pipe = SqsToStateMachinePipe(spec, client_factory=None, queue_arn="arn:q", region="us-east-1", pipe_arn="arn:p")
    message = {"MessageId": "m-1", "ReceiptHandle": "r", "Body": "{}", "Attributes": {}, "MD5OfBody": "x"}
    with caplog.at_level("WARNING"):
        pipe._deliver(Sqs(), Sfn(), [message])
    assert pipe.stats.executions_started == 1
    assert any(
        "m-1 not deleted" in r.getMessage() and "ReceiptHandleIsInvalid" in r.getMessage() for r in caplog.records
    )
