"""``s3://bucket/key`` URIs."""

from __future__ import annotations


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/some/key#1.mp4`` -> ("bucket", "some/key#1.mp4"): the key is taken literally,
    as the AWS CLI does (no URL decoding; ``#`` and ``?`` are part of it)."""
    bucket, _, key = uri[len("s3://") :].partition("/")
    return bucket, key


def s3_uri(bucket: str, key: str) -> str:
    return f"s3://{bucket}/{key}"
