"""RedriveExecution for moto's Step Functions interpreter, with AWS's semantics.

moto runs our ASL but has no RedriveExecution. :class:`ExecutionRedriver` adds it; the
``redrive-*`` patches in :mod:`sam_emulator.stepfunctions.patches` route the API calls here.

What a redrive does, as AWS documents it:

- Only a STANDARD execution that ended FAILED, TIMED_OUT or ABORTED, within 14 days of its
  stop, with room left in its history, can be redriven. Anything else raises
  ``ExecutionNotRedrivable`` with the reason DescribeExecution gives as ``redriveStatusReason``.
- It resumes at the unsuccessful state, with the input that state received, under the same
  execution ARN and the definition the execution started with (even after UpdateStateMachine).
  States that succeeded are not run again. The state's Retry counters and the machine's
  ``TimeoutSeconds`` start afresh.
- The history keeps its events; an ``ExecutionRedriven`` event carrying ``redriveCount``
  comes next, then the events of the resumed run.
- ``$$.Execution.RedriveCount`` and ``RedriveTime`` tell the states which attempt they are in.
- DescribeExecution reports ``redriveCount``, ``redriveDate``, ``redriveStatus`` and
  ``redriveStatusReason``; ListExecutions reports the count and date and takes ``redriveFilter``.
- A ``clientToken`` repeated within 15 minutes (one of the last 10) returns the first
  redrive's date instead of redriving again.

Scope: the unsuccessful state must be a top-level state. AWS re-runs only the failed
branches of a Parallel and the failed iterations of an inline Map; this engine does not track
those, so it refuses to redrive an execution that failed inside a Map or Parallel state, saying
so, rather than re-run the branches that succeeded.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sam_emulator.stepfunctions.history_events import CONTAINER_TYPES, REDRIVE_WINDOW

REDRIVABLE_STATUSES = frozenset({"FAILED", "TIMED_OUT", "ABORTED"})
#: AWS refuses a redrive that would take the history past 25,000 events: the ExecutionRedriven
#: event and at least one more must fit.
HISTORY_EVENT_LIMIT = 24_999
CLIENT_TOKEN_LIFETIME = dt.timedelta(minutes=15)
CLIENT_TOKENS_KEPT = 10
UNSUPPORTED_STATE_TYPES = CONTAINER_TYPES  # their failed branches and iterations are not tracked

_ENTERED_SUFFIX = "StateEntered"
_EXITED_SUFFIX = "StateExited"


class ExecutionNotRedrivableError(Exception):
    """Why an execution cannot be redriven (the message is AWS's ``redriveStatusReason``)."""


class NoUnsuccessfulStateError(ExecutionNotRedrivableError):
    """Every state the execution entered also exited."""


@dataclass(frozen=True)
class ResumePoint:
    state: str
    input: Any


@dataclass
class RedriveRecord:
    """What the engine keeps per execution."""

    count: int = 0
    date: dt.datetime | None = None
    tokens: dict[str, dt.datetime] = field(default_factory=dict)  # token -> the redrive's date (its first use)


def resume_point(definition: dict[str, Any], events: list[dict[str, Any]]) -> ResumePoint:
    """The top-level state an unsuccessful run stopped in, and the input it entered with.

    Events of states nested in a Map or Parallel (between its entered and exited events) are not
    top-level, even when a nested state shares a top-level state's name."""
    states: dict[str, Any] = definition.get("States") or {}
    current: ResumePoint | None = None
    entered_any = False
    for event in events:
        kind = str(event.get("type", ""))
        if kind.endswith(_ENTERED_SUFFIX):
            details = event.get("stateEnteredEventDetails") or {}
            name = details.get("name")
            if current is not None and states.get(current.state, {}).get("Type") in UNSUPPORTED_STATE_TYPES:
                continue  # a state inside the open Map/Parallel
            if name in states:
                raw = details.get("input")
                current = ResumePoint(name, json.loads(raw) if isinstance(raw, str) else raw)
                entered_any = True
        elif kind.endswith(_EXITED_SUFFIX):
            name = (event.get("stateExitedEventDetails") or {}).get("name")
            if current is not None and name == current.state:
                current = None
    if current is None:
        if entered_any:
            raise NoUnsuccessfulStateError("Execution has no unsuccessful state to resume.")
        start = definition.get("StartAt")
        started = next((e for e in events if e.get("type") == "ExecutionStarted"), None)
        raw = ((started or {}).get("executionStartedEventDetails") or {}).get("input", "{}")
        return ResumePoint(start, json.loads(raw) if isinstance(raw, str) else raw)
    state_type = states[current.state].get("Type")
    if state_type in UNSUPPORTED_STATE_TYPES:
        raise ExecutionNotRedrivableError(
            f"Execution failed in the {state_type} state '{current.state}'; the local engine does not redrive "
            f"{state_type} states (AWS re-runs only their failed branches or iterations)."
        )
    return current


class ExecutionRedriver:
    """RedriveExecution and the redrive fields of DescribeExecution/ListExecutions, over moto's
    execution objects. ``on_redriven`` is called with the execution, in RUNNING state, before
    the resumed run starts."""

    def __init__(
        self,
        *,
        on_redriven: Callable[[Any], None] = lambda execution: None,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ):
        self._on_redriven = on_redriven
        self._clock = clock
        self._records: dict[str, RedriveRecord] = {}
        self._lock = threading.RLock()

    def record(self, execution: Any) -> RedriveRecord:
        with self._lock:
            return self._records.setdefault(execution.exec_arn, RedriveRecord())

    def redrive_count(self, execution: Any) -> int:
        record = self._records.get(execution.exec_arn)
        return record.count if record else 0

    # --- eligibility ------------------------------------------------------------------------

    def not_redrivable_reason(self, execution: Any) -> str | None:
        """None when the execution can be redriven now, else AWS's ``redriveStatusReason``."""
        if str(getattr(execution.sm_type, "value", execution.sm_type)) != "STANDARD":
            return "Execution is of type EXPRESS and cannot be redriven."
        status = execution.status
        if status not in REDRIVABLE_STATUSES:
            return f"Execution is {status} and cannot be redriven."
        if execution.stop_date is not None and self._clock() - execution.stop_date > REDRIVE_WINDOW:
            return "Execution redrivable period exceeded."
        events = _history(execution)
        if len(events) >= HISTORY_EVENT_LIMIT:
            return "Execution history event limit exceeded."
        try:
            resume_point(_definition(execution), events)
        except ExecutionNotRedrivableError as reason:
            return str(reason)
        return None

    # --- API --------------------------------------------------------------------------------

    def redrive(self, execution: Any, client_token: str | None = None) -> dt.datetime:
        """Resume ``execution`` at its unsuccessful state; the redrive date."""
        with self._lock:
            record = self.record(execution)
            now = self._clock()
            if client_token:
                record.tokens = {t: d for t, d in record.tokens.items() if now - d <= CLIENT_TOKEN_LIFETIME}
                if client_token in record.tokens:
                    return record.tokens[client_token]
            reason = self.not_redrivable_reason(execution)
            if reason:
                raise ExecutionNotRedrivableError(reason)
            events = _history(execution)
            point = resume_point(_definition(execution), events)
            record.count += 1
            record.date = now
            if client_token:
                record.tokens[client_token] = now
                while len(record.tokens) > CLIENT_TOKENS_KEPT:
                    record.tokens.pop(next(iter(record.tokens)))
            self._resume(execution, point, record, events)
            return now

    def describe_fields(self, execution: Any) -> dict[str, Any]:
        record = self._records.get(execution.exec_arn) or RedriveRecord()
        fields: dict[str, Any] = {"redriveCount": record.count}
        if record.date is not None:
            fields["redriveDate"] = record.date
        reason = self.not_redrivable_reason(execution)
        fields["redriveStatus"] = "NOT_REDRIVABLE" if reason else "REDRIVABLE"
        if reason:
            fields["redriveStatusReason"] = reason
        return fields

    def list_fields(self, execution: Any) -> dict[str, Any]:
        record = self._records.get(execution.exec_arn) or RedriveRecord()
        fields: dict[str, Any] = {"redriveCount": record.count}
        if record.date is not None:
            fields["redriveDate"] = record.date
        return fields

    # --- the resumed run --------------------------------------------------------------------

    def _resume(self, execution: Any, point: ResumePoint, record: RedriveRecord, events: list[dict]) -> None:
        run_from(execution, point, events, redrive_count=record.count, before_start=self._on_redriven)

    def restore_record(self, execution_arn: str, record: RedriveRecord) -> None:
        """Put back a record kept across a restart (the state folder)."""
        with self._lock:
            self._records[execution_arn] = record


def run_from(
    execution: Any,
    point: ResumePoint,
    events: list[dict[str, Any]],
    *,
    redrive_count: int | None,
    before_start: Callable[[Any], None],
) -> None:
    """Run ``execution`` on from ``point`` in a new thread, its history continuing ``events``.

    ``redrive_count`` writes an ``ExecutionRedriven`` event first (a redrive); None resumes the
    run as it was (after a restart). ``before_start`` is called with the RUNNING execution."""
    from moto.stepfunctions.parser.api import ExecutionStatus, HistoryEventType
    from moto.stepfunctions.parser.asl.component.common.flow.start_at import StartAt
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
    from moto.stepfunctions.parser.asl.eval.event.event_manager import EventHistoryContext
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    worker = execution.exec_worker
    env = worker._get_evaluation_environment()  # $$.Execution gets RedriveCount (redrive-context patch)
    # One history: the new events follow the old ones, in a manager of the new run's own, so
    # a thread the old run left behind (a machine-level timeout does not stop its task)
    # cannot add to it.
    last_event_id = max((int(e["id"]) for e in events), default=0)
    env.event_manager._history_event_list.extend(events)
    env.event_manager._event_id_gen._next_id = last_event_id + 1
    env.event_history_context = EventHistoryContext(previous_event_id=last_event_id)
    env.states.reset(point.input)
    if redrive_count is not None:
        env.event_manager.add_event(
            context=env.event_history_context,
            event_type=HistoryEventType.ExecutionRedriven,
            event_details=EventDetails(executionRedrivenEventDetails={"redriveCount": redrive_count}),
        )
    program = AmazonStateLanguageParser.parse(_definition_text(execution))[0]
    program.start_at = StartAt(point.state)

    execution.exec_status = ExecutionStatus.RUNNING
    execution.stop_date = None
    execution.output = None
    execution.error = None
    execution.cause = None
    worker.env = env
    before_start(execution)

    def run() -> None:
        program.eval(env)
        worker._execution_communication.terminated()

    threading.Thread(target=run, name=f"run:{execution.name}", daemon=True).start()


def _history(execution: Any) -> list[dict[str, Any]]:
    env = execution.exec_worker.env if execution.exec_worker else None
    return list(env.event_manager.get_event_history()) if env is not None else []


def _definition_text(execution: Any) -> str:
    """The definition the execution started with (UpdateStateMachine changes the machine's own)."""
    return execution.exec_worker._evaluation_details.state_machine_details.definition


def _definition(execution: Any) -> dict[str, Any]:
    return json.loads(_definition_text(execution))


def context_redrive_fields(record: RedriveRecord | None) -> dict[str, Any]:
    """The ``$$.Execution`` fields AWS adds for redrives: ``RedriveCount`` always, ``RedriveTime``
    once the execution has been redriven."""
    if record is None or record.count == 0:
        return {"RedriveCount": 0}
    assert record.date is not None
    return {"RedriveCount": record.count, "RedriveTime": record.date.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"}
