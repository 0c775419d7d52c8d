"""Test helpers: start the local runtime in-process on free ports, wait for executions.

As a pytest plugin (``pytest_plugins = ["sam_emulator.testing"]``) it provides the
``local_runtime_factory`` fixture::

    def test_something(local_runtime_factory):
        runtime = local_runtime_factory("template.yaml")
        runtime.inject_fault("WorkerFunction", lambda: TransientError("flaky"), times=2)

Runtimes started by the fixture stop when the test ends. ``wait_scale`` shrinks Retry
back-off and Wait states (default 0.01: a 1 s interval takes 10 ms).
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest

from sam_emulator.runtime import LocalRuntime

TEST_WAIT_SCALE = 0.01
#: Short-poll the pipes' queues this often, so a runtime stops in milliseconds.
TEST_PIPE_POLL_SECONDS = 0.05
T = TypeVar("T")


@contextmanager
def running_runtime(template: str | Path, **options: Any) -> Iterator[LocalRuntime]:
    """A started runtime on free ports, with its function logs and its workers' scratch folder in
    temporary folders unless ``log_dir`` / ``scratch_dir`` are given; stopped when the block ends."""
    with (
        tempfile.TemporaryDirectory(prefix="sam-emulator-logs-") as logs,
        tempfile.TemporaryDirectory(prefix="sam-emulator-run-") as scratch,
    ):
        options = {
            "scratch_dir": scratch,
            "aws_port": 0,
            "api_port": 0,
            "wait_scale": TEST_WAIT_SCALE,
            "pipe_poll_seconds": TEST_PIPE_POLL_SECONDS,
            "log_dir": logs,
            **options,
        }
        with LocalRuntime(template, **options) as runtime:
            yield runtime


def wait_until(probe: Callable[[], T], *, timeout: float = 10.0, interval: float = 0.05, what: str = "") -> T:
    """Call ``probe`` until it returns something truthy; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what or probe}")
        time.sleep(interval)


def wait_for_execution(runtime: LocalRuntime, execution_arn: str, timeout: float = 10.0) -> dict[str, Any]:
    """``DescribeExecution`` once the execution has left RUNNING (``output`` parsed)."""
    sfn = runtime.client("stepfunctions")

    def finished() -> dict[str, Any] | None:
        description = sfn.describe_execution(executionArn=execution_arn)
        return None if description["status"] == "RUNNING" else description

    description = wait_until(finished, timeout=timeout, what=f"execution {execution_arn}")
    if description.get("output"):
        description["output"] = json.loads(description["output"])
    return description


def run_execution(runtime: LocalRuntime, state_machine: str, execution_input: Any, timeout: float = 10.0) -> dict:
    """Start an execution of the template's ``state_machine`` (logical id) and wait for its end."""
    sfn = runtime.client("stepfunctions")
    started = sfn.start_execution(stateMachineArn=runtime.ref(state_machine), input=json.dumps(execution_input))
    return wait_for_execution(runtime, started["executionArn"], timeout)


def execution_history(runtime: LocalRuntime, execution_arn: str) -> list[dict[str, Any]]:
    """Every event, oldest first (all pages)."""
    pages = runtime.client("stepfunctions").get_paginator("get_execution_history").paginate(executionArn=execution_arn)
    return [event for page in pages for event in page["events"]]


@pytest.fixture
def local_runtime_factory() -> Iterator[Callable[..., LocalRuntime]]:
    started: list[Any] = []

    def start(template: str | Path = "template.yaml", **options: Any) -> LocalRuntime:
        context = running_runtime(template, **options)
        runtime = context.__enter__()
        started.append(context)
        return runtime

    yield start
    while started:
        started.pop().__exit__(None, None, None)
