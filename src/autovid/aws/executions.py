"""Step Functions execution history, read by the status-sync function."""

from __future__ import annotations

from typing import Any

from autovid.aws.clients import client
from autovid.aws.errors import aws_call

FAILED_EVENT_TYPES = frozenset(
    {"TaskFailed", "TaskTimedOut", "LambdaFunctionFailed", "LambdaFunctionTimedOut", "ExecutionFailed"}
)


def last_entered_state(execution_arn: str) -> str | None:
    """The name of the last state the execution entered (where it failed, for a failed one)."""
    with aws_call("Step Functions GetExecutionHistory"):
        pages = (
            client("stepfunctions")
            .get_paginator("get_execution_history")
            .paginate(executionArn=execution_arn, reverseOrder=True)
        )
        for page in pages:
            for event in page["events"]:
                details: dict[str, Any] = event.get("stateEnteredEventDetails") or {}
                if event["type"].endswith("StateEntered") and details.get("name"):
                    return details["name"]
    return None
