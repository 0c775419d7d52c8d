"""Real clients (boto3 and the AWS CLI) see the local stack through the endpoint."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

AWS_CLI = Path(sys.executable).with_name("aws")


def _cli(runtime, *args: str) -> dict:
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env.update(runtime.client_environment())
    completed = subprocess.run(
        [str(AWS_CLI), *args, "--output", "json"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


def test_boto3_lists_tables_queues_and_executions(runtime):
    started = runtime.client("stepfunctions").start_execution(
        stateMachineArn=runtime.ref("PipeTarget"), input=json.dumps({"from": "boto3"})
    )

    tables = runtime.client("dynamodb").list_tables()["TableNames"]
    queues = runtime.client("sqs").list_queues()["QueueUrls"]
    executions = runtime.client("stepfunctions").list_executions(stateMachineArn=runtime.ref("PipeTarget"))

    assert runtime.ref("JobsTable") in tables
    assert {runtime.ref("JobsQueue"), runtime.ref("JobsDeadLetterQueue")} <= set(queues)
    assert started["executionArn"] in [item["executionArn"] for item in executions["executions"]]
    assert runtime.ref("ArtifactsBucket") in [b["Name"] for b in runtime.client("s3").list_buckets()["Buckets"]]
    functions = [f["FunctionName"] for f in runtime.client("lambda").list_functions()["Functions"]]
    assert runtime.ref("WorkerFunction") in functions
    ttl = runtime.client("dynamodb").describe_time_to_live(TableName=runtime.ref("JobsTable"))
    assert ttl["TimeToLiveDescription"]["AttributeName"] == "expiresAt"
    redrive = runtime.client("sqs").get_queue_attributes(QueueUrl=runtime.ref("JobsQueue"), AttributeNames=["All"])
    assert json.loads(redrive["Attributes"]["RedrivePolicy"])["deadLetterTargetArn"] == runtime.get_att(
        "JobsDeadLetterQueue", "Arn"
    )


def test_aws_cli_lists_tables_queues_and_executions(runtime):
    assert AWS_CLI.exists(), "the AWS CLI is a pinned dev requirement (requirements/dev.txt)"
    started = runtime.client("stepfunctions").start_execution(stateMachineArn=runtime.ref("PipeTarget"))

    tables = _cli(runtime, "dynamodb", "list-tables")
    # AWS CLI v1 pins SQS endpoints per region and ignores AWS_ENDPOINT_URL for SQS.
    queues = _cli(runtime, "--endpoint-url", runtime.aws_endpoint_url, "sqs", "list-queues")
    executions = _cli(runtime, "stepfunctions", "list-executions", "--state-machine-arn", runtime.ref("PipeTarget"))

    assert runtime.ref("JobsTable") in tables["TableNames"]
    assert runtime.ref("JobsQueue") in queues["QueueUrls"]
    assert started["executionArn"] in [item["executionArn"] for item in executions["executions"]]
