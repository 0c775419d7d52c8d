"""One log line per Lambda invocation and per state machine execution.

The application may name the keys that identify its work (``LocalRuntime(correlation_keys=...)``):
the first one found in the event, the execution input or the result is added to the line as
``key=value``, so a person can follow one piece of work through the stack.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

logger = logging.getLogger("sam_emulator")

_SEARCH_DEPTH = 4


class RunLog:
    """Writes the invocation and execution lines, each with its correlation key when found."""

    def __init__(self, correlation_keys: Sequence[str] = ()):
        self.correlation_keys = tuple(correlation_keys)

    def find(self, event: Any, depth: int = _SEARCH_DEPTH) -> tuple[str, str] | None:
        """The first correlation key and value in an event: top level, path parameters, a JSON
        body, a batch."""
        if depth < 0 or not self.correlation_keys:
            return None
        if isinstance(event, str) and event[:1] in "{[":
            try:
                return self.find(json.loads(event), depth - 1)
            except ValueError:
                return None
        if isinstance(event, dict):
            for key in self.correlation_keys:
                if isinstance(event.get(key), str | int):
                    return key, str(event[key])
            for value in event.values():
                found = self.find(value, depth - 1)
                if found:
                    return found
        if isinstance(event, list):
            for item in event[:10]:
                found = self.find(item, depth - 1)
                if found:
                    return found
        return None

    def _suffix(self, *sources: Any) -> str:
        for source in sources:
            found = self.find(source)
            if found:
                return f" {found[0]}={found[1]}"
        return ""

    def invocation(
        self, logical_id: str, event: Any, *, error_type: str | None, duration_ms: float, payload: bytes, source: str
    ) -> None:
        outcome = f"error {error_type}" if error_type else "ok"
        logger.info(
            "lambda %s %s %.0fms via %s%s",
            logical_id,
            outcome,
            duration_ms,
            source,
            self._suffix(event, payload.decode(errors="replace")),
        )

    def execution_started(self, state_machine: str, execution_name: str, execution_input: Any) -> None:
        logger.info("execution %s/%s started%s", state_machine, execution_name, self._suffix(execution_input))

    def execution_redriven(
        self, state_machine: str, execution_name: str, redrive_count: int, execution_input: Any
    ) -> None:
        logger.info(
            "execution %s/%s redriven (redrive %d)%s",
            state_machine,
            execution_name,
            redrive_count,
            self._suffix(execution_input),
        )

    def execution_finished(
        self,
        state_machine: str,
        execution_name: str,
        status: str,
        seconds: float,
        execution_input: Any,
        error: str | None,
    ) -> None:
        detail = f" error={error}" if error else ""
        logger.info(
            "execution %s/%s %s in %.1fs%s%s",
            state_machine,
            execution_name,
            status,
            seconds,
            detail,
            self._suffix(execution_input),
        )
