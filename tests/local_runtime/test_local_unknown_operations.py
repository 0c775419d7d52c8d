"""Operations the endpoint does not implement answer at once with AWS's 4xx error shape."""

from __future__ import annotations

from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from sam_emulator.unknown_operations import unimplemented_operations

README = Path(__file__).parents[2] / "local" / "README.md"


def refused(call, **request) -> dict:
    with pytest.raises(ClientError) as raised:
        call(**request)
    return raised.value.response


@pytest.mark.parametrize(
    ("service", "operation", "request_fields", "code"),
    [
        (
            "stepfunctions",
            "publish_state_machine_version",
            {"stateMachineArn": "PipeTarget"},
            "UnknownOperationException",
        ),
        ("cloudwatch", "describe_alarm_history", {}, "UnknownOperationException"),
        ("sns", "get_sms_sandbox_account_status", {}, "InvalidAction"),
    ],
)
def test_an_unknown_operation_is_a_4xx_in_the_services_protocol_and_not_retried(
    runtime, service, operation, request_fields, code
):
    client = runtime.client(service)
    fields = {key: runtime.ref(value) if key.endswith("Arn") else value for key, value in request_fields.items()}
    response = refused(getattr(client, operation), **fields)
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert response["ResponseMetadata"]["RetryAttempts"] == 0
    assert response["Error"]["Code"] == code
    assert "does not emulate" in response["Error"]["Message"]


def test_a_rest_path_no_route_serves_is_a_404_and_not_retried(runtime):
    response = refused(runtime.client("lambda").get_account_settings)
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert response["ResponseMetadata"]["RetryAttempts"] == 0


def test_list_state_machine_versions_and_start_sync_execution(runtime):
    sfn = runtime.client("stepfunctions")
    assert sfn.list_state_machine_versions(stateMachineArn=runtime.ref("PipeTarget"))["stateMachineVersions"] == []
    with pytest.raises(sfn.exceptions.StateMachineDoesNotExist):
        sfn.list_state_machine_versions(stateMachineArn=runtime.ref("PipeTarget") + "-missing")
    response = refused(sfn.start_sync_execution, stateMachineArn=runtime.ref("PipeTarget"), input="{}")
    assert response["Error"]["Code"] == "StateMachineTypeNotSupported"
    assert response["ResponseMetadata"]["RetryAttempts"] == 0


@pytest.mark.parametrize("service", ["stepfunctions", "sqs"])
def test_the_readme_lists_what_is_not_emulated(service):
    from sam_emulator.stepfunctions.patches import all_patches

    added = {patch.attribute for patch in all_patches() if patch.adds}
    from moto.core.utils import camelcase_to_underscores

    missing = [name for name in unimplemented_operations(service) if camelcase_to_underscores(name) not in added]
    line = next(line for line in README.read_text().splitlines() if line.startswith(f"* **{service}**"))
    listed = sorted(name.strip("` ,.") for name in line.split(":", 1)[1].split(",") if name.strip("` ,."))
    assert listed == (missing or ["none"]), f"local/README.md's list for {service} is out of date: {missing}"
