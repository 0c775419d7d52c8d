"""One log line per Lambda invocation and per state machine execution, with the job id."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from autovid_local.functions import InvocationResult

logger = logging.getLogger("autovid.local")

_JOB_ID_KEYS = ("jobId", "job_id")
_SEARCH_DEPTH = 4


def find_job_id(event: Any, depth: int = _SEARCH_DEPTH) -> str | None:
    """The first ``jobId`` found in an event: top level, path parameters, a JSON body, a batch."""
    if depth < 0:
        return None
    if isinstance(event, str) and event[:1] in "{[":
        try:
            return find_job_id(json.loads(event), depth - 1)
        except ValueError:
            return None
    if isinstance(event, dict):
        for key in _JOB_ID_KEYS:
            if isinstance(event.get(key), str | int):
                return str(event[key])
        for value in event.values():
            found = find_job_id(value, depth - 1)
            if found:
                return found
    if isinstance(event, list):
        for item in event[:10]:
            found = find_job_id(item, depth - 1)
            if found:
                return found
    return None


def _job_suffix(*sources: Any) -> str:
    for source in sources:
        job_id = find_job_id(source)
        if job_id:
            return f" job={job_id}"
    return ""


def log_invocation(logical_id: str, event: Any, result: InvocationResult, *, source: str) -> None:
    outcome = f"error {result.error_type}" if result.is_function_error else "ok"
    logger.info(
        "lambda %s %s %.0fms via %s%s",
        logical_id,
        outcome,
        result.duration_ms,
        source,
        _job_suffix(event, result.payload.decode(errors="replace")),
    )


def log_execution_started(state_machine: str, execution_name: str, execution_input: Any) -> None:
    logger.info("execution %s/%s started%s", state_machine, execution_name, _job_suffix(execution_input))


def log_execution_redriven(state_machine: str, execution_name: str, redrive_count: int, execution_input: Any) -> None:
    logger.info(
        "execution %s/%s redriven (redrive %d)%s",
        state_machine,
        execution_name,
        redrive_count,
        _job_suffix(execution_input),
    )


def log_execution_finished(
    state_machine: str, execution_name: str, status: str, seconds: float, execution_input: Any, error: str | None
) -> None:
    detail = f" error={error}" if error else ""
    logger.info(
        "execution %s/%s %s in %.1fs%s%s",
        state_machine,
        execution_name,
        status,
        seconds,
        detail,
        _job_suffix(execution_input),
    )
