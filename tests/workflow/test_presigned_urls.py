"""Download links: SigV4 (S3 refuses SigV2 on newer buckets), at the bucket's regional endpoint."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
import requests
from moto import mock_aws

from autovid.aws.clients import reset_clients
from autovid.aws.storage import presigned_get_url

BUCKET = "auto-vid-s3-bucket-test-123456789012"


@pytest.fixture
def s3_in(aws_env: None, monkeypatch: pytest.MonkeyPatch):
    def make(region: str):
        monkeypatch.setenv("AWS_REGION", region)
        monkeypatch.setenv("AWS_DEFAULT_REGION", region)
        reset_clients()
        s3 = boto3.client("s3", region_name=region)
        location = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        s3.create_bucket(Bucket=BUCKET, **location)
        s3.put_object(Bucket=BUCKET, Key="outputs/job-1/final cut.mp4", Body=b"mp4 bytes")
        return s3

    with mock_aws():
        yield make
    reset_clients()


@pytest.mark.parametrize(
    ("region", "host"),
    [
        ("eu-west-1", f"{BUCKET}.s3.eu-west-1.amazonaws.com"),
        ("us-east-1", f"{BUCKET}.s3.amazonaws.com"),
    ],
)
def test_links_are_sigv4_at_the_buckets_endpoint(s3_in, region: str, host: str) -> None:
    s3_in(region)
    url = presigned_get_url(BUCKET, "outputs/job-1/final cut.mp4", 86400)

    parts = urlsplit(url)
    query = parse_qs(parts.query)
    assert (parts.scheme, parts.hostname, parts.path) == ("https", host, "/outputs/job-1/final%20cut.mp4")
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert query["X-Amz-Expires"] == ["86400"]
    assert query["X-Amz-Credential"][0].endswith(f"/{region}/s3/aws4_request")
    assert "Signature" not in query and "AWSAccessKeyId" not in query, "no SigV2"
    assert requests.get(url, timeout=10).content == b"mp4 bytes"


def test_a_custom_endpoint_gets_path_style_links(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://localhost:4566")
    reset_clients()
    try:
        url = presigned_get_url(BUCKET, "outputs/job-1/a.mp4", 60)
    finally:
        reset_clients()
    parts = urlsplit(url)
    assert (parts.netloc, parts.path) == ("localhost:4566", f"/{BUCKET}/outputs/job-1/a.mp4")
    assert parse_qs(parts.query)["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
