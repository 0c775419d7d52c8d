"""Hostile job specs that only the validate step can refuse, over the whole local workflow: each
job ends `failed` at ValidateJob with an error naming the asset or field, and no request goes to
the target (the private address, the other bucket).

The attacks refused at submit are in tests/api/test_attack_inputs.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from e2e.conftest import Stack

from autovid_cli.targets import ApiError

ATTACK_HOST = "media.attacker.test"
PRIVATE_ADDRESS = "10.0.0.1"


def history_of(job: dict) -> list[str]:
    return [entry["status"] for entry in job["statusHistory"]]


def assert_failed_at_validate(stack: Stack, job: dict, error_type: str) -> str:
    """The job failed at ValidateJob, nothing was rendered or written; returns the message."""
    assert job["status"] == "failed", job
    assert history_of(job) == ["submitted", "processing", "failed"]
    error = job["error"]
    assert (error["type"], error["state"]) == (error_type, "ValidateJob"), error
    listing = stack.runtime.client("s3").list_objects_v2(Bucket=stack.bucket, Prefix=f"outputs/{job['jobId']}/")
    assert listing.get("KeyCount", 0) == 0
    return error["message"]


@pytest.fixture
def connections(stack: Stack) -> Iterator[Callable[[], list[Any]]]:
    """Every socket address the Lambda workers connect to. The attack address is refused there
    too, so even a regression sends nothing to it."""
    with stack.doubles.on("connect", refuse=PRIVATE_ADDRESS):
        yield lambda: stack.doubles.calls("connect")


@pytest.fixture
def s3_reads(stack: Stack) -> Iterator[Callable[[], list[str]]]:
    """s3://bucket/key of every asset download the steps make."""
    with stack.doubles.on("downloads"):
        yield lambda: stack.doubles.calls("downloads")


def test_a_name_resolving_to_a_private_address_is_never_contacted(
    stack: Stack, connections: Callable[[], list[Any]]
) -> None:
    """The name passes submit (it needs DNS); the fetch resolves it, refuses the private address
    and connects to nothing."""
    spec = stack.spec()
    spec["assets"]["audio"][1]["source"] = f"https://{ATTACK_HOST}/beep.wav"
    with stack.doubles.on("resolver", host=ATTACK_HOST, address=PRIVATE_ADDRESS):  # the seam netguard documents
        job = stack.run(spec)
        lookups = stack.doubles.calls("resolver")

    message = assert_failed_at_validate(stack, job, "ForbiddenSourceError")
    assert message == (
        f"asset 'beep' (assets.audio[1].source): refusing to connect to {ATTACK_HOST} ({PRIVATE_ADDRESS}): "
        "the address is private"
    )
    assert ATTACK_HOST in lookups, "the fetch got as far as resolving the name"
    contacted = {address[0] for address in connections() if isinstance(address, list)}
    assert contacted, "the recorder sees the workers' connections (the local AWS)"
    assert PRIVATE_ADDRESS not in contacted


@pytest.mark.parametrize("place", ["another bucket", "outputs/ of the managed bucket"])
def test_an_s3_source_outside_the_readable_prefixes_is_never_read(
    stack: Stack, s3_reads: Callable[[], list[str]], place: str
) -> None:
    """Checked before any download, so not even the allowed assets are fetched; the object
    exists and the local S3 (no IAM) would serve it."""
    s3 = stack.runtime.client("s3")
    if place == "another bucket":
        bucket, key = f"other-bucket-{uuid.uuid4().hex[:12]}", "assets/e2e/beep.wav"
        s3.create_bucket(Bucket=bucket)
    else:
        bucket, key = stack.bucket, f"outputs/{uuid.uuid4()}/someone-elses.wav"
    s3.upload_file(str(stack.files["beep"]), bucket, key)
    spec = stack.spec()
    spec["assets"]["audio"][1]["source"] = f"s3://{bucket}/{key}"
    job = stack.run(spec)

    message = assert_failed_at_validate(stack, job, "ForbiddenSourceError")
    assert message == (
        f"asset 'beep' (assets.audio[1].source): s3://{bucket}/{key} is outside s3://{stack.bucket}/assets/ "
        f"or s3://{stack.bucket}/inputs/, the only places this deployment reads s3:// sources from"
    )
    assert s3_reads() == [], "no download at all, least of all from the other place"


def test_an_output_destination_in_another_bucket_is_refused_at_submit(
    stack: Stack, s3_reads: Callable[[], list[str]]
) -> None:
    other = f"other-bucket-{uuid.uuid4().hex[:12]}"
    stack.runtime.client("s3").create_bucket(Bucket=other)
    spec = stack.spec()
    spec["output"]["destination"] = f"s3://{other}/outputs/"
    with pytest.raises(ApiError) as refused:
        stack.api.submit(spec)

    assert refused.value.status == 400
    assert refused.value.body["details"] == [
        {
            "field": "output.destination",
            "message": f"s3://{other}/outputs/ is outside s3://{stack.bucket}/outputs/, "
            "the only place this deployment may write to",
        }
    ]
    assert s3_reads() == []
    assert stack.runtime.client("s3").list_objects_v2(Bucket=other).get("KeyCount", 0) == 0


def test_an_event_starting_after_the_video_ends_fails_validation(stack: Stack) -> None:
    spec = stack.spec()
    spec["timeline"][1]["start"] = 10.0  # the clip is 4 s long
    job = stack.run(spec)

    message = assert_failed_at_validate(stack, job, "InvalidSpecError")
    assert message == ("invalid job spec: timeline[1].start: starts at 10s, at or after the end of the video (4.000s)")


def test_a_file_that_is_not_media_renamed_mp4_fails_validation(stack: Stack) -> None:
    key = f"assets/e2e/not-media-{uuid.uuid4().hex[:12]}.mp4"
    stack.runtime.client("s3").put_object(
        Bucket=stack.bucket, Key=key, Body=b"#!/bin/sh\necho 'this is not a video'\n" * 200
    )
    spec = stack.spec()
    spec["assets"]["video"]["source"] = f"s3://{stack.bucket}/{key}"
    job = stack.run(spec)

    message = assert_failed_at_validate(stack, job, "InvalidAssetError")
    assert message == "asset 'clip' is not decodable audio or video"
