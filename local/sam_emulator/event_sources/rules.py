"""``AWS::Events::Rule`` resources: Step Functions status events and ``rate()`` schedules.

The rules are read, created in the local EventBridge (so ``aws events list-rules`` shows them)
and kept as :class:`EventRuleSpec`. Every execution start and end reaches
``LocalRuntime.execution_observers`` (through the ``execution-listener`` moto patch);
:class:`StepFunctionsEventRouter` is the observer that turns each into the "Step Functions
Execution Status Change" event AWS sends, matches it against the rules with source
``aws.states`` and invokes their Lambda targets asynchronously, as EventBridge does.
:class:`ScheduledRules` runs the rules with a ``rate(...)`` schedule.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExecutionStatusChange:
    """What the runtime knows about an execution when its status changes."""

    execution_arn: str
    state_machine_arn: str
    name: str
    status: str  # RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED
    input: Any
    output: Any = None
    error: str | None = None
    cause: str | None = None
    start_date: Any = None
    stop_date: Any = None
    redrive_count: int = 0


class ExecutionObserver(Protocol):
    def __call__(self, change: ExecutionStatusChange) -> None: ...


@dataclass(frozen=True)
class EventRuleSpec:
    logical_id: str
    name: str
    event_pattern: dict[str, Any] | None
    schedule_expression: str | None
    state: str
    event_bus_name: str | None
    targets: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_properties(cls, logical_id: str, name: str, props: dict[str, Any]) -> EventRuleSpec:
        return cls(
            logical_id=logical_id,
            name=name,
            event_pattern=props.get("EventPattern"),
            schedule_expression=props.get("ScheduleExpression"),
            state=props.get("State", "ENABLED"),
            event_bus_name=props.get("EventBusName"),
            targets=list(props.get("Targets") or []),
        )

    @property
    def watches_step_functions(self) -> bool:
        sources = (self.event_pattern or {}).get("source") or []
        return "aws.states" in sources


def matches(pattern: Any, event: Any) -> bool:
    """EventBridge pattern matching: nested objects, value lists, ``$or``, and the ``prefix``,
    ``anything-but``, ``exists`` and ``numeric`` operators."""
    if isinstance(pattern, dict):
        if not isinstance(event, dict):
            return False
        for key, sub_pattern in pattern.items():
            if key == "$or":  # any one of the alternative patterns, each over this same object
                if not any(matches(alternative, event) for alternative in sub_pattern):
                    return False
                continue
            if isinstance(sub_pattern, list) and any(_is_exists(p, False) for p in sub_pattern):
                if key in event:
                    return False
                continue
            if key not in event or not matches(sub_pattern, event[key]):
                return False
        return True
    if isinstance(pattern, list):
        values = event if isinstance(event, list) else [event]
        return any(_value_matches(p, v) for p in pattern for v in values)
    return pattern == event


def _is_exists(pattern: Any, expected: bool) -> bool:
    return isinstance(pattern, dict) and pattern.get("exists") is expected


SUPPORTED_OPERATORS = frozenset({"prefix", "anything-but", "exists", "numeric"})
_NUMERIC_COMPARISONS = {
    "=": lambda a, b: a == b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def unsupported_operators(pattern: Any) -> set[str]:
    """Content-filter operators in ``pattern`` that :func:`matches` does not implement."""
    if isinstance(pattern, dict):
        return set().union(
            *(
                set().union(*(unsupported_operators(alt) for alt in v)) if k == "$or" else unsupported_operators(v)
                for k, v in pattern.items()
            )
        )
    if isinstance(pattern, list):
        return {key for item in pattern if isinstance(item, dict) for key in item if key not in SUPPORTED_OPERATORS}
    return set()


def _value_matches(pattern: Any, value: Any) -> bool:
    if not isinstance(pattern, dict):
        return pattern == value
    if "prefix" in pattern:
        return isinstance(value, str) and value.startswith(pattern["prefix"])
    if "anything-but" in pattern:
        excluded = pattern["anything-but"]
        return value not in (excluded if isinstance(excluded, list) else [excluded])
    if "exists" in pattern:
        return pattern["exists"] is True
    if "numeric" in pattern:
        return _numeric_matches(pattern["numeric"], value)
    return False


def _numeric_matches(conditions: list[Any], value: Any) -> bool:
    """``{"numeric": [">", 0, "<=", 5]}``: every (operator, number) pair holds."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    if not isinstance(conditions, list) or not conditions or len(conditions) % 2:
        return False  # a malformed pattern matches nothing (EventBridge would refuse the rule)
    pairs = list(zip(conditions[::2], conditions[1::2], strict=True))
    if any(op not in _NUMERIC_COMPARISONS or not isinstance(bound, int | float) for op, bound in pairs):
        return False
    return all(_NUMERIC_COMPARISONS[operator](value, bound) for operator, bound in pairs)


def _epoch_ms(moment: Any) -> int | None:
    if moment is None:
        return None
    if isinstance(moment, dt.datetime):
        return int(moment.timestamp() * 1000)
    return int(float(moment) * 1000)


def _as_json_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value)


def eventbridge_event(
    source: str, detail_type: str, detail: dict[str, Any], *, resources: list[str], region: str, account: str
) -> dict[str, Any]:
    """An event as EventBridge delivers it to a target."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": source,
        "account": account,
        "time": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": resources,
        "detail": detail,
    }


def status_change_event(change: ExecutionStatusChange, *, region: str, account: str) -> dict[str, Any]:
    """The EventBridge event AWS emits for an execution status change."""
    return eventbridge_event(
        "aws.states",
        "Step Functions Execution Status Change",
        {
            "executionArn": change.execution_arn,
            "stateMachineArn": change.state_machine_arn,
            "name": change.name,
            "status": change.status,
            "startDate": _epoch_ms(change.start_date),
            "stopDate": _epoch_ms(change.stop_date),
            "input": _as_json_text(change.input),
            "output": _as_json_text(change.output),
            "inputDetails": {"included": True},
            "outputDetails": {"included": change.output is not None},
            "error": change.error,
            "cause": change.cause,
            "redriveCount": change.redrive_count,
        },
        resources=[change.execution_arn],
        region=region,
        account=account,
    )


_RATE_UNITS = {"minute": 60, "hour": 3600, "day": 86400}


def schedule_period_seconds(expression: str) -> float | None:
    """The period of ``rate(1 minute)`` or ``rate(5 minutes)`` (singular for 1, plural otherwise,
    as EventBridge requires); None for anything else (``cron(...)`` is not run locally)."""
    match = re.fullmatch(r"\s*rate\(\s*(\d+)\s+([a-z]+?)(s?)\s*\)\s*", expression or "")
    if not match or match.group(2) not in _RATE_UNITS:
        return None
    value, plural = int(match.group(1)), bool(match.group(3))
    if value < 1 or plural != (value > 1):
        return None
    return value * _RATE_UNITS[match.group(2)]


def scheduled_event(rule: EventRuleSpec, *, region: str, account: str) -> dict[str, Any]:
    """What EventBridge sends a target of a scheduled rule."""
    rule_arn = f"arn:aws:events:{region}:{account}:rule/{rule.name}"
    return eventbridge_event("aws.events", "Scheduled Event", {}, resources=[rule_arn], region=region, account=account)


class ScheduledRules:
    """Runs the ``rate(...)`` rules: every period (times the runtime's wait scale) each target
    gets the scheduled event, or the target's ``Input``, asynchronously. The first run is one
    period after start, as on AWS."""

    def __init__(
        self,
        rules: list[EventRuleSpec],
        deliver: Callable[[str, Any], bool],
        *,
        region: str,
        account: str,
        wait_scale: float = 1.0,
    ):
        self.rules = [
            r
            for r in rules
            if r.state == "ENABLED" and r.schedule_expression and schedule_period_seconds(r.schedule_expression)
        ]
        self._deliver = deliver
        self._region, self._account = region, account
        self._wait_scale = wait_scale
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for rule in self.rules:
            thread = threading.Thread(target=self._run, args=(rule,), name=f"schedule:{rule.logical_id}", daemon=True)
            self._threads.append(thread)
            thread.start()

    def _run(self, rule: EventRuleSpec) -> None:
        period = schedule_period_seconds(rule.schedule_expression or "") or 0.0
        while not self._stopping.wait(period * self._wait_scale):
            self.fire(rule)

    def fire(self, rule: EventRuleSpec) -> None:
        event = scheduled_event(rule, region=self._region, account=self._account)
        for target in rule.targets:
            payload = json.loads(target["Input"]) if "Input" in target else event
            if not self._deliver(target.get("Arn", ""), payload):
                logger.warning("rule %s: target %s is not a function of the template; not delivered", rule.name,
                               target.get("Arn"))  # fmt: skip

    def stop(self) -> None:
        self._stopping.set()
        for thread in self._threads:
            thread.join(5)


class StepFunctionsEventRouter:
    """An execution observer that delivers status events to the ``aws.states`` rules' targets."""

    def __init__(
        self,
        rules: list[EventRuleSpec],
        deliver: Callable[[str, dict[str, Any]], bool],
        *,
        region: str,
        account: str,
    ):
        self.rules = [r for r in rules if r.watches_step_functions and r.state == "ENABLED" and r.event_pattern]
        self.deliver = deliver
        self.region = region
        self.account = account
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        for rule in self.rules:
            unsupported = unsupported_operators(rule.event_pattern)
            if unsupported:
                logger.warning("rule %s: pattern operators %s are not emulated and never match", rule.name,
                               sorted(unsupported))  # fmt: skip

    def __call__(self, change: ExecutionStatusChange) -> None:
        event = status_change_event(change, region=self.region, account=self.account)
        for rule in self.rules:
            if not matches(rule.event_pattern, event):
                continue
            for target in rule.targets:
                thread = threading.Thread(
                    target=self._deliver_one, args=(rule, target.get("Arn", ""), event), daemon=True
                )
                with self._lock:
                    self._threads = [t for t in self._threads if t.is_alive()]
                    self._threads.append(thread)
                thread.start()

    def _deliver_one(self, rule: EventRuleSpec, target_arn: str, event: dict[str, Any]) -> None:
        if not self.deliver(target_arn, event):
            logger.warning("rule %s: target %s is not a function of the template; not delivered", rule.name, target_arn)

    def drain(self, timeout: float = 10.0) -> None:
        """Wait for deliveries in flight (used on shutdown and by tests)."""
        with self._lock:
            pending = list(self._threads)
        for thread in pending:
            thread.join(timeout)
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()]
