"""The jobs table (DynamoDB): the only module that reads or writes job records.

Types are converted with boto3's TypeSerializer/TypeDeserializer. Floats go to DynamoDB as
Decimal (via ``json`` with ``parse_float=Decimal``); numbers come back as int or float.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from autovid.aws.clients import client
from autovid.aws.errors import aws_call
from autovid.core.errors import JobAlreadyExistsError


class _PlainNumberDeserializer(TypeDeserializer):
    def _deserialize_n(self, value: str) -> int | float:
        number = Decimal(value)
        return int(number) if number == number.to_integral_value() else float(number)


_serializer = TypeSerializer()
_deserializer = _PlainNumberDeserializer()


def to_attribute_values(values: dict[str, Any]) -> dict[str, Any]:
    plain = json.loads(json.dumps(values), parse_float=Decimal)
    return {key: _serializer.serialize(value) for key, value in plain.items()}


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    return {key: _deserializer.deserialize(value) for key, value in item.items()}


class ConditionFailed(Exception):
    """The conditional write was refused; ``current`` is the record as it was, or None."""

    def __init__(self, current: dict[str, Any] | None):
        super().__init__("conditional check failed")
        self.current = current


class JobsTable:
    def __init__(self, table_name: str):
        self.table_name = table_name

    def create(self, record: dict[str, Any]) -> None:
        with aws_call("DynamoDB PutItem"):
            try:
                client("dynamodb").put_item(
                    TableName=self.table_name,
                    Item=to_attribute_values(record),
                    ConditionExpression="attribute_not_exists(jobId)",
                )
            except ClientError as exc:
                if _condition_failed(exc):
                    raise JobAlreadyExistsError(f"job {record['jobId']} already exists") from exc
                raise

    def active_ids(self, status: str, *, updated_before: str) -> list[str]:
        """Ids of the jobs in an active ``status`` (processing, retrying) whose last change is older
        than ``updated_before`` (ISO), from the sparse ``ActiveJobsIndex``."""
        ids: list[str] = []
        with aws_call("DynamoDB Query"):
            pages = (
                client("dynamodb")
                .get_paginator("query")
                .paginate(
                    TableName=self.table_name,
                    IndexName="ActiveJobsIndex",
                    KeyConditionExpression="#active = :status AND #updatedAt < :before",
                    ExpressionAttributeNames={"#active": "activeStatus", "#updatedAt": "updatedAt"},
                    ExpressionAttributeValues={":status": {"S": status}, ":before": {"S": updated_before}},
                )
            )
            for page in pages:
                ids += [item["jobId"]["S"] for item in page.get("Items", [])]
        return ids

    def query_newest_first(
        self,
        index_name: str,
        *,
        partition: tuple[str, str],
        sort_between: tuple[str, str],
        filter_expression: str | None = None,
        names: dict[str, str] | None = None,
        values: dict[str, Any] | None = None,
        page_size: int = 100,
    ) -> Iterator[dict[str, Any]]:
        """The items of one partition of ``index_name`` (``partition`` is its key attribute and
        value) whose sort key ``listKey`` lies in ``sort_between`` (inclusive), newest first, read
        a page at a time as the caller consumes them. A Query, never a Scan; ``filter_expression``
        only drops items of the pages read."""
        params: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": index_name,
            "KeyConditionExpression": "#pk = :pk AND #listKey BETWEEN :low AND :high",
            "ExpressionAttributeNames": {"#pk": partition[0], "#listKey": "listKey", **(names or {})},
            "ExpressionAttributeValues": to_attribute_values(
                {":pk": partition[1], ":low": sort_between[0], ":high": sort_between[1], **(values or {})}
            ),
            "ScanIndexForward": False,
            "Limit": page_size,
        }
        if filter_expression:
            params["FilterExpression"] = filter_expression
        while True:
            with aws_call("DynamoDB Query"):
                page = client("dynamodb").query(**params)
            for item in page.get("Items", []):
                yield from_item(item)
            if "LastEvaluatedKey" not in page:
                return
            params["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def delete(self, job_id: str, *, condition_expression: str, names: dict[str, str], values: dict[str, Any]) -> None:
        """A conditional DeleteItem; raises ConditionFailed (with the record as it is, or None)."""
        with aws_call("DynamoDB DeleteItem"):
            try:
                client("dynamodb").delete_item(
                    TableName=self.table_name,
                    Key={"jobId": {"S": job_id}},
                    ConditionExpression=condition_expression,
                    ExpressionAttributeNames=names,
                    ExpressionAttributeValues=to_attribute_values(values),
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
            except ClientError as exc:
                if _condition_failed(exc):
                    old = exc.response.get("Item")
                    raise ConditionFailed(from_item(old) if old else self.get(job_id)) from exc
                raise

    def get(self, job_id: str) -> dict[str, Any] | None:
        with aws_call("DynamoDB GetItem"):
            response = client("dynamodb").get_item(
                TableName=self.table_name, Key={"jobId": {"S": job_id}}, ConsistentRead=True
            )
        item = response.get("Item")
        return from_item(item) if item else None

    def update(
        self,
        job_id: str,
        *,
        update_expression: str,
        condition_expression: str,
        names: dict[str, str],
        values: dict[str, Any],
    ) -> dict[str, Any]:
        """A conditional UpdateItem. Returns the new record; raises ConditionFailed."""
        with aws_call("DynamoDB UpdateItem"):
            try:
                response = client("dynamodb").update_item(
                    TableName=self.table_name,
                    Key={"jobId": {"S": job_id}},
                    UpdateExpression=update_expression,
                    ConditionExpression=condition_expression,
                    ExpressionAttributeNames=names,
                    ExpressionAttributeValues=to_attribute_values(values),
                    ReturnValues="ALL_NEW",
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
            except ClientError as exc:
                if _condition_failed(exc):
                    old = exc.response.get("Item")
                    raise ConditionFailed(from_item(old) if old else self.get(job_id)) from exc
                raise
        return from_item(response["Attributes"])


def _condition_failed(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"
