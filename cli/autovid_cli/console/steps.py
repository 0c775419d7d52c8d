"""What the console shows of one execution's states: each visit of a top-level state with its task
attempts (and the backoff waits between them), read from the history events, and the Lambda log
lines of one attempt, read from CloudWatch Logs.

States nested in a Map or Parallel count as that Map or Parallel (as in :mod:`autovid_cli.run_graph`).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sam_emulator.stepfunctions.history_events import (
    ATTEMPT_FAILURES,
    ATTEMPT_STARTS,
    ATTEMPT_SUCCESSES,
    event_details,
    ordered,
)

_ENTERED = re.compile(r"^(\w+)StateEntered$")
_EXITED = re.compile(r"^(\w+)StateExited$")
_EXECUTION_ENDS = {"ExecutionSucceeded", "ExecutionFailed", "ExecutionTimedOut", "ExecutionAborted"}
_LAMBDA_ARN = re.compile(r"^arn:[\w-]+:lambda:[\w-]+:\d+:function:([\w-]+)")
#: How far around an attempt's start and end its Lambda's START line is looked for.
LOG_SLACK = dt.timedelta(seconds=2)


@dataclass
class TaskAttempt:
    """One try of a Task state: scheduled, then succeeded, failed or timed out (or still running)."""

    number: int
    scheduled: dt.datetime
    ended: dt.datetime | None = None
    outcome: str = "running"  # succeeded, failed, timed out, running
    error: str | None = None
    cause: str | None = None
    resource: str | None = None  # e.g. "lambda:invoke"
    function_name: str | None = None  # the Lambda's name, for a Lambda task
    request_id: str | None = None  # from the error payload, when Lambda gave one
    parameters: str | None = None
    output: str | None = None

    @property
    def seconds(self) -> float | None:
        return (self.ended - self.scheduled).total_seconds() if self.ended else None

    @property
    def cause_message(self) -> str | None:
        """The error message inside a Lambda error payload (the cause), else the cause itself."""
        payload = _json_object(self.cause)
        return str(payload.get("errorMessage")) if payload and "errorMessage" in payload else self.cause


@dataclass
class StateVisit:
    """One entry of a top-level state, in one attempt of the execution (1 + redrives before it)."""

    name: str
    type: str
    entered: dt.datetime
    execution_attempt: int
    input: str | None = None
    exited: dt.datetime | None = None
    output: str | None = None
    outcome: str = "running"  # succeeded, failed, caught, aborted, timed out, running
    error: str | None = None
    cause: str | None = None
    attempts: list[TaskAttempt] = field(default_factory=list)

    @property
    def seconds(self) -> float | None:
        return (self.exited - self.entered).total_seconds() if self.exited else None

    def backoffs(self) -> list[tuple[dt.datetime, dt.datetime]]:
        """The waits between a failed attempt and the next one (the Retry's backoff)."""
        return [
            (before.ended, after.scheduled)
            for before, after in zip(self.attempts, self.attempts[1:], strict=False)
            if before.ended is not None
        ]


def state_visits(definition: Mapping[str, Any], events: Sequence[Mapping[str, Any]]) -> list[StateVisit]:
    """Every visit of a top-level state, in the order they happened."""
    top = definition.get("States", {})
    visits: list[StateVisit] = []
    current: StateVisit | None = None
    execution_attempt = 1
    for event in ordered(events):
        kind = str(event.get("type", ""))
        details = event_details(event)
        at = event.get("timestamp")
        entered, exited = _ENTERED.match(kind), _EXITED.match(kind)
        if kind == "ExecutionRedriven":
            execution_attempt += 1
        elif entered and details.get("name") in top and (current is None or current.exited is not None):
            current = StateVisit(details["name"], entered.group(1), at, execution_attempt, input=details.get("input"))
            visits.append(current)
        elif current is None or current.exited is not None:
            continue
        elif exited and details.get("name") == current.name:
            current.exited, current.output = at, details.get("output")
            last = current.attempts[-1] if current.attempts else None
            current.outcome = "caught" if last is not None and last.outcome != "succeeded" else "succeeded"
        elif kind in ATTEMPT_STARTS and current.type == "Task":
            current.attempts.append(_attempt(len(current.attempts) + 1, at, details))
        elif kind in ATTEMPT_SUCCESSES and current.attempts:
            attempt = current.attempts[-1]
            attempt.ended, attempt.outcome, attempt.output = at, "succeeded", details.get("output")
        elif kind in ATTEMPT_FAILURES and current.attempts:
            attempt = current.attempts[-1]
            attempt.ended, attempt.error, attempt.cause = at, details.get("error"), details.get("cause")
            attempt.outcome = "timed out" if "TimedOut" in kind else "failed"
            payload = _json_object(attempt.cause)
            attempt.request_id = str(payload["requestId"]) if payload and payload.get("requestId") else None
        elif kind in _EXECUTION_ENDS or kind.endswith("StateFailed"):
            if kind == "ExecutionSucceeded":
                continue
            current.outcome = {"ExecutionAborted": "aborted", "ExecutionTimedOut": "timed out"}.get(kind, "failed")
            current.error, current.cause = details.get("error"), details.get("cause")
            if kind in _EXECUTION_ENDS:
                current.exited = at
            if current.attempts and current.attempts[-1].ended is None:
                current.attempts[-1].ended = at
                current.attempts[-1].outcome = current.outcome
    for visit in visits:
        if visit.type == "Fail" and visit.exited is None:
            visit.outcome = "failed"
    return visits


def _attempt(number: int, at: dt.datetime, details: Mapping[str, Any]) -> TaskAttempt:
    resource = ":".join(str(details[k]) for k in ("resourceType", "resource") if details.get(k))
    parameters = details.get("parameters")
    function_name = None
    if resource.startswith("lambda"):
        target = (_json_object(parameters) or {}).get("FunctionName") if parameters else None
        target = target or details.get("resource")
        function_name = lambda_function_name(str(target)) if target else None
    return TaskAttempt(number, at, resource=resource or None, function_name=function_name, parameters=parameters)


def lambda_function_name(target: str) -> str:
    """``arn:...:function:NAME[:qualifier]`` or ``NAME`` -> ``NAME``."""
    match = _LAMBDA_ARN.match(target)
    return match.group(1) if match else target.split(":")[0]


def _json_object(text: str | None) -> dict[str, Any] | None:
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


# --- Lambda log lines -------------------------------------------------------------------------


@dataclass
class InvocationLog:
    request_id: str | None
    lines: list[str]
    note: str | None = None  # why there are no lines, or how they were matched


def invocation_log(logs: Any, attempt: TaskAttempt, job_id: str | None = None) -> InvocationLog:
    """The log lines of the Lambda invocation behind ``attempt``, from ``/aws/lambda/<name>``.

    The invocation is the one whose request id the error payload names; for an attempt that
    succeeded (Step Functions keeps no request id then) it is the invocation whose START line falls
    in the attempt's time, the one that mentions ``job_id`` when several do.
    """
    if not attempt.function_name:
        return InvocationLog(None, [], "not a Lambda task")
    group = f"/aws/lambda/{attempt.function_name}"
    end = (attempt.ended or dt.datetime.now(dt.UTC)) + LOG_SLACK
    try:
        events = _log_events(logs, group, attempt.scheduled - LOG_SLACK, end)
    except Exception as error:  # noqa: BLE001 - any read error is shown, not raised
        code = getattr(error, "response", {}).get("Error", {}).get("Code") if hasattr(error, "response") else None
        reason = "no such log group" if code == "ResourceNotFoundException" else str(error)
        return InvocationLog(attempt.request_id, [], f"cannot read {group}: {reason}")
    invocations = _by_request(events)
    request_id = attempt.request_id
    if request_id is None:
        window = [
            rid for rid, (started, _lines) in invocations.items() if attempt.scheduled - LOG_SLACK <= started <= end
        ]
        mentioning = [rid for rid in window if job_id and any(job_id in line for line in invocations[rid][1])]
        candidates = mentioning or window
        request_id = candidates[0] if candidates else None
    if request_id is None or request_id not in invocations:
        return InvocationLog(request_id, [], f"no log lines in {group} for this attempt")
    return InvocationLog(request_id, invocations[request_id][1])


def _log_events(logs: Any, group: str, start: dt.datetime, end: dt.datetime) -> list[dict[str, Any]]:
    request: dict[str, Any] = {
        "logGroupName": group,
        "startTime": int(start.timestamp() * 1000),
        "endTime": int(end.timestamp() * 1000) + 60_000,  # lines of a long invocation come after its start
    }
    events: list[dict[str, Any]] = []
    for page in logs.get_paginator("filter_log_events").paginate(**request):
        events.extend(page.get("events", []))
        if len(events) > 20_000:
            break
    return events


_START = re.compile(r"^START RequestId: ([\w-]+)")
_REPORT = re.compile(r"^REPORT RequestId: ([\w-]+)")


def _by_request(events: list[dict[str, Any]]) -> dict[str, tuple[dt.datetime, list[str]]]:
    """Each invocation's lines (START to REPORT, per log stream) by request id, with its START time."""
    found: dict[str, tuple[dt.datetime, list[str]]] = {}
    open_by_stream: dict[str, str] = {}
    key = lambda e: (e.get("logStreamName", ""), e.get("timestamp", 0), int(e.get("eventId") or 0))  # noqa: E731
    for event in sorted(events, key=key):
        stream, message = event.get("logStreamName", ""), str(event.get("message", "")).rstrip("\n")
        start = _START.match(message)
        if start:
            at = dt.datetime.fromtimestamp(event.get("timestamp", 0) / 1000, dt.UTC)
            found[start.group(1)] = (at, [message])
            open_by_stream[stream] = start.group(1)
            continue
        current = open_by_stream.get(stream)
        if current is None:
            continue
        found[current][1].append(message)
        if _REPORT.match(message):
            open_by_stream.pop(stream, None)
    return found
