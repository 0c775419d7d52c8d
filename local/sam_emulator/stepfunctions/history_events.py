"""The vocabulary of a Step Functions execution history: shared by the redrive engine and by
anything that reads histories (a timeline, a graph)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

#: How long after it stopped an execution may be redriven (RedriveExecution's rule).
REDRIVE_WINDOW = dt.timedelta(days=14)

#: States whose branches or iterations have states of their own.
CONTAINER_TYPES = frozenset({"Map", "Parallel"})
#: One attempt of a task: service integrations, direct Lambda ARNs and activities.
ATTEMPT_STARTS = frozenset({"TaskScheduled", "LambdaFunctionScheduled", "ActivityScheduled"})
ATTEMPT_SUCCESSES = frozenset({"TaskSucceeded", "LambdaFunctionSucceeded", "ActivitySucceeded"})
ATTEMPT_FAILURES = frozenset(
    {
        "TaskFailed",
        "TaskTimedOut",
        "TaskStartFailed",
        "TaskSubmitFailed",
        "LambdaFunctionFailed",
        "LambdaFunctionTimedOut",
        "LambdaFunctionStartFailed",
        "LambdaFunctionScheduleFailed",
        "ActivityFailed",
        "ActivityTimedOut",
        "ActivityScheduleFailed",
    }
)


def ordered(events: Iterable[Mapping[str, Any]]) -> list[Any]:
    """Events in ascending order: by id when every event has one (a history read with
    ``reverseOrder`` comes back in order), else as given."""
    events = list(events)
    if all(isinstance(event.get("id"), int) for event in events):
        return sorted(events, key=lambda event: event["id"])
    return events


def event_details(event: Mapping[str, Any]) -> Mapping[str, Any]:
    """An event's details: its one ``...EventDetails`` member (``taskFailedEventDetails`` for
    ``TaskFailed``, ``stateEnteredEventDetails`` for every ``...StateEntered``)."""
    for key, value in event.items():
        if key.endswith("EventDetails") and isinstance(value, Mapping):
            return value
    return {}


def seconds_between(start: dt.datetime, end: dt.datetime | None = None) -> float:
    """Seconds from ``start`` to ``end`` (to now when ``end`` is None: still running)."""
    return ((end or dt.datetime.now(start.tzinfo)) - start).total_seconds()
