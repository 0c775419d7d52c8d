"""DynamoDB stream events: the Lambda record shape, FilterCriteria, batches in order, bisect and
retries, the OnFailure record, and LATEST versus TRIM_HORIZON."""

from __future__ import annotations

import datetime as dt
import json
import re
import tempfile
import time
import uuid
from collections.abc import Iterator
from types import SimpleNamespace
from unittest.mock import MagicMock

import pytest
from local_runtime.fixture_paths import TEST_TEMPLATE

from sam_emulator.awslambda.functions import InvocationResult
from sam_emulator.errors import TemplateError
from sam_emulator.event_sources.streams import DynamoDBStreamPoller, StreamMappingSpec, _Shard, lambda_record
from sam_emulator.runtime import LocalRuntime
from sam_emulator.template.parser import Template
from sam_emulator.template.provision import Provisioner
from sam_emulator.testing import TEST_PIPE_POLL_SECONDS, TEST_WAIT_SCALE, wait_until

BEFORE_START_ID = "written-before-start"
FILTER = {"eventName": ["MODIFY"], "dynamodb": {"NewImage": {"status": {"S": ["completed", "failed"]}}}}


class _SeededRuntime(LocalRuntime):
    """Writes a finished item to WatchedTable after provisioning, before the stream pollers start."""

    def _start_streams(self) -> None:
        dynamodb, table = self.client("dynamodb"), self.ref("WatchedTable")
        for status in ("queued", "completed"):  # an INSERT, then a MODIFY that matches the filter
            dynamodb.put_item(TableName=table, Item={"id": {"S": BEFORE_START_ID}, "status": {"S": status}})
        super()._start_streams()


@pytest.fixture(scope="module")
def runtime() -> Iterator[LocalRuntime]:
    with tempfile.TemporaryDirectory(prefix="autovid-logs-") as logs:
        options = {"wait_scale": TEST_WAIT_SCALE, "pipe_poll_seconds": TEST_PIPE_POLL_SECONDS, "log_dir": logs}
        with _SeededRuntime(TEST_TEMPLATE, aws_port=0, api_port=0, **options) as started:
            yield started


# --- helpers -------------------------------------------------------------------------------


def write(runtime, item_id: str, status: str, **extra) -> None:
    item = {"id": {"S": item_id}, "status": {"S": status}, **extra}
    runtime.client("dynamodb").put_item(TableName=runtime.ref("WatchedTable"), Item=item)


def invocations(runtime, function: str) -> list[dict]:
    """What ``function`` logged, one entry per invocation, oldest first."""
    dynamodb, items, request = runtime.client("dynamodb"), [], {"TableName": runtime.ref("StreamLogTable")}
    while True:
        page = dynamodb.scan(**request)
        items.extend(page["Items"])
        if "LastEvaluatedKey" not in page:
            break
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    mine = sorted((i for i in items if i["function"]["S"] == runtime.ref(function)), key=lambda i: int(i["at"]["N"]))
    return [{"failed": i["failed"]["BOOL"], "records": json.loads(i["event"]["S"])["Records"]} for i in mine]


def key_of(record: dict) -> str:
    return record["dynamodb"]["Keys"]["id"]["S"]


def delivered(runtime, function: str, *item_ids: str) -> list[dict]:
    """Records of ``item_ids`` in the invocations of ``function`` that succeeded, in delivery order."""
    return [
        record
        for invocation in invocations(runtime, function)
        if not invocation["failed"]
        for record in invocation["records"]
        if key_of(record) in item_ids
    ]


def wait_for_delivery(runtime, function: str, item_id: str, count: int = 1) -> list[dict]:
    return wait_until(
        lambda: len(delivered(runtime, function, item_id)) >= count and delivered(runtime, function, item_id),
        what=f"{count} record(s) of {item_id} delivered to {function}",
    )


def stream_arn(runtime) -> str:
    return runtime.client("dynamodb").describe_table(TableName=runtime.ref("WatchedTable"))["Table"]["LatestStreamArn"]


def fresh(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


# --- through the runtime ---------------------------------------------------------------------


def test_get_att_stream_arn_is_the_tables_local_stream(runtime):
    assert runtime.get_att("WatchedTable", "StreamArn") == stream_arn(runtime)
    assert set(runtime.streams) == {"StreamRecorderFunctionItemFinished", "StreamAuditFunctionEverything"}


def test_a_matching_modify_is_delivered_once_in_the_lambda_shape(runtime):
    item_id, sentinel = fresh("shape"), fresh("sentinel")
    written_at = time.time()
    write(runtime, item_id, "queued")  # INSERT: filtered out
    write(runtime, item_id, "running")  # MODIFY to a status the filter does not want
    write(runtime, item_id, "completed", size={"N": "42"})
    write(runtime, sentinel, "queued")
    write(runtime, sentinel, "failed")
    wait_for_delivery(runtime, "StreamRecorderFunction", sentinel)  # in stream order, so item_id's are in too

    records = delivered(runtime, "StreamRecorderFunction", item_id)
    assert len(records) == 1
    record = records[0]
    assert set(record) == {"eventID", "eventName", "eventVersion", "eventSource", "awsRegion", "dynamodb",
                           "eventSourceARN"}  # fmt: skip
    assert record["eventName"] == "MODIFY"
    assert record["eventVersion"] == "1.1"
    assert record["eventSource"] == "aws:dynamodb"
    assert record["awsRegion"] == runtime.pseudo.region
    assert record["eventSourceARN"] == stream_arn(runtime)
    assert re.fullmatch(r"[0-9a-f]{32}", record["eventID"])
    change = record["dynamodb"]
    assert change["Keys"] == {"id": {"S": item_id}}
    assert change["NewImage"] == {"id": {"S": item_id}, "status": {"S": "completed"}, "size": {"N": "42"}}
    assert change["OldImage"] == {"id": {"S": item_id}, "status": {"S": "running"}}
    assert change["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert change["SequenceNumber"].isdigit() and isinstance(change["SizeBytes"], int)
    assert isinstance(change["ApproximateCreationDateTime"], int)
    assert written_at - 5 <= change["ApproximateCreationDateTime"] <= time.time() + 5
    # The other records were in the stream: the unfiltered mapping got all three.
    audited = wait_for_delivery(runtime, "StreamAuditFunction", item_id, count=3)
    assert [r["eventName"] for r in audited] == ["INSERT", "MODIFY", "MODIFY"]


def test_records_arrive_in_order_in_batches_of_at_most_batch_size(runtime):
    ids = [fresh(f"order{n:02d}") for n in range(12)]
    for item_id in ids:
        write(runtime, item_id, "queued")
    for item_id in ids:
        write(runtime, item_id, "completed")
    wait_until(lambda: len(delivered(runtime, "StreamRecorderFunction", *ids)) == 12, what="12 records")

    batches = [
        [r for r in invocation["records"] if key_of(r) in ids]
        for invocation in invocations(runtime, "StreamRecorderFunction")
    ]
    batches = [batch for batch in batches if batch]
    assert all(len(batch) <= 10 for batch in batches), [len(b) for b in batches]  # BatchSize
    flattened = [record for batch in batches for record in batch]
    assert [key_of(r) for r in flattened] == ids
    sequence_numbers = [int(r["dynamodb"]["SequenceNumber"]) for r in flattened]
    assert sequence_numbers == sorted(sequence_numbers)


def _failure_messages(runtime) -> list[dict]:
    sqs, queue = runtime.client("sqs"), runtime.ref("StreamFailureQueue")
    messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
    for message in messages:
        sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
    return [json.loads(message["Body"]) for message in messages]


def test_a_failing_record_is_isolated_retried_then_sent_to_on_failure_and_later_records_flow(runtime):
    ok1, bad, ok2, after = (fresh(name) for name in ("ok1", "bad", "ok2", "after"))
    for item_id in (ok1, bad, ok2):
        write(runtime, item_id, "queued")
    write(runtime, ok1, "completed")
    write(runtime, bad, "completed", explode={"BOOL": True})  # the recorder raises on this one
    write(runtime, ok2, "completed")

    messages = wait_until(lambda: _failure_messages(runtime), timeout=15, what="the OnFailure record")
    write(runtime, after, "queued")
    write(runtime, after, "completed")
    wait_for_delivery(runtime, "StreamRecorderFunction", after)

    # Bisecting isolates the bad record; alone it is tried once and retried MaximumRetryAttempts (2) times.
    alone = [i for i in invocations(runtime, "StreamRecorderFunction") if [key_of(r) for r in i["records"]] == [bad]]
    assert len(alone) == 3 and all(invocation["failed"] for invocation in alone)
    bad_record = alone[0]["records"][0]
    assert len(delivered(runtime, "StreamRecorderFunction", ok1)) == 1
    assert len(delivered(runtime, "StreamRecorderFunction", ok2)) == 1
    assert delivered(runtime, "StreamRecorderFunction", bad) == []

    assert len(messages) == 1
    record = messages[0]
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["requestContext"]["functionArn"] == runtime.get_att("StreamRecorderFunction", "Arn")
    assert record["requestContext"]["requestId"]
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"}
    assert record["version"] == "1.0"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", record["timestamp"])
    shard_id = runtime.client("dynamodbstreams").describe_stream(StreamArn=stream_arn(runtime))["StreamDescription"][
        "Shards"
    ][0]["ShardId"]
    info = record["DDBStreamBatchInfo"]
    arrival = dt.datetime.fromtimestamp(bad_record["dynamodb"]["ApproximateCreationDateTime"], dt.UTC)
    assert info == {
        "shardId": shard_id,
        "startSequenceNumber": bad_record["dynamodb"]["SequenceNumber"],
        "endSequenceNumber": bad_record["dynamodb"]["SequenceNumber"],
        "approximateArrivalOfFirstRecord": arrival.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "approximateArrivalOfLastRecord": arrival.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "batchSize": 1,
        "streamArn": stream_arn(runtime),
    }
    assert _failure_messages(runtime) == []


def test_latest_skips_records_written_before_start_up_and_trim_horizon_reads_them(runtime):
    audited = wait_for_delivery(runtime, "StreamAuditFunction", BEFORE_START_ID, count=2)
    assert [r["eventName"] for r in audited] == ["INSERT", "MODIFY"]

    sentinel = fresh("after-start")
    write(runtime, sentinel, "queued")
    write(runtime, sentinel, "completed")
    wait_for_delivery(runtime, "StreamRecorderFunction", sentinel)
    # The before-start MODIFY matches the filter, and the stream is read in order: LATEST skipped it.
    assert delivered(runtime, "StreamRecorderFunction", BEFORE_START_ID) == []


def test_unemulated_properties_are_noted(runtime):
    notes = [note for note in runtime.stack.notes if note.startswith("StreamAuditFunctionEverything:")]
    assert any("ParallelizationFactor is not emulated" in note for note in notes)
    assert any("TumblingWindowInSeconds is not emulated" in note for note in notes)
    assert any("MaximumRetryAttempts -1" in note for note in notes)
    assert not any(note.startswith("StreamRecorderFunctionItemFinished:") for note in runtime.stack.notes)


# --- the poller on its own -------------------------------------------------------------------


def _stream_record(sequence: int, item_id: str, *, modify: bool = True) -> dict:
    """A record as boto3's GetRecords returns it."""
    image = {"id": {"S": item_id}, "status": {"S": "completed"}, "blob": {"B": b"\x00\x01"}}
    change = {
        "ApproximateCreationDateTime": dt.datetime(2025, 1, 2, 3, 4, 5, 600000, tzinfo=dt.UTC),
        "Keys": {"id": {"S": item_id}},
        "NewImage": image,
        "SequenceNumber": str(sequence),
        "SizeBytes": 10,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    if modify:
        change["OldImage"] = {"id": {"S": item_id}, "status": {"S": "running"}}
    return {"eventID": f"e{sequence}", "eventName": "MODIFY" if modify else "INSERT", "eventVersion": "1.0",
            "eventSource": "aws:dynamodb", "awsRegion": "us-east-1", "dynamodb": change}  # fmt: skip


class _FakeFunction:
    spec = SimpleNamespace(arn="arn:aws:lambda:us-east-1:123456789012:function:f")

    def __init__(self, respond):
        self.batches: list[list[str]] = []
        self._respond = respond

    def invoke(self, event, *, source="invoke"):
        sequence_numbers = [record["dynamodb"]["SequenceNumber"] for record in event["Records"]]
        self.batches.append(sequence_numbers)
        return self._respond(sequence_numbers, len(self.batches))


def _ok(payload=None) -> InvocationResult:
    return InvocationResult(json.dumps(payload).encode(), f"req-{uuid.uuid4().hex[:6]}", 1.0)


def _error() -> InvocationResult:
    body = {"errorMessage": "boom", "errorType": "RuntimeError", "requestId": "req-err", "stackTrace": []}
    return InvocationResult(json.dumps(body).encode(), "req-err", 1.0, "RuntimeError")


def _poller(function, sent: list, **spec_options) -> DynamoDBStreamPoller:
    sqs = MagicMock()
    sqs.get_queue_url.return_value = {"QueueUrl": "http://queue"}
    sqs.send_message.side_effect = lambda **kwargs: sent.append(json.loads(kwargs["MessageBody"]))
    options = {"on_failure_arn": "arn:aws:sqs:us-east-1:123456789012:failures", **spec_options}
    spec = StreamMappingSpec("FItems", "F", "Table", "arn:stream", **options)
    return DynamoDBStreamPoller(spec, function=function, client_factory=lambda service: sqs, region="eu-west-1",
                                wait_scale=0)  # fmt: skip


def test_batches_filter_and_bisect_down_to_the_failing_record():
    function = _FakeFunction(lambda batch, _n: _error() if "5" in batch else _ok())
    sent: list = []
    poller = _poller(function, sent, batch_size=4, max_retries=1, bisect_on_error=True, filters=[FILTER])
    records = [_stream_record(n, f"i{n}", modify=n != 3) for n in range(1, 12)]  # 3 is an INSERT: filtered

    poller._deliver_records(_Shard("shard-1", None), records)

    assert function.batches == [
        ["1", "2", "4", "5"],  # fails: split in two (no retry used)
        ["1", "2"],
        ["4", "5"],  # fails again: split
        ["4"],
        ["5"],  # alone: tried, retried once, then given up
        ["5"],
        ["6", "7", "8", "9"],  # later records still flow, BatchSize 4
        ["10", "11"],
    ]
    assert len(sent) == 1
    info = sent[0]["DDBStreamBatchInfo"]
    assert (info["shardId"], info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"]) == (
        "shard-1", "5", "5", 1,
    )  # fmt: skip
    assert info["approximateArrivalOfFirstRecord"] == "2025-01-02T03:04:05Z"
    assert sent[0]["requestContext"]["approximateInvokeCount"] == 2
    assert poller.stats.records_filtered_out == 1 and poller.stats.batches_to_destination == 1


def test_without_bisect_the_whole_batch_is_retried_and_reported():
    function = _FakeFunction(lambda batch, _n: _error())
    sent: list = []
    poller = _poller(function, sent, batch_size=10, max_retries=2)

    poller._deliver_records(_Shard("shard-1", None), [_stream_record(n, f"i{n}") for n in (7, 8, 9)])

    assert function.batches == [["7", "8", "9"]] * 3
    info = sent[0]["DDBStreamBatchInfo"]
    assert (info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"]) == ("7", "9", 3)
    assert sent[0]["requestContext"]["approximateInvokeCount"] == 3


def test_report_batch_item_failures_retries_from_the_first_failed_record():
    def respond(batch, attempt):
        return _ok({"batchItemFailures": [{"itemIdentifier": "3"}]}) if attempt == 1 else _ok({"batchItemFailures": []})

    function = _FakeFunction(respond)
    poller = _poller(function, [], report_batch_item_failures=True, max_retries=3)

    poller._deliver_records(_Shard("shard-1", None), [_stream_record(n, f"i{n}") for n in (1, 2, 3, 4)])

    assert function.batches == [["1", "2", "3", "4"], ["3", "4"]]
    assert poller.stats.records_delivered == 4


def test_lambda_record_is_json_with_epoch_seconds_and_base64_binary():
    record = lambda_record(_stream_record(1, "x"), stream_arn="arn:stream", region="eu-west-1")

    assert record["dynamodb"]["ApproximateCreationDateTime"] == 1735787045
    assert record["dynamodb"]["NewImage"]["blob"] == {"B": "AAE="}
    assert (record["eventVersion"], record["awsRegion"], record["eventSourceARN"]) == ("1.1", "eu-west-1", "arn:stream")
    json.dumps(record)


def test_a_stream_event_on_a_table_without_a_stream_fails_start_up(tmp_path):
    template = tmp_path / "template.yaml"
    template.write_text(
        """
Transform: AWS::Serverless-2016-10-31
Resources:
  Plain:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{AttributeName: id, AttributeType: S}]
      KeySchema: [{AttributeName: id, KeyType: HASH}]
  Reader:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: reader/
      Handler: app.handler
      Runtime: python3.11
      Events:
        Changes:
          Type: DynamoDB
          Properties: {Stream: !GetAtt Plain.StreamArn, StartingPosition: LATEST}
"""
    )
    loaded = Template.load(template, endpoint_url="http://127.0.0.1:4566")

    with pytest.raises(TemplateError, match=r"Reader\.Events\.Changes: table Plain has no stream"):
        Provisioner(loaded, client=lambda service: MagicMock()).provision()
