"""ValidateStateMachineDefinition, with statelint as the engine.

AWS answers ``result`` (``OK`` / ``FAIL``), ``diagnostics`` (``severity``, ``code``, ``message``
and, when known, ``location`` as ``/States/<StateName>/<FieldName>``) and ``truncated``. A
definition with errors is not an API error: the problems come back as diagnostics. statelint
finds the problems; each of its messages becomes one diagnostic with AWS's code for that kind of
problem (``SCHEMA_VALIDATION_FAILED`` when AWS has no more specific one).
"""

from __future__ import annotations

import re
from typing import Any

#: ``maxResults`` when the request has none, as on AWS.
DEFAULT_MAX_RESULTS = 100
SEVERITIES = ("ERROR", "WARNING")

_PATH = re.compile(r"State Machine((?:\.[^\s\"]+)*)")


def validate_definition(definition: str | None, severity: str | None = None, max_results: int | None = None) -> dict:
    """The ValidateStateMachineDefinition answer for ``definition``."""
    from statelint.linter import Linter

    if not definition or not definition.strip():
        diagnostics = [_diagnostic("MISSING_DESCRIPTION", "Received a null or empty workflow definition.", None)]
    else:
        diagnostics = [_from_statelint(problem) for problem in Linter.validate(definition)]
    # Every diagnostic here is an ERROR; severity WARNING asks for warnings as well, ERROR for errors only.
    wanted = {"ERROR"} if (severity or "ERROR") == "ERROR" else {"ERROR", "WARNING"}
    diagnostics = [d for d in diagnostics if d["severity"] in wanted]
    limit = max_results or DEFAULT_MAX_RESULTS
    result = "FAIL" if any(d["severity"] == "ERROR" for d in diagnostics) else "OK"
    return {"result": result, "diagnostics": diagnostics[:limit], "truncated": len(diagnostics) > limit}


def _from_statelint(problem: str) -> dict[str, Any]:
    if problem.startswith("Problem reading/parsing"):
        return _diagnostic("INVALID_JSON_DESCRIPTION", problem.split(": ", 1)[-1], None)
    location = _location(problem)
    if problem.startswith("No terminal state found"):
        return _diagnostic("MISSING_END_STATE", "Workflow has no terminal state.", location)
    if problem.startswith("No state found named"):
        return _diagnostic("MISSING_TRANSITION_TARGET", f"Missing transition target: {problem}", location)
    if ".Resource is " in problem:
        return _diagnostic("INVALID_RESOURCE", problem, location)
    return _diagnostic("SCHEMA_VALIDATION_FAILED", problem, location)


def _location(problem: str) -> str | None:
    """``... at State Machine.States.A.Next`` -> ``/States/A/Next`` (the last path the message names)."""
    paths = _PATH.findall(problem)
    if not paths or not paths[-1]:
        return None
    parts = paths[-1].lstrip(".").split(".")
    if parts[0] != "States":  # statelint names an unreachable state "State Machine.<name>"
        parts = ["States", *parts]
    return "/" + "/".join(parts)


def _diagnostic(code: str, message: str, location: str | None) -> dict[str, Any]:
    diagnostic = {"severity": "ERROR", "code": code, "message": message}
    if location:
        diagnostic["location"] = location
    return diagnostic
