"""Streaming S3 downloads for render assets, with a size cap and errors mapped by code and status."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from botocore.exceptions import (
    ClientError,
)

from autovid.aws.clients import client
from autovid.aws.errors import AwsRequestError, aws_call, is_transient
from autovid.core.errors import (
    AssetAccessDeniedError,
    AssetChangedError,
    AssetNotFoundError,
    AssetTooLargeError,
    AutoVidError,
    UpstreamUnavailableError,
)

CHUNK_BYTES = 1024 * 1024
NOT_FOUND_CODES = frozenset({"NoSuchKey", "NoSuchBucket", "404", "NotFound"})
DENIED_CODES = frozenset({"AccessDenied", "403", "AllAccessDisabled"})
PRECONDITION_FAILED = 412  # If-Match named a version the object no longer is


def download_object(bucket: str, key: str, dest: Path, *, max_bytes: int, asset_id: str | None = None) -> int:
    """Stream s3://bucket/key into ``dest``; returns the byte count. Never holds the object in memory."""
    uri = f"s3://{bucket}/{key}"
    with aws_call(f"S3 GetObject {uri}"):  # any other botocore error, mapped the common way
        return _download(bucket, key, dest, uri=uri, max_bytes=max_bytes, asset_id=asset_id)


def _download(bucket: str, key: str, dest: Path, *, uri: str, max_bytes: int, asset_id: str | None) -> int:
    written = 0
    try:
        response = client("s3").get_object(Bucket=bucket, Key=key)
        body = response["Body"]
        try:
            if response.get("ContentLength", 0) > max_bytes:
                raise AssetTooLargeError(
                    f"{uri} is {response['ContentLength']} bytes; the limit is {max_bytes}", asset_id=asset_id
                )
            with dest.open("wb") as out:
                for chunk in body.iter_chunks(CHUNK_BYTES):
                    written += len(chunk)
                    if written > max_bytes:
                        raise AssetTooLargeError(f"{uri} is over the {max_bytes}-byte limit", asset_id=asset_id)
                    out.write(chunk)
        finally:
            body.close()
    except ClientError as exc:
        raise s3_error(exc, uri, asset_id) from exc
    return written


def s3_error(exc: ClientError, uri: str, asset_id: str | None, *, pinned: bool = False) -> AutoVidError:
    code = exc.response.get("Error", {}).get("Code", "Unknown")
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    if status == PRECONDITION_FAILED:
        if pinned:
            return AssetChangedError(
                f"{uri} changed after the job was validated (its ETag is no longer the one validated); "
                "submit the job again to use the new file",
                asset_id=asset_id,
            )
        return UpstreamUnavailableError(f"{uri} was replaced while it was being read", asset_id=asset_id)
    if is_transient(exc) or status == 429:
        return UpstreamUnavailableError(f"S3 is unavailable for {uri} ({code})", asset_id=asset_id)
    if code in NOT_FOUND_CODES or status == 404:
        return AssetNotFoundError(f"{uri} does not exist ({code})", asset_id=asset_id)
    if code in DENIED_CODES or status == 403:
        return AssetAccessDeniedError(f"access to {uri} was denied ({code})", asset_id=asset_id)
    error = AwsRequestError(f"S3 GetObject {uri} failed ({code})")
    error.asset_id = asset_id
    return error


# --- ranged reads of one version, for streaming an object into ffmpeg ----------------------------


def head_version(
    bucket: str, key: str, *, max_bytes: int, etag: str | None = None, asset_id: str | None = None
) -> tuple[str, int]:
    """(ETag, size) of the object; with ``etag``, only while it is still that version (else
    ``AssetChangedError``: an earlier step pinned it)."""
    uri = f"s3://{bucket}/{key}"
    pinned = {"IfMatch": etag} if etag else {}
    with aws_call(f"S3 HeadObject {uri}"):
        try:
            head = client("s3").head_object(Bucket=bucket, Key=key, **pinned)
        except ClientError as exc:
            raise s3_error(exc, uri, asset_id, pinned=etag is not None) from exc
    size = int(head.get("ContentLength", 0))
    if size > max_bytes:
        raise AssetTooLargeError(f"{uri} is {size} bytes; the limit is {max_bytes}", asset_id=asset_id)
    return head["ETag"], size


def iter_range(
    bucket: str, key: str, etag: str, start: int, end: int, *, pinned: bool, asset_id: str | None = None
) -> Iterator[bytes]:
    """Bytes ``start`` to ``end`` (inclusive) of the object's ``etag`` version, in chunks. Every
    request carries ``If-Match``, so a replaced object answers 412 (``AssetChangedError`` when
    ``pinned`` by an earlier step, else transient) instead of other bytes."""
    uri = f"s3://{bucket}/{key}"
    with aws_call(f"S3 GetObject {uri}"):
        try:
            response = client("s3").get_object(Bucket=bucket, Key=key, IfMatch=etag, Range=f"bytes={start}-{end}")
        except ClientError as exc:
            raise s3_error(exc, uri, asset_id, pinned=pinned) from exc
        body = response["Body"]
        try:
            yield from body.iter_chunks(CHUNK_BYTES)
        finally:
            body.close()
