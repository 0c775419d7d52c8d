"""CloudFormation intrinsic functions, resolved against the local stack.

Supported: ``Ref``, ``Fn::GetAtt``, ``Fn::Sub`` (both forms), ``Fn::Join``, ``Fn::Select``,
``Fn::Split``, ``Fn::If``, ``Fn::Equals``, ``Fn::Not``, ``Fn::And``, ``Fn::Or``,
``Fn::FindInMap``, ``Fn::GetAZs``, ``Condition`` and the pseudo parameters. ``AWS::NoValue``
removes the key or list item that holds it, as on CloudFormation.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sam_emulator.errors import TemplateError, UnresolvableReferenceError, UnsupportedIntrinsicError

NO_VALUE = "AWS::NoValue"
SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")


class _Removed:
    """Marker for a value that resolved to ``AWS::NoValue``."""


REMOVED = _Removed()


@dataclass(frozen=True)
class Identity:
    """What ``Ref`` and ``Fn::GetAtt`` return for one resource of the local stack."""

    ref: Any
    attributes: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PseudoParameters:
    region: str = "us-east-1"
    account_id: str = "123456789012"
    stack_name: str = "sam-app"
    partition: str = "aws"
    url_suffix: str = "amazonaws.com"

    @property
    def stack_id(self) -> str:
        return (
            f"arn:{self.partition}:cloudformation:{self.region}:{self.account_id}:"
            f"stack/{self.stack_name}/00000000-0000-0000-0000-000000000000"
        )

    def as_refs(self) -> dict[str, Any]:
        return {
            "AWS::Region": self.region,
            "AWS::AccountId": self.account_id,
            "AWS::StackName": self.stack_name,
            "AWS::StackId": self.stack_id,
            "AWS::Partition": self.partition,
            "AWS::URLSuffix": self.url_suffix,
            "AWS::NotificationARNs": [],
        }


class Resolver:
    """Resolves intrinsic functions in a template fragment.

    ``identify`` maps a resource's logical id to its :class:`Identity`; it raises
    :class:`UnresolvableReferenceError` for names the template does not declare.
    """

    def __init__(
        self,
        *,
        parameters: Mapping[str, Any],
        pseudo: PseudoParameters,
        conditions: Mapping[str, bool] | None = None,
        mappings: Mapping[str, Any] | None = None,
        identify: Callable[[str], Identity] | None = None,
    ):
        self._refs = {**pseudo.as_refs(), **parameters}
        self._pseudo = pseudo
        self._conditions = conditions or {}
        self._mappings = mappings or {}
        self._identify = identify

    # --- public -------------------------------------------------------------------

    def resolve(self, value: Any) -> Any:
        """Resolve every intrinsic in ``value``; ``AWS::NoValue`` entries are dropped."""
        resolved = self._resolve(value)
        return None if resolved is REMOVED else resolved

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            raise UnresolvableReferenceError(f"condition '{name}' is not declared")
        return self._conditions[name]

    def evaluate_condition(self, expression: Any) -> bool:
        """Evaluate a condition expression (used while building the condition table)."""
        result = self._resolve(expression)
        if not isinstance(result, bool):
            raise TemplateError(f"condition does not evaluate to a boolean: {expression!r}")
        return result

    # --- internals ----------------------------------------------------------------

    def _resolve(self, value: Any) -> Any:
        if isinstance(value, dict):
            if len(value) == 1:
                ((key, argument),) = value.items()
                if key == "Ref":
                    return self._ref(argument)
                if key.startswith("Fn::") or (key == "Condition" and isinstance(argument, str)):
                    return self._function(key, argument)
            resolved_dict = {}
            for key, item in value.items():
                resolved_item = self._resolve(item)
                if resolved_item is not REMOVED:
                    resolved_dict[key] = resolved_item
            return resolved_dict
        if isinstance(value, list):
            return [item for item in (self._resolve(v) for v in value) if item is not REMOVED]
        return value

    def _ref(self, name: Any) -> Any:
        name = self._resolve(name)
        if name == NO_VALUE:
            return REMOVED
        if name in self._refs:
            return self._refs[name]
        return self._resource(name).ref

    def _resource(self, logical_id: str) -> Identity:
        if self._identify is None:
            raise UnresolvableReferenceError(f"'{logical_id}' cannot be referenced here")
        return self._identify(logical_id)

    def _get_att(self, argument: Any) -> Any:
        if isinstance(argument, str):
            logical_id, _, attribute = argument.partition(".")
        else:
            logical_id, attribute = (self._resolve(part) for part in argument)
        identity = self._resource(logical_id)
        if attribute not in identity.attributes:
            raise UnresolvableReferenceError(f"!GetAtt {logical_id}.{attribute}: unknown attribute")
        return identity.attributes[attribute]

    def _sub(self, argument: Any) -> str:
        if isinstance(argument, list):
            text, variables = argument[0], self._resolve(argument[1])
        else:
            text, variables = argument, {}

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                value = variables[name]
            elif name in self._refs:
                value = self._refs[name]
            elif "." in name:
                value = self._get_att(name)
            else:
                value = self._resource(name).ref
            return value if isinstance(value, str) else str(value)

        return SUB_VARIABLE.sub(substitute, text)

    def _function(self, name: str, argument: Any) -> Any:  # noqa: C901 - a flat dispatch table
        if name == "Fn::GetAtt":
            return self._get_att(argument)
        if name == "Fn::Sub":
            return self._sub(argument)
        if name == "Fn::Join":
            delimiter, items = argument[0], self._resolve(argument[1])
            return delimiter.join(str(item) for item in items)
        if name == "Fn::Select":
            index, items = self._resolve(argument[0]), self._resolve(argument[1])
            return items[int(index)]
        if name == "Fn::Split":
            delimiter, text = argument[0], self._resolve(argument[1])
            return text.split(delimiter)
        if name == "Fn::If":
            condition_name, when_true, when_false = argument
            return self._resolve(when_true if self.condition(condition_name) else when_false)
        if name == "Fn::Equals":
            left, right = (self._resolve(item) for item in argument)
            return str(left) == str(right)
        if name == "Fn::Not":
            return not self._truth(argument[0])
        if name == "Fn::And":
            return all(self._truth(item) for item in argument)
        if name == "Fn::Or":
            return any(self._truth(item) for item in argument)
        if name == "Condition":
            return self.condition(argument)
        if name == "Fn::FindInMap":
            map_name, top_key, second_key = (self._resolve(item) for item in argument[:3])
            try:
                return self._mappings[map_name][top_key][second_key]
            except KeyError as missing:
                raise UnresolvableReferenceError(f"Fn::FindInMap {argument!r}: no {missing}") from None
        if name == "Fn::GetAZs":
            return [f"{self._pseudo.region}{zone}" for zone in "abc"]
        raise UnsupportedIntrinsicError(f"{name} is not supported by the local runtime")

    def _truth(self, expression: Any) -> bool:
        value = self._resolve(expression)
        if not isinstance(value, bool):
            raise TemplateError(f"condition expression is not boolean: {expression!r}")
        return value
