"""The state folder: what the endpoint holds survives a stop, and interrupted executions go on."""

from __future__ import annotations

import json
import threading
import uuid

import pytest
from local_runtime.fixture_paths import TEST_TEMPLATE

from sam_emulator.state.directory import RecordLog, StateDirectory, StateDirectoryError
from sam_emulator.testing import execution_history, running_runtime, wait_for_execution, wait_until


class StepBroke(Exception):
    """A fault that stands for a step interrupted by the stop."""


def _start(state_dir, **options):
    return running_runtime(TEST_TEMPLATE, state_dir=state_dir, **options)


def test_items_objects_messages_and_secrets_survive_a_stop(tmp_path):
    state = tmp_path / "state"
    with _start(state) as runtime:
        table = runtime.ref("JobsTable")
        runtime.client("dynamodb").put_item(TableName=table, Item={"jobId": {"S": "kept"}, "n": {"N": "1"}})
        runtime.client("dynamodb").put_item(TableName=table, Item={"jobId": {"S": "gone"}})
        runtime.client("dynamodb").delete_item(TableName=table, Key={"jobId": {"S": "gone"}})
        runtime.client("dynamodb").update_item(
            TableName=table, Key={"jobId": {"S": "kept"}}, UpdateExpression="ADD n :one",
            ExpressionAttributeValues={":one": {"N": "1"}},
        )  # fmt: skip
        bucket = runtime.ref("ArtifactsBucket")
        s3 = runtime.client("s3")
        s3.put_object(Bucket=bucket, Key="dir/a b.bin", Body=b"\x00payload", ContentType="video/mp4")
        s3.put_object(Bucket=bucket, Key="deleted.txt", Body=b"x")
        s3.delete_object(Bucket=bucket, Key="deleted.txt")
        etag = s3.head_object(Bucket=bucket, Key="dir/a b.bin")["ETag"]
        sqs = runtime.client("sqs")
        queue = runtime.ref("OrphanDeadLetterQueue")
        sqs.send_message(QueueUrl=queue, MessageBody="first")
        sqs.send_message(QueueUrl=queue, MessageBody="second")
        received = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=1, VisibilityTimeout=1)["Messages"]
        secret = runtime.client("secretsmanager").get_secret_value(SecretId=runtime.ref("SigningSecret"))
    with _start(state) as runtime:
        item = runtime.client("dynamodb").get_item(TableName=runtime.ref("JobsTable"), Key={"jobId": {"S": "kept"}})
        assert item["Item"]["n"] == {"N": "2"}
        assert "Item" not in runtime.client("dynamodb").get_item(
            TableName=runtime.ref("JobsTable"), Key={"jobId": {"S": "gone"}}
        )
        s3 = runtime.client("s3")
        kept = s3.get_object(Bucket=runtime.ref("ArtifactsBucket"), Key="dir/a b.bin")
        assert (kept["Body"].read(), kept["ContentType"], kept["ETag"]) == (b"\x00payload", "video/mp4", etag)
        listed = s3.list_objects_v2(Bucket=runtime.ref("ArtifactsBucket")).get("Contents", [])
        assert [entry["Key"] for entry in listed] == ["dir/a b.bin"]
        again = runtime.client("secretsmanager").get_secret_value(SecretId=runtime.ref("SigningSecret"))
        assert again["SecretString"] == secret["SecretString"]
        sqs = runtime.client("sqs")

        def both_messages():
            batch = sqs.receive_message(
                QueueUrl=runtime.ref("OrphanDeadLetterQueue"), MaxNumberOfMessages=10, AttributeNames=["All"]
            ).get("Messages", [])
            return batch if len(batch) == 2 else None

        # The message received before the stop comes back once its visibility timeout ends.
        messages = {m["Body"]: m for m in wait_until(both_messages, timeout=10, what="both messages")}
        assert set(messages) == {"first", "second"}
        assert messages[received[0]["Body"]]["Attributes"]["ApproximateReceiveCount"] == "2"


def test_a_state_folder_serves_one_runtime_at_a_time_and_refuses_another_format(tmp_path):
    first = StateDirectory(tmp_path, engine_version="1.0")
    assert first.open() is False  # empty
    with pytest.raises(StateDirectoryError, match="in use by another running stack"):
        StateDirectory(tmp_path, engine_version="1.0").open()
    first.close()
    assert StateDirectory(tmp_path, engine_version="1.0").open() is True
    with pytest.raises(StateDirectoryError, match="--reset"):
        StateDirectory(tmp_path, engine_version="2.0").open()


def test_a_record_cut_short_by_a_kill_is_ignored(tmp_path):
    log = RecordLog(tmp_path / "log")
    log.append({"n": 1})
    log.append({"n": 2})
    with (tmp_path / "log").open("ab") as handle:
        handle.write(b"\x00\x00\x01\x00partial")  # a header announcing 256 bytes, then a kill
    assert list(log) == [{"n": 1}, {"n": 2}]


def test_reset_starts_empty(tmp_path):
    state = tmp_path / "state"
    with _start(state) as runtime:
        runtime.client("dynamodb").put_item(TableName=runtime.ref("JobsTable"), Item={"jobId": {"S": "x"}})
    with _start(state, reset_state=True) as runtime:
        assert runtime.client("dynamodb").scan(TableName=runtime.ref("JobsTable"))["Count"] == 0


def test_executions_keep_their_history_and_a_running_one_goes_on_after_a_restart(tmp_path):
    state = tmp_path / "state"
    run_id = uuid.uuid4().hex
    with _start(state) as runtime:
        sfn = runtime.client("stepfunctions")
        done = sfn.start_execution(stateMachineArn=runtime.ref("RedriveWorkflow"), input=json.dumps({"runId": "d"}))
        finished = wait_for_execution(runtime, done["executionArn"])
        history_before = execution_history(runtime, done["executionArn"])
        entered, release = threading.Event(), threading.Event()

        def interrupted() -> Exception:  # B is running when the stack stops
            entered.set()
            release.wait(10)
            return StepBroke("cut short by the stop")

        runtime.inject_fault("FlakyStepFunction", interrupted, times=1)
        running = sfn.start_execution(
            stateMachineArn=runtime.ref("RedriveWorkflow"), input=json.dumps({"runId": run_id})
        )["executionArn"]
        assert entered.wait(10)
        stopping = threading.Thread(target=release.set)
        stopping.start()  # the step fails while the stack stops: that failure is not kept
    stopping.join()
    with _start(state) as runtime:
        sfn = runtime.client("stepfunctions")
        again = sfn.describe_execution(executionArn=done["executionArn"])
        assert (again["status"], again["stopDate"]) == ("SUCCEEDED", finished["stopDate"])
        assert execution_history(runtime, done["executionArn"]) == history_before
        resumed = wait_for_execution(runtime, running)
        assert resumed["status"] == "SUCCEEDED", resumed
        assert resumed["output"]["b"]["result"]["calls"] == 1
        assert resumed["output"]["a"]["result"]["calls"] == 1  # A is not run again
        events = execution_history(runtime, running)
        kinds = [event["type"] for event in events]
        assert kinds.count("ExecutionStarted") == 1 and kinds[-1] == "ExecutionSucceeded"
        assert "TaskFailed" not in kinds and "LambdaFunctionFailed" not in kinds
        entered_states = [e["stateEnteredEventDetails"]["name"] for e in events if e["type"].endswith("StateEntered")]
        assert entered_states == ["Prepare", "A", "B", "B"]  # B runs again, as an interrupted invocation
        assert [e["id"] for e in events] == list(range(1, len(events) + 1))
        listed = sfn.list_executions(stateMachineArn=runtime.ref("RedriveWorkflow"))["executions"]
        assert {e["executionArn"] for e in listed} == {done["executionArn"], running}
