"""The jobs table (DynamoDB): the only module that reads or writes job records.

Types are converted with boto3's TypeSerializer/TypeDeserializer. Floats go to DynamoDB as
Decimal (via ``json`` with ``parse_float=Decimal``); numbers come back as int or float.
"""

from __future__ import annotations

import json
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
