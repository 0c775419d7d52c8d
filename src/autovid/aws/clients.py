"""boto3 clients, configured from the environment.

Every client honours ``AWS_ENDPOINT_URL`` (boto3 reads it natively), so the same code runs
against AWS, moto or LocalStack. Retries use botocore's standard mode. Clients are
thread-safe and cached per (service, region, endpoint), each built once.
"""

from __future__ import annotations

import os
import threading
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


_clients: dict[tuple[str, str, str | None], Any] = {}
_clients_lock = threading.Lock()


def _cached_client(service: str, region_name: str, endpoint: str | None) -> Any:
    key = (service, region_name, endpoint)
    found = _clients.get(key)
    if found is not None:
        return found
    # One thread builds a client while the others wait for it: threads that all missed the cache
    # at once would each load the service model, for seconds of CPU (the local runtime runs many
    # invocations in one process).
    with _clients_lock:
        found = _clients.get(key)
        if found is None:
            config = RETRY_CONFIG.merge(s3_config(endpoint)) if service == "s3" else RETRY_CONFIG
            session = boto3.session.Session(region_name=region_name)
            found = _clients[key] = session.client(service, config=config, endpoint_url=endpoint or None)
        return found


def client(service: str) -> Any:
    """A client for ``service`` in the deployment's region, at ``AWS_ENDPOINT_URL`` if set."""
    return _cached_client(service, region(), os.environ.get("AWS_ENDPOINT_URL"))


def reset_clients() -> None:
    """Forget cached clients (tests that switch endpoints or credentials call this)."""
    with _clients_lock:
        _clients.clear()
