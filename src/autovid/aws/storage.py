"""S3 writes for the workflow: work files, delivery by server-side copy, presigned URLs."""

from __future__ import annotations

from pathlib import Path

from boto3.s3.transfer import TransferConfig

from autovid.aws.clients import client
from autovid.aws.errors import aws_call

TRANSFER = TransferConfig(multipart_threshold=64 * 1024 * 1024, multipart_chunksize=64 * 1024 * 1024, max_concurrency=4)


def upload_file(path: Path, bucket: str, key: str, *, content_type: str = "video/mp4") -> None:
    """Upload ``path``; a multipart upload appears at ``key`` only once it is complete."""
    with aws_call(f"S3 upload to s3://{bucket}/{key}"):
        client("s3").upload_file(str(path), bucket, key, ExtraArgs={"ContentType": content_type}, Config=TRANSFER)


def copy_object(source_bucket: str, source_key: str, bucket: str, key: str) -> None:
    """Server-side copy (multipart for large objects); the target appears whole or not at all."""
    with aws_call(f"S3 copy to s3://{bucket}/{key}"):
        client("s3").copy({"Bucket": source_bucket, "Key": source_key}, bucket, key, Config=TRANSFER)


def presigned_get_url(bucket: str, key: str, expires_in: int) -> str:
    return client("s3").generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires_in
    )


def delete_object(bucket: str, key: str) -> None:
    """Delete one object; deleting one that does not exist is not an error."""
    with aws_call(f"S3 delete of s3://{bucket}/{key}"):
        client("s3").delete_object(Bucket=bucket, Key=key)


def delete_prefix(bucket: str, prefix: str) -> int:
    """Delete every object under ``prefix``; returns how many were deleted."""
    s3 = client("s3")
    deleted = 0
    with aws_call(f"S3 delete under s3://{bucket}/{prefix}"):
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if keys:
                s3.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
                deleted += len(keys)
    return deleted
