"""boto3 clients: one per (service, region, endpoint), built once even when many threads ask at once."""

from __future__ import annotations

import threading
import time
from typing import Any

import boto3
import pytest

from autovid.aws import clients


def test_threads_that_miss_the_cache_together_build_one_client(monkeypatch: pytest.MonkeyPatch) -> None:
    clients.reset_clients()
    built: list[str] = []
    original = boto3.session.Session.client

    def slow_client(self: Any, service: str, *args: Any, **kwargs: Any) -> Any:
        built.append(service)
        time.sleep(0.2)  # loading a service model takes a while
        return original(self, service, *args, **kwargs)

    monkeypatch.setattr(boto3.session.Session, "client", slow_client)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
    start = threading.Barrier(20)
    got: list[Any] = []

    def ask() -> None:
        start.wait()
        got.append(clients.client("dynamodb"))

    threads = [threading.Thread(target=ask) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    try:
        assert built == ["dynamodb"], "one build, the others waited for it"
        assert len(got) == 20 and all(c is got[0] for c in got)
        assert clients.client("s3") is not got[0] and built == ["dynamodb", "s3"]
    finally:
        clients.reset_clients()
