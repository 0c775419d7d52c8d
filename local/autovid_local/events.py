"""``AWS::Events::Rule`` resources and the execution-status hook.

The rules are read, created in the local EventBridge (so ``aws events list-rules`` shows them)
and kept as :class:`EventRuleSpec`. Matching and delivering ``aws.states`` "Step Functions
Execution Status Change" events is not emulated yet: :class:`ExecutionObserver` is where that
belongs. Every execution start and end reaches ``LocalRuntime.execution_observers`` (through the
``execution-listener`` moto patch), so an emulator only needs to be one more observer that
builds the event, matches it against :attr:`EventRuleSpec.event_pattern` and calls the targets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


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
