"""boto3 clients, configured from the environment.

Every client honours ``AWS_ENDPOINT_URL`` (boto3 reads it natively), so the same code runs
against AWS, moto or LocalStack. Retries use botocore's standard mode. Clients are
thread-safe and cached per (service, region, endpoint).
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any

import boto3
from botocore.config import Config

RETRY_CONFIG = Config(retries={"max_attempts": 5, "mode": "standard"}, connect_timeout=5, read_timeout=60)


def region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


def s3_config(endpoint: str | None) -> Config:
    """SigV4 everywhere, presigned URLs included (botocore would presign S3 with SigV2, which newer
    buckets refuse). On AWS, virtual-hosted URLs at the regional endpoint; elsewhere, path style."""
    return Config(signature_version="s3v4", s3={"addressing_style": "path" if endpoint else "virtual"})


@cache
def _cached_client(service: str, region_name: str, endpoint: str | None) -> Any:
    config = RETRY_CONFIG.merge(s3_config(endpoint)) if service == "s3" else RETRY_CONFIG
    return boto3.session.Session(region_name=region_name).client(service, config=config, endpoint_url=endpoint or None)


def client(service: str) -> Any:
    """A client for ``service`` in the deployment's region, at ``AWS_ENDPOINT_URL`` if set."""
    return _cached_client(service, region(), os.environ.get("AWS_ENDPOINT_URL"))


def reset_clients() -> None:
    """Forget cached clients (tests that switch endpoints or credentials call this)."""
    _cached_client.cache_clear()
