"""The ExtraOutputBuckets template parameter: a destination in one of them is delivered to."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from e2e.conftest import Stack, started_stack

from autovid_cli.targets import ApiError

DELIVERIES = f"client-deliveries-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    overrides = {"TtsProvider": "espeak-ng", "ExtraOutputBuckets": f"{DELIVERIES},archive-{DELIVERIES}"}
    with started_stack(tmp_path_factory.mktemp("bucket-media"), parameter_overrides=overrides) as started:
        started.runtime.client("s3").create_bucket(Bucket=DELIVERIES)
        yield started


def test_a_destination_in_a_listed_bucket_is_delivered_there(stack: Stack) -> None:
    spec = stack.spec()
    spec["output"]["destination"] = f"s3://{DELIVERIES}/client-a/2026/"
    job = stack.run(spec)

    assert job["status"] == "completed", job["error"]
    assert job["output"]["s3Uri"] == f"s3://{DELIVERIES}/client-a/2026/e2e.mp4"
    head = stack.runtime.client("s3").head_object(Bucket=DELIVERIES, Key="client-a/2026/e2e.mp4")
    assert head["ContentLength"] == job["output"]["size"] > 0
    listed = stack.runtime.client("s3").list_objects_v2(Bucket=stack.bucket, Prefix=f"outputs/{job['jobId']}/")
    assert listed.get("KeyCount", 0) == 0, "delivered to the listed bucket only"


def test_other_buckets_and_parent_segments_stay_refused(stack: Stack) -> None:
    for destination, reason in [
        ("s3://somebody-else/outputs/", "is outside"),
        (f"s3://{DELIVERIES}/client-a/../../", "'..' segment"),
    ]:
        spec = stack.spec()
        spec["output"]["destination"] = destination
        with pytest.raises(ApiError) as refused:
            stack.api.submit(spec)
        (detail,) = refused.value.body["details"]
        assert detail["field"] == "output.destination" and reason in detail["message"]
    message = refused_message(stack, "s3://somebody-else/x/")
    assert f"s3://{DELIVERIES}/" in message and f"s3://archive-{DELIVERIES}/" in message, "the message lists them"


def refused_message(stack: Stack, destination: str) -> str:
    spec = stack.spec()
    spec["output"]["destination"] = destination
    with pytest.raises(ApiError) as refused:
        stack.api.submit(spec)
    return refused.value.body["details"][0]["message"]
