"""Step Functions API actions moto lacks, as methods of moto's response class.

Each ``build_*`` returns the method that :mod:`sam_emulator.stepfunctions.patches` adds to
``StepFunctionResponse`` (as the ``redrive-execution`` patch adds RedriveExecution): moto's
server turns the ``X-Amz-Target`` action name into the method name, so adding the method adds
the action.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from sam_emulator.stepfunctions.test_state import TestStateRequestError, run_test_state
from sam_emulator.stepfunctions.validation import SEVERITIES, validate_definition


def build_validate_state_machine_definition(_original: None) -> Callable[[Any], Any]:
    def validate_state_machine_definition(response: Any) -> Any:
        from moto.core.responses import ActionResult

        severity = response._get_param("severity")
        if severity not in (None, *SEVERITIES):
            raise aws_error("ValidationException")(
                f"1 validation error detected: Value '{severity}' at 'severity' failed to satisfy constraint: "
                "Member must satisfy enum value set: [ERROR, WARNING]"
            )
        machine_type = response._get_param("type")
        if machine_type not in (None, "STANDARD", "EXPRESS"):
            raise aws_error("ValidationException")(
                f"1 validation error detected: Value '{machine_type}' at 'type' failed to satisfy constraint: "
                "Member must satisfy enum value set: [STANDARD, EXPRESS]"
            )
        answer = validate_definition(response._get_param("definition"), severity, response._get_int_param("maxResults"))
        return ActionResult(answer)

    return validate_state_machine_definition


def build_test_state(_original: None) -> Callable[[Any], Any]:
    def test_state(response: Any) -> Any:
        from moto.core.responses import ActionResult

        request = {
            name: response._get_param(name)
            for name in ("definition", "roleArn", "input", "inspectionLevel", "stateName", "mock", "stateConfiguration")
        }
        account, region = response.current_account, response.region
        try:
            answer = run_test_state(
                request,
                account_id=account,
                region=region,
                default_role_arn=f"arn:aws:iam::{account}:role/TestStateRole",
            )
        except TestStateRequestError as error:
            raise aws_error(error.code)(str(error)) from None
        return ActionResult(answer)

    return test_state


@functools.cache
@functools.cache
def aws_error(code: str) -> type[Exception]:
    """AWS's error ``code`` (HTTP 400), as moto serializes errors (built on first use)."""
    from moto.core.exceptions import AWSError

    return type(code, (AWSError,), {"TYPE": code, "STATUS": 400})
