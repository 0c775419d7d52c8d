"""aws.states rules: execution status changes reach the rule's Lambda target as AWS sends them."""

from __future__ import annotations

import json
import uuid

from sam_emulator.event_sources.rules import matches, schedule_period_seconds, unsupported_operators
from sam_emulator.testing import run_execution, wait_until


def recorded_event(runtime, name: str, status: str) -> dict | None:
    item = runtime.client("dynamodb").get_item(
        TableName=runtime.ref("JobsTable"), Key={"jobId": {"S": f"event-{name}-{status}"}}
    )
    return json.loads(item["Item"]["event"]["S"]) if "Item" in item else None


def test_status_changes_are_delivered_to_the_rule_target(runtime):
    job_id = str(uuid.uuid4())
    description = run_execution(runtime, "JobWorkflow", {"jobId": job_id})
    name = description["name"]

    started = wait_until(lambda: recorded_event(runtime, name, "RUNNING"), what="the RUNNING event")
    finished = wait_until(lambda: recorded_event(runtime, name, "SUCCEEDED"), what="the SUCCEEDED event")

    for event in (started, finished):
        assert event["source"] == "aws.states"
        assert event["detail-type"] == "Step Functions Execution Status Change"
        assert event["resources"] == [description["executionArn"]]
        detail = event["detail"]
        assert detail["executionArn"] == description["executionArn"]
        assert detail["stateMachineArn"] == runtime.ref("JobWorkflow")
        assert json.loads(detail["input"]) == {"jobId": job_id}
        assert isinstance(detail["startDate"], int)
    assert finished["detail"]["stopDate"] >= finished["detail"]["startDate"]
    assert started["detail"]["stopDate"] is None


def test_pattern_matching():
    event = {"source": "aws.states", "detail": {"status": "FAILED", "stateMachineArn": "arn:sm:1"}}
    assert matches({"source": ["aws.states"], "detail": {"status": ["FAILED", "TIMED_OUT"]}}, event)
    assert not matches({"detail": {"status": ["SUCCEEDED"]}}, event)
    assert not matches({"detail": {"missing": ["x"]}}, event)
    assert matches({"detail": {"stateMachineArn": [{"prefix": "arn:sm:"}]}}, event)
    assert matches({"detail": {"status": [{"anything-but": ["RUNNING"]}]}}, event)
    assert not matches({"detail": {"status": [{"anything-but": "FAILED"}]}}, event)
    assert matches({"detail": {"error": [{"exists": False}]}}, event)
    assert not matches({"detail": {"status": [{"exists": False}]}}, event)
    assert matches({"detail": {"status": [{"exists": True}]}}, event)


def test_or_and_numeric_patterns_select_redrives():
    """The status-sync rule's pattern: unsuccessful ends, or a start after a redrive."""
    pattern = {
        "detail": {
            "$or": [
                {"status": ["FAILED", "TIMED_OUT", "ABORTED"]},
                {"status": ["RUNNING"], "redriveCount": [{"numeric": [">", 0]}]},
            ]
        }
    }
    assert matches(pattern, {"detail": {"status": "FAILED", "redriveCount": 0}})
    assert matches(pattern, {"detail": {"status": "RUNNING", "redriveCount": 2}})
    assert not matches(pattern, {"detail": {"status": "RUNNING", "redriveCount": 0}})
    assert not matches(pattern, {"detail": {"status": "RUNNING"}})
    assert not matches(pattern, {"detail": {"status": "SUCCEEDED", "redriveCount": 1}})
    assert not matches({"n": [{"numeric": [">", 0]}]}, {"n": True}), "a boolean is not a number"
    assert matches({"n": [{"numeric": [">=", 1, "<", 3]}]}, {"n": 2.5})
    assert not matches({"n": [{"numeric": [">=", 1, "<", 3]}]}, {"n": 3})
    assert unsupported_operators(pattern) == set()
    for malformed in ([">"], ["~", 1], [">", "1"], "> 1"):
        assert not matches({"n": [{"numeric": malformed}]}, {"n": 2}), malformed


def test_unsupported_operators_are_found():
    pattern = {"detail": {"status": [{"suffix": "ED"}, "FAILED"], "x": {"y": [{"wildcard": "a*"}, {"prefix": "a"}]}}}
    assert unsupported_operators(pattern) == {"suffix", "wildcard"}
    assert unsupported_operators({"$or": [{"a": [{"cidr": "10.0.0.0/8"}]}]}) == {"cidr"}
    assert unsupported_operators({"source": ["aws.states"]}) == set()


def ticks(runtime) -> list[dict]:
    items = runtime.client("dynamodb").scan(TableName=runtime.ref("JobsTable"))["Items"]
    return [json.loads(item["event"]["S"]) for item in items if item["jobId"]["S"].startswith("tick-")]


def test_rate_schedules_invoke_their_targets(runtime):
    def both_kinds() -> bool:
        seen = ticks(runtime)
        return any(e.get("detail-type") == "Scheduled Event" for e in seen) and {"custom": True} in seen

    wait_until(both_kinds, timeout=15, what="both scheduled rules to fire")
    event = next(e for e in ticks(runtime) if e.get("detail-type") == "Scheduled Event")
    assert event["source"] == "aws.events" and event["detail"] == {}
    assert event["resources"] == [
        f"arn:aws:events:{runtime.pseudo.region}:{runtime.pseudo.account_id}:rule/sam-app-TickerFunctionEveryMinute"
    ]


def test_cron_schedules_are_reported_not_run(runtime):
    assert "TickerFunctionNightly: cron(0 3 * * ? *) is not run locally (rate() is)" in runtime.stack.notes
    assert schedule_period_seconds("rate(5 minutes)") == 300
    assert schedule_period_seconds("rate(1 hour)") == 3600
    assert schedule_period_seconds("rate(1 minute)") == 60
    assert schedule_period_seconds("rate(0 minutes)") is None
    assert schedule_period_seconds("rate(1 minutes)") is None, "EventBridge wants the singular for 1"
    assert schedule_period_seconds("rate(5 minute)") is None
    assert schedule_period_seconds("cron(0 3 * * ? *)") is None
