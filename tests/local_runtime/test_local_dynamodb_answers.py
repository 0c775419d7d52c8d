"""The ``attribute-values-as-is`` patch writes DynamoDB answers exactly as moto's shape walk does."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from moto.core.responses import XFormedAttributePicker, get_service_model
from moto.core.serialize import get_serializer_class

from sam_emulator.dynamodb.patches import dynamodb_patches, plain_attribute_value

RICH_ITEM: dict[str, Any] = {
    "jobId": {"S": "job-1"},
    "empty": {"S": ""},
    "count": {"N": "42"},
    "ratio": {"N": "-0.125"},
    "tags": {"SS": ["a", "b"]},
    "sizes": {"NS": ["1", "2.5"]},
    "done": {"BOOL": False},
    "gone": {"NULL": True},
    "spec": {
        "M": {
            "timeline": {"L": [{"M": {"at": {"N": "1.5"}, "text": {"S": "hi"}}}, {"L": []}, {"M": {}}]},
            "output": {"M": {"filename": {"S": "out.mp4"}, "flags": {"L": [{"BOOL": True}, {"NULL": True}]}}},
        }
    },
}
BINARY_ITEM: dict[str, Any] = {
    "jobId": {"S": "job-2"},
    "blob": {"B": base64.b64encode(b"\x00\x01").decode()},
    "nested": {"M": {"raw": {"B": b"\x02\x03"}, "set": {"BS": [b"\x04"]}}},
}


def answer(operation: str, result: dict[str, Any], service: str = "dynamodb") -> Any:
    model = get_service_model(service).operation_model(operation)
    serializer = get_serializer_class(service, "json")(operation_model=model, value_picker=XFormedAttributePicker())
    return json.loads(serializer.serialize(result)["body"])


def results() -> list[tuple[str, dict[str, Any]]]:
    return [
        ("GetItem", {"Item": RICH_ITEM}),
        ("UpdateItem", {"Attributes": RICH_ITEM}),
        ("Query", {"Items": [RICH_ITEM, RICH_ITEM], "Count": 2, "ScannedCount": 2}),
        ("GetItem", {"Item": BINARY_ITEM}),
        ("BatchGetItem", {"Responses": {"t": [RICH_ITEM, BINARY_ITEM]}, "UnprocessedKeys": {}}),
    ]


@pytest.mark.parametrize(("operation", "result"), results(), ids=lambda value: str(value)[:20])
def test_answer_is_the_same_with_the_patch(operation: str, result: dict[str, Any]) -> None:
    expected = answer(operation, result)
    patches = dynamodb_patches()
    for patch in patches:
        patch.apply()
    try:
        patched = answer(operation, result)
    finally:
        for patch in reversed(patches):
            patch.undo()
    assert patched == expected
    assert answer(operation, result) == expected  # undone: moto's own path again


def test_stream_records_are_the_same_with_the_patch() -> None:
    record = {
        "eventID": "1",
        "eventName": "MODIFY",
        "dynamodb": {"Keys": {"jobId": {"S": "job-1"}}, "NewImage": RICH_ITEM, "OldImage": RICH_ITEM},
    }
    result = {"Records": [record]}
    expected = answer("GetRecords", result, "dynamodbstreams")
    patches = dynamodb_patches()
    for patch in patches:
        patch.apply()
    try:
        assert answer("GetRecords", result, "dynamodbstreams") == expected
    finally:
        for patch in reversed(patches):
            patch.undo()
    assert expected["Records"][0]["dynamodb"]["NewImage"]["spec"]["M"]["output"]["M"]["filename"] == {"S": "out.mp4"}


def test_only_plain_values_are_copied() -> None:
    assert plain_attribute_value({"M": {"a": {"L": [{"S": "x"}]}}}) == {"M": {"a": {"L": [{"S": "x"}]}}}
    for value in ({"B": b"\x00"}, {"BS": [b"\x00"]}, {"N": 3}, {"M": {"a": "bare"}}, ["S"], {"X": "?"}):
        with pytest.raises(Exception) as raised:  # noqa: PT011 - the private type is checked by name
            plain_attribute_value(value)
        assert type(raised.value).__name__ == "_NotPlain"
