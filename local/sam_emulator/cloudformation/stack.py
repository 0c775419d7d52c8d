"""The local stack as CloudFormation describes a stack.

``LocalRuntime`` does not deploy through CloudFormation: it creates each resource itself. So that
``aws cloudformation describe-stacks`` and tools that read a stack's outputs work locally, the
runtime keeps one :class:`LocalStack` (name, id, parameters, resolved outputs, and one resource
summary per resource it created or stands in for) and :mod:`sam_emulator.cloudformation.patches`
answers DescribeStacks, ListStackResources, DescribeStackResource and DescribeStackResources for
it, leaving every other stack to moto.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

#: A REST API's invoke URL: https://<api id>.execute-api.<region>.<url suffix>/<stage>
_INVOKE_URL = re.compile(r"https://(?P<api>[A-Za-z0-9]+)\.execute-api\.[A-Za-z0-9.-]+/(?P<stage>[^/\s]+)/?")


def localize_api_urls(value: str, api_ids: Iterable[str], local_url: str | None) -> str:
    """Invoke URLs of the template's APIs become the local API's URL (routes are served without
    the stage prefix locally, as ``sam local start-api`` does); a trailing slash is kept."""
    if not local_url:
        return value
    known = set(api_ids)

    def local(match: re.Match[str]) -> str:
        if match.group("api") not in known:
            return match.group(0)
        return local_url.rstrip("/") + ("/" if match.group(0).endswith("/") else "")

    return _INVOKE_URL.sub(local, value)


@dataclass(frozen=True)
class StackOutput:
    key: str
    value: str
    description: str | None = None
    export_name: str | None = None

    def describe(self) -> dict[str, Any]:
        output = {"OutputKey": self.key, "OutputValue": self.value}
        if self.description:
            output["Description"] = self.description
        if self.export_name:
            output["ExportName"] = self.export_name
        return output


@dataclass(frozen=True)
class StackResource:
    logical_id: str
    physical_id: str
    resource_type: str


@dataclass
class LocalStack:
    name: str
    region: str
    account_id: str
    parameters: dict[str, str] = field(default_factory=dict)
    outputs: list[StackOutput] = field(default_factory=list)
    resources: list[StackResource] = field(default_factory=list)
    description: str | None = None
    created: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    stack_id: str = ""

    def __post_init__(self) -> None:
        if not self.stack_id:
            self.stack_id = f"arn:aws:cloudformation:{self.region}:{self.account_id}:stack/{self.name}/{uuid.uuid4()}"

    def matches(self, name_or_id: str | None) -> bool:
        return name_or_id in (self.name, self.stack_id)

    def resource(self, logical_id: str) -> StackResource | None:
        return next((r for r in self.resources if r.logical_id == logical_id), None)

    # --- API shapes (as CloudFormation answers) ------------------------------------------------

    def describe(self) -> dict[str, Any]:
        stack: dict[str, Any] = {
            "StackId": self.stack_id,
            "StackName": self.name,
            "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in self.parameters.items()],
            "CreationTime": self.created,
            "StackStatus": "CREATE_COMPLETE",
            "DisableRollback": False,
            "NotificationARNs": [],
            "Capabilities": ["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"],
            "Outputs": [output.describe() for output in self.outputs],
            "Tags": [],
            "EnableTerminationProtection": False,
            "DriftInformation": {"StackDriftStatus": "NOT_CHECKED"},
        }
        if self.description:
            stack["Description"] = self.description
        return stack

    def resource_summary(self, resource: StackResource) -> dict[str, Any]:
        return {
            "LogicalResourceId": resource.logical_id,
            "PhysicalResourceId": resource.physical_id,
            "ResourceType": resource.resource_type,
            "LastUpdatedTimestamp": self.created,
            "ResourceStatus": "CREATE_COMPLETE",
            "DriftInformation": {"StackResourceDriftStatus": "NOT_CHECKED"},
        }

    def resource_detail(self, resource: StackResource) -> dict[str, Any]:
        detail = self.resource_summary(resource)
        detail.update({"StackName": self.name, "StackId": self.stack_id, "Metadata": "{}"})
        return detail

    def resource_description(self, resource: StackResource) -> dict[str, Any]:
        description = self.resource_summary(resource)
        description.pop("LastUpdatedTimestamp")
        description.update({"StackName": self.name, "StackId": self.stack_id, "Timestamp": self.created})
        return description
