"""Step Functions executions: read by the status-sync and reconcile functions, stopped by a cancel."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from autovid.aws.clients import client
from autovid.aws.errors import aws_call


def describe_execution(execution_arn: str) -> dict[str, Any] | None:
    """DescribeExecution, or None when the execution does not exist (any more: AWS keeps a
    STANDARD execution's record for 90 days after it ends)."""
    with aws_call("Step Functions DescribeExecution"):
        try:
            description = client("stepfunctions").describe_execution(executionArn=execution_arn)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ExecutionDoesNotExist":
                return None
            raise
    return description


def stop_execution(execution_arn: str, *, error: str, cause: str) -> bool:
    """StopExecution; False when the execution does not exist (any more). Stopping an execution
    that already ended changes nothing."""
    with aws_call("Step Functions StopExecution"):
        try:
            client("stepfunctions").stop_execution(executionArn=execution_arn, error=error, cause=cause)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ExecutionDoesNotExist":
                return False
            raise
    return True


def epoch_millis(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp() * 1000)


def last_entered_state(execution_arn: str) -> str | None:
    """The name of the last state the execution entered (where it failed, for a failed one)."""
    last = None
    with aws_call("Step Functions GetExecutionHistory"):
        pages = client("stepfunctions").get_paginator("get_execution_history").paginate(executionArn=execution_arn)
        for page in pages:
            for event in page["events"]:
                name = (event.get("stateEnteredEventDetails") or {}).get("name")
                if event["type"].endswith("StateEntered") and name:
                    last = name
    return last
