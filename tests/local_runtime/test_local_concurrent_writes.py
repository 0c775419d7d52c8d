"""The endpoint under concurrent writes: every request answers, none with a 5xx from a race."""

from __future__ import annotations

import threading

import boto3
from botocore.config import Config

THREADS = 8
OPERATIONS = 50


def test_concurrent_puts_updates_and_scans_of_one_table_all_succeed(runtime):
    table = runtime.ref("JobsTable")
    errors: list[BaseException] = []
    start = threading.Barrier(THREADS)

    def work(worker: int) -> None:
        # No client retries: a 5xx from a race would be hidden by them.
        client = boto3.session.Session(
            aws_access_key_id="local", aws_secret_access_key="local", region_name=runtime.pseudo.region
        ).client("dynamodb", endpoint_url=runtime.aws_endpoint_url, config=Config(retries={"max_attempts": 1}))
        start.wait()
        try:
            for index in range(OPERATIONS):
                if worker % 2:
                    client.put_item(TableName=table, Item={"jobId": {"S": f"race-{worker}-{index}"}})
                    client.update_item(
                        TableName=table, Key={"jobId": {"S": "race-counter"}}, UpdateExpression="ADD n :one",
                        ExpressionAttributeValues={":one": {"N": "1"}},
                    )  # fmt: skip
                else:
                    client.scan(TableName=table, Limit=1000)
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(worker,)) for worker in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    counter = runtime.client("dynamodb").get_item(TableName=table, Key={"jobId": {"S": "race-counter"}})
    assert counter["Item"]["n"] == {"N": str(THREADS // 2 * OPERATIONS)}
