"""Changes to moto's CloudFormation, each a named :class:`~sam_emulator.moto_patch.Patch`.

Why not a stack in moto's own backend: moto's CreateStack provisions the template itself (and
knows no SAM transform), and its stack object builds its resources from the template when made.
The resources already exist here, made by the runtime; so the four read actions answer for the
local stack from :class:`~sam_emulator.cloudformation.stack.LocalStack` and pass any other stack
on to moto unchanged.

``local-stack-describe-stacks``
    DescribeStacks of the local stack by name or id; without a name, the local stack first, then
    moto's.
``local-stack-list-resources`` / ``local-stack-describe-resource`` / ``local-stack-describe-resources``
    ListStackResources (pages of 100, the token is the offset), DescribeStackResource and
    DescribeStackResources (all, or one ``LogicalResourceId``) for the local stack.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sam_emulator.cloudformation.stack import LocalStack
from sam_emulator.moto_patch import Patch

#: ListStackResources answers at most this many summaries per page, as CloudFormation does.
RESOURCES_PAGE_SIZE = 100


def _cloudformation_response() -> Any:
    from moto.cloudformation.responses import CloudFormationResponse

    return CloudFormationResponse


def _validation_error(message: str) -> Exception:
    from moto.cloudformation.exceptions import ValidationError

    return ValidationError(message=message)


def _for_moto(described: dict[str, Any]) -> dict[str, Any]:
    """moto's serializer turns a stack's ``Tags`` from a mapping into CloudFormation's list."""
    return {**described, "Tags": {tag["Key"]: tag["Value"] for tag in described["Tags"]}}


def stack_patches(stack: Callable[[], LocalStack | None]) -> list[Patch]:
    """The patches, answering for whatever ``stack()`` returns (None: no local stack yet)."""

    def describe_stacks(original: Callable[..., Any]) -> Callable[..., Any]:
        def replacement(response: Any) -> Any:
            from moto.core.responses import ActionResult

            local, name = stack(), response._get_param("StackName")
            if local is None or (name and not local.matches(name)):
                return original(response)
            if name:
                return ActionResult({"Stacks": [_for_moto(local.describe())]})
            others = original(response).result
            return ActionResult({**others, "Stacks": [_for_moto(local.describe()), *others["Stacks"]]})

        return replacement

    def list_resources(original: Callable[..., Any]) -> Callable[..., Any]:
        def replacement(response: Any) -> Any:
            from moto.core.responses import ActionResult

            local = stack()
            if local is None or not local.matches(response._get_param("StackName")):
                return original(response)
            token = response._get_param("NextToken")
            start = int(token) if token and token.isdigit() else 0
            page = local.resources[start : start + RESOURCES_PAGE_SIZE]
            result: dict[str, Any] = {"StackResourceSummaries": [local.resource_summary(r) for r in page]}
            if start + RESOURCES_PAGE_SIZE < len(local.resources):
                result["NextToken"] = str(start + RESOURCES_PAGE_SIZE)
            return ActionResult(result)

        return replacement

    def describe_resource(original: Callable[..., Any]) -> Callable[..., Any]:
        def replacement(response: Any) -> Any:
            from moto.core.responses import ActionResult

            local = stack()
            if local is None or not local.matches(response._get_param("StackName")):
                return original(response)
            logical_id = response._get_param("LogicalResourceId")
            resource = local.resource(logical_id)
            if resource is None:
                raise _validation_error(f"Resource {logical_id} does not exist for stack {local.name}")
            return ActionResult({"StackResourceDetail": local.resource_detail(resource)})

        return replacement

    def describe_resources(original: Callable[..., Any]) -> Callable[..., Any]:
        def replacement(response: Any) -> Any:
            from moto.core.responses import ActionResult

            local = stack()
            if local is None or not local.matches(response._get_param("StackName")):
                return original(response)
            logical_id = response._get_param("LogicalResourceId")
            resources = [r for r in local.resources if logical_id in (None, r.logical_id)]
            return ActionResult({"StackResources": [local.resource_description(r) for r in resources]})

        return replacement

    owner = _cloudformation_response
    return [
        Patch("local-stack-describe-stacks", owner, "describe_stacks", ("self",), describe_stacks),
        Patch("local-stack-list-resources", owner, "list_stack_resources", ("self",), list_resources),
        Patch("local-stack-describe-resource", owner, "describe_stack_resource", ("self",), describe_resource),
        Patch("local-stack-describe-resources", owner, "describe_stack_resources", ("self",), describe_resources),
    ]
