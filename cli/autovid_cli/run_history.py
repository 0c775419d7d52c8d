"""One Step Functions execution's history as a console-like timeline for a terminal.

:func:`timeline` folds the ``events`` of ``stepfunctions.get_execution_history`` (ascending; a
history fetched with ``reverseOrder`` is put back in order by event id) into :class:`TimelineRow`
values, in chronological order:

* ``execution`` - the execution started, and how it ended (succeeded, failed with error and cause,
  timed out, aborted) with its total duration;
* ``state`` - one per visit of a top-level state, entered -> exited (or -> the execution's end, or
  -> now while it is still running), with its result: succeeded, failed, caught, timed out,
  aborted or running;
* ``retry`` - a task attempt that failed and was tried again ("retry 2 of RenderVideo after ...");
* ``task-failed`` - the state's last attempt, when it failed;
* ``catch`` - the last attempt failed yet the state exited: a Catch routed it to the next state;
* ``redrive`` - an ``ExecutionRedriven`` event, the boundary between two attempts of the execution.

States nested in a top-level Map or Parallel (their events come between its entered and exited
events) get no rows of their own: the container's row counts its iterations and nested failures.
After a redrive the history normally enters the failed state again; if the events continue inside
it instead (a redriven Map's failed iterations, say) the row is marked "resumed".

:func:`format_timeline` renders the rows as a fixed-width plain-text table.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sam_emulator.stepfunctions.history_events import (
    ATTEMPT_FAILURES,
    ATTEMPT_STARTS,
    ATTEMPT_SUCCESSES,
    CONTAINER_TYPES,
    event_details,
    ordered,
    seconds_between,
)

__all__ = ["KINDS", "WIDTH", "TimelineRow", "format_timeline", "timeline"]

KINDS = ("execution", "state", "retry", "catch", "redrive", "task-failed")
WIDTH = 110  # default width of format_timeline's table
MESSAGE_CHARS = 120  # error messages taken from causes are cut to this length

_STATE_ENTERED = re.compile(r"^(\w+)StateEntered$")
_STATE_EXITED = re.compile(r"^(\w+)StateExited$")
_EXECUTION_ENDS = {
    "ExecutionSucceeded": "succeeded",
    "ExecutionFailed": "failed",
    "ExecutionTimedOut": "timed out",
    "ExecutionAborted": "aborted",
}


@dataclass(frozen=True)
class TimelineRow:
    """One line of the timeline."""

    offset: float  # seconds since ExecutionStarted
    kind: str  # one of KINDS
    state: str | None  # state name, None for execution-level rows
    text: str  # e.g. "RenderVideo failed: TransientError: asset host down"
    duration: float | None  # state: entered -> exited (or -> execution end / now); attempt or execution length
    attempt: int  # 1 + number of ExecutionRedriven events seen so far
    # Outcome of a "state" or "execution" row (succeeded, failed, caught, running, started, ...), else None.
    result: str | None = None


@dataclass
class _Attempt:
    started: datetime
    ended: datetime | None = None
    failed: bool = False
    error: str = ""
    cause: str = ""
    failed_seq: int = -1  # index of the failure event


@dataclass
class _Visit:
    type: str
    name: str
    entered: datetime
    seq: int  # index of the event the state row is placed at
    resumed: bool = False
    attempts: list[_Attempt] = field(default_factory=list)
    ended: datetime | None = None
    exit_seq: int = -1  # index of the StateExited event, -1 if the state never exited
    result: str = "running"
    failure: tuple[str, str] | None = None  # an error that is not a task attempt's (EvaluationFailed, ...)
    container_failed: bool = False  # the Map/Parallel itself failed (its last word was <Type>StateFailed)
    catch_next: str | None = None  # the state a Catch routed to
    iterations: int = 0
    failed_iterations: int = 0
    nested_failures: int = 0
    nested_error: tuple[str, str] | None = None


def timeline(events: list[dict], *, now: datetime | None = None) -> list[TimelineRow]:
    """The rows of one execution's history, in chronological order.

    ``now`` (default: the current time) ends the duration of a state that is still running.
    """
    events = ordered(events)
    times = _times(events)
    start = next((t for e, t in zip(events, times, strict=True) if e.get("type") == "ExecutionStarted"), None)
    if start is None:
        start = times[0] if times else datetime.now(UTC)

    visits: list[_Visit] = []
    plain: list[tuple[int, TimelineRow]] = []  # rows that are final when their event is seen
    attempt_at: list[int] = []  # execution attempt (1 + redrives seen) at each event
    redrives = 0
    current: _Visit | None = None  # the open top-level state
    awaiting_catch: _Visit | None = None  # exited through a Catch; its next state is not known yet
    interrupted: _Visit | None = None  # open when the execution last failed / timed out / was aborted
    resume_from: _Visit | None = None  # set by a redrive until the next state-level event

    def offset(t: datetime) -> float:
        return (t - start).total_seconds()

    def open_visit(type_: str, name: str, t: datetime, seq: int, *, resumed: bool = False) -> None:
        nonlocal current, awaiting_catch
        if current is not None:  # a state that never exited: should not happen, close it here
            _close(current, t, -1, "exited")
        if awaiting_catch is not None:
            awaiting_catch.catch_next = name
            awaiting_catch = None
        current = _Visit(type_, name, t, seq, resumed=resumed)
        visits.append(current)

    for seq, (event, t) in enumerate(zip(events, times, strict=True)):
        etype = str(event.get("type", ""))
        details = event_details(event)
        if etype == "ExecutionRedriven":
            redrives += 1
        attempt_at.append(1 + redrives)
        attempt = 1 + redrives

        # Execution-level events.
        if etype == "ExecutionStarted":
            plain.append(
                (seq, TimelineRow(offset(t), "execution", None, "execution started", None, attempt, "started"))
            )
            continue
        if etype == "ExecutionRedriven":
            count = details.get("redriveCount", redrives)
            plain.append((seq, TimelineRow(offset(t), "redrive", None, f"redrive {count}", None, attempt)))
            resume_from, interrupted = interrupted, None
            continue
        if etype in _EXECUTION_ENDS:
            outcome = _EXECUTION_ENDS[etype]
            interrupted = None
            if current is not None:
                _close(current, t, -1, outcome)
                interrupted = current if outcome != "succeeded" else None
                current = None
            text = f"execution {outcome}"
            if details.get("error") or details.get("cause"):
                text += f": {_error_text(details.get('error'), details.get('cause'))}"
            plain.append((seq, TimelineRow(offset(t), "execution", None, text, offset(t), attempt, outcome)))
            continue

        # After a redrive the events may go on inside the interrupted state without entering it again.
        if resume_from is not None:
            previous, resume_from = resume_from, None
            entered = _STATE_ENTERED.match(etype)
            entering_anew = entered is not None and (
                previous.type not in CONTAINER_TYPES
                or (entered.group(1), _state_name(event)) == (previous.type, previous.name)
            )
            if not entering_anew and (entered or _belongs_to_state(etype)):
                open_visit(previous.type, previous.name, t, seq, resumed=True)

        # Inside a top-level Map or Parallel: only its own exit and failures matter.
        if current is not None and current.type in CONTAINER_TYPES:
            exited = _STATE_EXITED.match(etype)
            if exited and (exited.group(1), _state_name(event)) == (current.type, current.name):
                _close(current, t, seq, "exited")
                if current.result == "caught":
                    awaiting_catch = current
                current = None
            else:
                _note_nested(current, etype, details)
            continue

        entered = _STATE_ENTERED.match(etype)
        if entered:
            open_visit(entered.group(1), _state_name(event), t, seq)
            continue
        if current is None:
            continue  # task events outside any state: nothing to attach them to
        exited = _STATE_EXITED.match(etype)
        if exited:
            _close(current, t, seq, "exited")
            if current.result == "caught":
                awaiting_catch = current
            current = None
        elif etype in ATTEMPT_STARTS:
            current.attempts.append(_Attempt(started=t))
        elif etype in ATTEMPT_SUCCESSES:
            if current.attempts and current.attempts[-1].ended is None:
                current.attempts[-1].ended = t
        elif etype in ATTEMPT_FAILURES:
            last = current.attempts[-1] if current.attempts else None
            if last is None or last.ended is not None and not last.failed:
                last = _Attempt(started=t)  # failed before it was scheduled (ScheduleFailed, States.Runtime)
                current.attempts.append(last)
            if not last.failed:  # a second failure event for the same attempt adds nothing
                last.ended, last.failed, last.failed_seq = t, True, seq
                last.error, last.cause = str(details.get("error") or ""), str(details.get("cause") or "")
        elif etype == "EvaluationFailed":
            current.failure = (str(details.get("error") or ""), str(details.get("cause") or ""))

    end_of_history = now if now is not None else datetime.now(UTC)
    if current is not None:  # still running
        current.ended = _aware(end_of_history)

    rows = list(plain)
    for visit in visits:
        rows.extend(_visit_rows(visit, offset, attempt_at))
    rows.sort(key=lambda item: item[0])  # stable: a visit's state row stays ahead of rows at the same event
    return [row for _, row in rows]


def format_timeline(rows: list[TimelineRow], *, title: str | None = None, width: int = WIDTH) -> str:
    """``rows`` as a plain-text table at most ``width`` columns wide, redrives as separator lines."""
    offsets = [_format_offset(row.offset) for row in rows]
    durations = ["" if row.duration is None else format_duration(row.duration) for row in rows]
    offset_w = max([len("offset"), *map(len, offsets)])
    result_w = max(len(kind) for kind in KINDS)
    state_w = min(24, max([len("state"), *(len(row.state or "") for row in rows)]))
    duration_w = max([len("duration"), *map(len, durations)])
    text_w = max(10, width - (offset_w + result_w + state_w + duration_w + 8))

    def line(offset: str, result: str, state: str, duration: str, text: str) -> str:
        cells = [offset.rjust(offset_w), _cut(result, result_w).ljust(result_w)]
        cells += [_cut(state, state_w).ljust(state_w), duration.rjust(duration_w), _cut(text, text_w)]
        return _cut("  ".join(cells), width).rstrip()

    lines = [_cut(" ".join(title.split()), width)] if title else []
    lines.append(line("offset", "result", "state", "duration", "event"))
    for row, offset, duration in zip(rows, offsets, durations, strict=True):
        if row.kind == "redrive":
            label = _cut(f"── {' '.join(row.text.split())} at {offset} ", width)
            lines.append(label + "─" * (width - len(label)))
        else:
            lines.append(line(offset, row.result or row.kind, row.state or "", duration, " ".join(row.text.split())))
    return "\n".join(lines) + "\n"


def _visit_rows(
    visit: _Visit, offset: Callable[[datetime], float], attempt_at: list[int]
) -> list[tuple[int, TimelineRow]]:
    """The state row of one visit, then a row per failed attempt and the catch row."""
    ended = visit.ended if visit.ended is not None else visit.entered
    notes = []
    if len(visit.attempts) > 1:
        notes.append(f"{len(visit.attempts)} attempts")
    if visit.iterations:
        failed = f", {visit.failed_iterations} failed" if visit.failed_iterations else ""
        notes.append(f"{visit.iterations} iteration{'s' * (visit.iterations != 1)}{failed}")
    if visit.nested_failures:
        notes.append(f"{visit.nested_failures} nested task failure{'s' * (visit.nested_failures != 1)}")
    if visit.failure is not None:
        notes.append(_error_text(*visit.failure))
    if visit.resumed:
        notes.append("resumed after redrive")
    text = f"{visit.type} {visit.name} {visit.result}" + (f" ({'; '.join(notes)})" if notes else "")
    attempt = attempt_at[visit.seq]
    rows = [
        (
            visit.seq,
            TimelineRow(
                offset(visit.entered),
                "state",
                visit.name,
                text,
                seconds_between(visit.entered, ended),
                attempt,
                visit.result,
            ),
        )
    ]

    failed = [a for a in visit.attempts if a.failed]
    for a in failed:
        error = _error_text(a.error, a.cause)
        duration = seconds_between(a.started, a.ended) if a.ended is not None else None
        if a is visit.attempts[-1]:
            kind, text = "task-failed", f"{visit.name} failed: {error}"
        else:
            kind, text = "retry", f"retry {visit.attempts.index(a) + 1} of {visit.name} after {error}"
        rows.append(
            (
                a.failed_seq,
                TimelineRow(offset(a.ended or a.started), kind, visit.name, text, duration, attempt_at[a.failed_seq]),
            )
        )

    if visit.result == "caught":
        last = visit.attempts[-1] if visit.attempts and visit.attempts[-1].failed else None
        error = last.error if last else (visit.failure or visit.nested_error or ("an error", ""))[0]
        text = f"{visit.name} caught {error or 'an error'}" + (f" → {visit.catch_next}" if visit.catch_next else "")
        rows.append(
            (visit.exit_seq, TimelineRow(offset(ended), "catch", visit.name, text, None, attempt_at[visit.exit_seq]))
        )
    return rows


def _close(visit: _Visit, t: datetime, seq: int, how: str) -> None:
    """End a visit: ``how`` is "exited" or the execution's outcome."""
    visit.ended, visit.exit_seq = t, seq
    if how != "exited":
        visit.result = how
    elif visit.failure is not None or visit.container_failed or (visit.attempts and visit.attempts[-1].failed):
        visit.result = "caught" if seq >= 0 else "failed"
    else:
        visit.result = "succeeded"


def _note_nested(container: _Visit, etype: str, details: dict) -> None:
    """Count what happens inside a top-level Map or Parallel."""
    if etype in ("MapIterationStarted", "MapIterationFailed") and details.get("name", container.name) == container.name:
        if etype == "MapIterationStarted":
            container.iterations += 1
        else:
            container.failed_iterations += 1
    elif etype == f"{container.type}StateFailed":
        container.container_failed = True
    elif etype in ATTEMPT_FAILURES:
        container.nested_failures += 1
        container.nested_error = (str(details.get("error") or ""), str(details.get("cause") or ""))
    elif etype == "EvaluationFailed":
        container.nested_error = (str(details.get("error") or ""), str(details.get("cause") or ""))
    # A later nested state or a success means an earlier <Type>StateFailed was a nested container's.
    if _STATE_ENTERED.match(etype) or _STATE_EXITED.match(etype) or etype == f"{container.type}StateSucceeded":
        container.container_failed = False


def _belongs_to_state(etype: str) -> bool:
    """Whether an event happens inside a state (an attempt, a Map iteration, a failure)."""
    return etype.startswith(("Task", "LambdaFunction", "Activity", "Map", "Parallel")) or etype == "EvaluationFailed"


def _times(events: list[dict]) -> list[datetime]:
    """Each event's timestamp; one that is missing or unreadable repeats the previous one."""
    times: list[datetime] = []
    for event in events:
        t = _timestamp(event.get("timestamp"))
        if t is None:
            t = times[-1] if times else datetime.now(UTC)
        times.append(t)
    return times


def _timestamp(value: Any) -> datetime | None:
    """A datetime, an ISO 8601 string ("...+00:00", "...Z", " " or "T") or epoch seconds, as aware UTC."""
    if isinstance(value, datetime):
        return _aware(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str):
        try:
            return _aware(datetime.fromisoformat(value.strip()))
        except ValueError:
            return None
    return None


def _aware(t: datetime) -> datetime:
    """Naive datetimes are taken to be UTC."""
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t


def _state_name(event: dict) -> str:
    for key in ("stateEnteredEventDetails", "stateExitedEventDetails"):
        details = event.get(key)
        if isinstance(details, dict) and details.get("name"):
            return str(details["name"])
    return "?"


def _error_text(error: Any, cause: Any) -> str:
    """Error and message ("TransientError: asset host down"): a JSON cause's errorMessage, or the cause."""
    error = " ".join(str(error or "").split())
    message = str(cause or "")
    try:
        parsed = json.loads(message)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and parsed.get("errorMessage") is not None:
        message = str(parsed["errorMessage"])
    message = _cut(" ".join(message.split()), MESSAGE_CHARS)
    if error and message:
        return f"{error}: {message}"
    return error or message or "unknown error"


def _cut(text: str, limit: int) -> str:
    """``text`` at most ``limit`` characters long, ending in "…" when shortened."""
    if len(text) <= limit:
        return text
    if limit <= 0:
        return ""
    return text[: limit - 1] + "…"


def _format_offset(seconds: float) -> str:
    """Offset since the start: +0.133s, +1m02.5s past a minute, +1h02m05s past an hour."""
    sign = "-" if seconds < 0 else "+"
    seconds = abs(seconds)
    millis = round(seconds * 1000)
    if millis < 60_000:
        return f"{sign}{millis / 1000:.3f}s"
    tenths = round(seconds * 10)
    if tenths < 36_000:
        minutes, tenths = divmod(tenths, 600)
        return f"{sign}{minutes}m{tenths // 10:02d}.{tenths % 10}s"
    hours, rest = divmod(round(seconds), 3600)
    return f"{sign}{hours}h{rest // 60:02d}m{rest % 60:02d}s"


def format_duration(seconds: float) -> str:
    """A length of time: 12 ms, 1.27 s, 2m05s, 1h02m."""
    seconds = max(0.0, seconds)
    millis = round(seconds * 1000)
    if millis < 1000:
        return f"{millis} ms"
    hundredths = round(seconds * 100)
    if hundredths < 6000:
        return f"{hundredths / 100:.2f} s"
    whole = round(seconds)
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    minutes = round(seconds / 60)
    return f"{minutes // 60}h{minutes % 60:02d}m"
