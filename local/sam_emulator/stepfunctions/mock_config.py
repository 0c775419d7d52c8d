"""Mocked test cases in Step Functions Local's MockConfigFile format.

The file (``SFN_MOCK_CONFIG``, or ``LocalRuntime(sfn_mock_config=...)``) names test cases per
state machine and the mocked responses each case gives its states::

    {
      "StateMachines": {
        "<state machine name or template logical id>": {
          "TestCases": {"HappyPath": {"<StateName>": "<MockedResponseName>"}}
        }
      },
      "MockedResponses": {
        "<MockedResponseName>": {
          "0": {"Throw": {"Error": "TransientError", "Cause": "flaky"}},
          "1-2": {"Return": {"StatusCode": 200, "Payload": {"ok": true}}}
        }
      }
    }

StartExecution with ``<stateMachineArn>#<TestCaseName>`` runs that case: each attempt of a mocked
Task state (``"0"`` the first, ``"1-2"`` the second and third; consecutive, from 0) returns or
throws as told instead of calling its resource; the other states run for real. ``Return`` is the
task's result as the service answers it (for ``lambda:invoke``, ``{"StatusCode": ..., "Payload":
...}``). A state attempted more often than its responses cover fails with ``States.Runtime``.

moto's interpreter already knows how to play a mocked case; this module reads the file into its
test cases, and :mod:`sam_emulator.stepfunctions.patches` hands the case to the execution.
"""

from __future__ import annotations

import contextvars
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sam_emulator.errors import LocalRuntimeError

#: The test case of the StartExecution being handled on this thread, for the execution it creates.
pending_test_case: contextvars.ContextVar[Any] = contextvars.ContextVar("sam_emulator_mock_test_case", default=None)


class MockConfigError(LocalRuntimeError):
    """The mock config file is unreadable or not in the MockConfigFile format."""


class UnknownTestCaseError(Exception):
    """StartExecution named a test case the mock config does not have."""


class MockConfig:
    def __init__(self, document: Mapping[str, Any], source: str = "mock config", aliases: Mapping[str, str] = ()):
        self.source = source
        self._document = document
        #: State machine name -> the other key it may be listed under (its template logical id).
        self._aliases = dict(aliases)
        self._check()

    @classmethod
    def load(cls, path: str | Path, aliases: Mapping[str, str] = ()) -> MockConfig:
        try:
            document = json.loads(Path(path).read_text())
        except (OSError, ValueError) as error:
            raise MockConfigError(f"SFN mock config {path}: {error}") from None
        return cls(document, str(path), aliases)

    def test_case(self, state_machine_name: str, case_name: str) -> Any:
        """moto's MockTestCase for ``case_name`` of the machine (by name, or by its logical id)."""
        from moto.stepfunctions.parser.mocking.mock_config import MockTestCase, StateMockedResponses

        machines = self._document.get("StateMachines") or {}
        key = state_machine_name if state_machine_name in machines else self._aliases.get(state_machine_name)
        cases = (machines.get(key) or {}).get("TestCases") or {}
        if case_name not in cases:
            raise UnknownTestCaseError(
                f"Invalid mock test case name '{case_name}' for state machine '{state_machine_name}': "
                f"not in {self.source}"
            )
        states = [
            StateMockedResponses(state, response_name, self._responses(response_name))
            for state, response_name in cases[case_name].items()
        ]
        return MockTestCase(state_machine_name, case_name, states)

    def _responses(self, name: str) -> list[Any]:
        from moto.stepfunctions.parser.mocking.mock_config import MockedResponseReturn, MockedResponseThrow

        responses = []
        for attempts, response in (self._document["MockedResponses"][name]).items():
            first, _, last = attempts.partition("-")
            start, end = int(first), int(last or first)
            if "Return" in response:
                responses.append(MockedResponseReturn(start, end, response["Return"]))
            else:
                throw = response["Throw"]
                responses.append(MockedResponseThrow(start, end, throw["Error"], throw.get("Cause", "")))
        return responses

    def _check(self) -> None:
        """Every mistake in the file, found at start-up rather than at the first execution."""
        problems = []
        if not isinstance(self._document, dict):
            raise MockConfigError(f"{self.source}: not a JSON object")
        responses = self._document.get("MockedResponses") or {}
        for machine, body in (self._document.get("StateMachines") or {}).items():
            for case, states in ((body or {}).get("TestCases") or {}).items():
                for state, response_name in (states or {}).items():
                    if response_name not in responses:
                        problems.append(f"{machine}.{case}.{state}: no MockedResponses entry '{response_name}'")
        for name, attempts in responses.items():
            expected = 0
            for attempts_key, response in sorted((attempts or {}).items(), key=lambda item: _first(item[0])):
                try:
                    first, _, last = attempts_key.partition("-")
                    start, end = int(first), int(last or first)
                except ValueError:
                    problems.append(f"MockedResponses.{name}: '{attempts_key}' is not an attempt like '0' or '1-2'")
                    continue
                if start != expected or end < start:
                    problems.append(
                        f"MockedResponses.{name}: attempts must run on from {expected}, got '{attempts_key}'"
                    )
                expected = end + 1
                if not isinstance(response, dict) or ("Return" in response) == ("Throw" in response):
                    problems.append(f"MockedResponses.{name}.{attempts_key}: needs exactly one of Return and Throw")
                elif "Throw" in response and not (response["Throw"] or {}).get("Error"):
                    problems.append(f"MockedResponses.{name}.{attempts_key}: Throw needs an Error")
        if problems:
            raise MockConfigError(f"{self.source}: " + "; ".join(problems))


def _first(attempts_key: str) -> int:
    try:
        return int(attempts_key.partition("-")[0])
    except ValueError:
        return -1
