"""Step Functions execution history, read by the status-sync function."""

from __future__ import annotations

from autovid.aws.clients import client
from autovid.aws.errors import aws_call


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
