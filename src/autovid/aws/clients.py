"""boto3 clients and resources, configured from the environment.

Every client honours ``AWS_ENDPOINT_URL`` (boto3 reads it natively), so the same code runs
against AWS, moto or LocalStack. Retries use botocore's standard mode.
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any

import boto3
from botocore.config import Config

RETRY_CONFIG = Config(retries={"max_attempts": 5, "mode": "standard"}, connect_timeout=5, read_timeout=60)


def _region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


@cache
def _session_for(region: str, endpoint: str | None) -> boto3.session.Session:
    return boto3.session.Session(region_name=region)


def client(service: str, config: Config | None = None) -> Any:
    """A client for ``service`` in the deployment's region."""
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    session = _session_for(_region(), endpoint)
    return session.client(service, config=config or RETRY_CONFIG, endpoint_url=endpoint or None)


def resource(service: str) -> Any:
    """A resource-layer object (used for DynamoDB, which converts types for us)."""
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    session = _session_for(_region(), endpoint)
    return session.resource(service, config=RETRY_CONFIG, endpoint_url=endpoint or None)
