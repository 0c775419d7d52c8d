"""The vocabulary of a Step Functions execution history, shared by the timeline and the graph."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

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
