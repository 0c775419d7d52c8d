"""moto's DynamoDB answers, made cheaper to write; a named :class:`~sam_emulator.moto_patch.Patch`.

``attribute-values-as-is``
    moto serializes every response through botocore's shape model, member by member. An item's
    ``AttributeValue`` maps (``Item``, ``Attributes``, ``Items``, stream images) are already in
    DynamoDB's JSON form, yet each nested value is looked up under every member name of the
    shape: a job record with its spec and history took tens of milliseconds per answer, most of
    the endpoint's time under load. A value made only of ``S``, ``N``, ``SS``, ``NS``, ``BOOL``,
    ``NULL``, ``M`` and ``L`` is copied as it is, which is what the shape walk produces for it;
    anything else (binary values, a value that is not a plain mapping) goes the original way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sam_emulator.moto_patch import Patch

#: Services whose ``AttributeValue`` shape is DynamoDB's.
_SERVICES = frozenset({"dynamodb", "dynamodbstreams"})
_STRING_TYPES = frozenset({"S", "N"})
_SET_TYPES = frozenset({"SS", "NS"})
_FLAG_TYPES = frozenset({"BOOL", "NULL"})


class _NotPlain(Exception):
    """The value holds something the copy does not handle (binary, or not a plain mapping)."""


def plain_attribute_value(value: Any) -> dict[str, Any]:
    """``value`` as moto's serializer would write it, for the types it copies as they are."""
    if type(value) is not dict:
        raise _NotPlain
    written: dict[str, Any] = {}
    for kind, member in value.items():
        if member is None:
            continue  # the shape walk leaves out a member without a value
        if kind in _STRING_TYPES and type(member) is str:
            written[kind] = member
        elif kind in _SET_TYPES and type(member) is list and all(type(v) is str for v in member):
            written[kind] = list(member)
        elif kind in _FLAG_TYPES and type(member) is bool:
            written[kind] = member
        elif kind == "M" and type(member) is dict:
            written[kind] = {name: plain_attribute_value(nested) for name, nested in member.items()}
        elif kind == "L" and type(member) is list:
            written[kind] = [plain_attribute_value(nested) for nested in member]
        else:
            raise _NotPlain
    return written


def _json_serializer() -> Any:
    from moto.core.serialize import BaseJSONSerializer

    return BaseJSONSerializer


def _build_serialize_structure(original: Callable[..., Any]) -> Callable[..., Any]:
    def serialize_structure(serializer: Any, serialized: Any, value: Any, shape: Any, key: str) -> None:
        if (
            key
            and shape.name == "AttributeValue"
            and serializer.operation_model.service_model.service_name in _SERVICES
        ):
            try:
                written = plain_attribute_value(value)
            except _NotPlain:
                pass
            else:
                serializer._default_serialize(serialized, written, shape, key)
                return
        original(serializer, serialized, value, shape, key)

    return serialize_structure


def dynamodb_patches() -> list[Patch]:
    return [
        Patch(
            "attribute-values-as-is",
            _json_serializer,
            "_serialize_type_structure",
            ("self", "serialized", "value", "shape", "key"),
            _build_serialize_structure,
        )
    ]
