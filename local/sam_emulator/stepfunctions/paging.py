"""Paging and shaping of Step Functions list answers, as the API reference describes them.

GetExecutionHistory: ``reverseOrder``, ``maxResults`` (default 100, at most 1000) with an opaque
``nextToken``, ``includeExecutionData`` (false drops the events' input, output and task
parameters), and ``previousEventId`` as AWS numbers it. ListExecutions and
ListStateMachineVersions page the same way.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
from collections.abc import Sequence
from typing import Any, TypeVar

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
#: The members of an event's details that carry execution data.
EXECUTION_DATA_FIELDS = ("input", "inputDetails", "output", "outputDetails", "parameters")

T = TypeVar("T")


class PagingError(ValueError):
    """A bad ``maxResults`` (``ValidationException``) or ``nextToken`` (``InvalidToken``)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def page_size(max_results: int | None) -> int:
    if max_results is None or max_results == 0:
        return DEFAULT_PAGE_SIZE
    if not 0 <= max_results <= MAX_PAGE_SIZE:
        constraint = "less than or equal to 1000" if max_results > MAX_PAGE_SIZE else "greater than or equal to 0"
        raise PagingError(
            "ValidationException",
            f"1 validation error detected: Value '{max_results}' at 'maxResults' failed to satisfy constraint: "
            f"Member must have value {constraint}",
        )
    return max_results


def encode_token(offset: int, scope: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset, "scope": scope}).encode()).decode()


def decode_token(token: str | None, scope: str) -> int:
    """The offset a ``nextToken`` stands for; 0 without one. A token from another request is refused."""
    if not token:
        return 0
    try:
        fields = json.loads(base64.urlsafe_b64decode(token.encode()))
        offset = int(fields["offset"])
        if fields["scope"] != scope or offset < 0:
            raise ValueError(token)
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise PagingError("InvalidToken", f"Invalid Token: '{token}'") from None
    return offset


def page(
    items: Sequence[T], *, max_results: int | None, next_token: str | None, scope: str
) -> tuple[list[T], str | None]:
    """One page of ``items`` and the token of the next (None on the last page)."""
    size = page_size(max_results)
    offset = decode_token(next_token, scope)
    chunk = list(items[offset : offset + size])
    following = encode_token(offset + size, scope) if offset + size < len(items) else None
    return chunk, following


def aws_previous_event_ids(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """moto gives the event after ``ExecutionStarted`` (and its own ``ExecutionAborted``)
    ``previousEventId`` 0; on AWS only the first event has 0, every other one names an event
    before it: here the one just before."""
    for event in events:
        if event.get("previousEventId") == 0 and event.get("id", 0) > 1:
            event["previousEventId"] = event["id"] - 1
    return events


def without_execution_data(event: dict[str, Any]) -> dict[str, Any]:
    event = copy.deepcopy(event)
    for key, details in event.items():
        if key.endswith("EventDetails") and isinstance(details, dict):
            for field in EXECUTION_DATA_FIELDS:
                details.pop(field, None)
    return event


def execution_history_page(
    events: list[dict[str, Any]],
    *,
    execution_arn: str,
    reverse_order: bool = False,
    include_execution_data: bool = True,
    max_results: int | None = None,
    next_token: str | None = None,
) -> dict[str, Any]:
    """The GetExecutionHistory answer for ``events`` (in ascending id order)."""
    ordered = sorted(aws_previous_event_ids([dict(e) for e in events]), key=lambda e: e["id"], reverse=reverse_order)
    scope = f"history:{execution_arn}:{'reverse' if reverse_order else 'forward'}"
    chunk, following = page(ordered, max_results=max_results, next_token=next_token, scope=scope)
    if not include_execution_data:
        chunk = [without_execution_data(event) for event in chunk]
    answer: dict[str, Any] = {"events": chunk}
    if following:
        answer["nextToken"] = following
    return answer
