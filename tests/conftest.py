"""Shared fixtures: moto-backed AWS resources shaped like the template's, and handler loading."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from moto import mock_aws
from support import REGION, REPO_ROOT


@pytest.fixture(scope="session", autouse=True)
def private_autovid_state(tmp_path_factory: pytest.TempPathFactory):
    """`autovid up` stacks started by the tests register here, not in the user's state directory."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AUTOVID_STATE_DIR", str(tmp_path_factory.mktemp("autovid-state")))
        yield


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "auto-vid")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "AutoVid")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "WARNING")


def jobs_table_definition() -> dict[str, Any]:
    """The jobs table's keys and indexes, as template.yaml declares them."""
    from cfnlint.decode import decode

    document, _ = decode(str(REPO_ROOT / "template.yaml"))
    return document["Resources"]["JobsTable"]["Properties"]


@pytest.fixture
def aws(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> Any:
    """moto with the jobs table, the job queue (+DLQ) and the managed bucket."""
    from autovid.aws.clients import reset_clients

    reset_clients()
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        table = jobs_table_definition()
        dynamodb.create_table(
            TableName="auto-vid-dynamodb-jobs-test-123456789012",
            KeySchema=table["KeySchema"],
            AttributeDefinitions=table["AttributeDefinitions"],
            GlobalSecondaryIndexes=table.get("GlobalSecondaryIndexes", []),
            BillingMode="PAY_PER_REQUEST",
        )
        sqs = boto3.client("sqs", region_name=REGION)
        dlq = sqs.create_queue(QueueName="auto-vid-jobs-dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        queue = sqs.create_queue(
            QueueName="auto-vid-jobs",
            Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "3"})},
        )["QueueUrl"]
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket="auto-vid-s3-bucket-test-123456789012")
        dynamodb.create_table(
            TableName="auto-vid-idempotency-test",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        monkeypatch.setenv("IDEMPOTENCY_TABLE_NAME", "auto-vid-idempotency-test")
        monkeypatch.setenv("DYNAMODB_JOBS_TABLE", "auto-vid-dynamodb-jobs-test-123456789012")
        monkeypatch.setenv("SQS_JOB_QUEUE_URL", queue)
        monkeypatch.setenv("S3_BUCKET_NAME", "auto-vid-s3-bucket-test-123456789012")
        yield {"dynamodb": dynamodb, "sqs": sqs, "s3": s3, "queue_url": queue, "dlq_url": dlq}
    reset_clients()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say it at the end of the run when the browser tests did not run."""
    from browser import SKIP_PREFIX

    reasons = {
        str(report.longrepr[2]).removeprefix("Skipped: ")
        for report in terminalreporter.stats.get("skipped", [])
        if isinstance(report.longrepr, tuple) and SKIP_PREFIX in str(report.longrepr[2])
    }
    for reason in sorted(reasons):
        terminalreporter.write_line(f"NOTE: {reason}", yellow=True, bold=True)
