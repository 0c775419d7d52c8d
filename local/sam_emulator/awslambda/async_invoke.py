"""Asynchronous Lambda invocation, as Lambda does it for EventBridge targets and ``Event`` invokes.

A function error is retried ``MaximumRetryAttempts`` times (default 2), after about one and
then two minutes; an event older than ``MaximumEventAgeInSeconds`` (default 6 hours) is not
retried again. When retries run out, the invocation record goes to the function's
``EventInvokeConfig`` ``OnFailure`` destination (an SQS queue or a template function), in the
shape Lambda sends. Without a destination the event is dropped with a warning, as on AWS.

The delays are multiplied by the runtime's wait scale, so tests do not wait for minutes.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from sam_emulator.awslambda.functions import AsyncInvokeConfig, InvocationResult, LocalFunction

logger = logging.getLogger(__name__)

#: Lambda waits about a minute before the first retry and two before the second.
RETRY_DELAYS_SECONDS = (60.0, 120.0)
#: How long stopping the runtime waits for asynchronous invocations still running.
DRAIN_SECONDS = 30.0


def invocation_record(
    function: LocalFunction, event: Any, result: InvocationResult, *, condition: str, invoke_count: int
) -> dict[str, Any]:
    """The record Lambda sends to an on-failure destination."""
    return {
        "version": "1.0",
        "timestamp": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "requestContext": {
            "requestId": result.request_id,
            "functionArn": f"{function.spec.arn}:$LATEST",
            "condition": condition,
            "approximateInvokeCount": invoke_count,
        },
        "requestPayload": event,
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "responsePayload": result.json(),
    }


class AsyncInvoker:
    """Runs asynchronous invocations on their own threads, with Lambda's retries and destinations."""

    def __init__(
        self,
        *,
        client_factory: Callable[[str], Any],
        find_function: Callable[[str], LocalFunction | None],
        wait_scale: float = 1.0,
    ):
        self._client = client_factory
        self._find_function = find_function
        self._wait_scale = wait_scale
        self._stopping = threading.Event()
        self._threads: list[tuple[threading.Thread, float]] = []  # and the function's Timeout
        self._lock = threading.Lock()

    def submit(self, function: LocalFunction, event: Any, *, source: str) -> None:
        thread = threading.Thread(
            target=self._run, args=(function, event, source), name=f"async:{function.spec.logical_id}", daemon=True
        )
        with self._lock:  # with drain's flag, so drain sees every started thread and no new one
            if self._stopping.is_set():
                # The environment and the endpoint are going away; a handler must not start now.
                logger.warning("%s: runtime stopping; %s event not delivered", function.spec.logical_id, source)
                return
            self._threads = [(t, limit) for t, limit in self._threads if t.is_alive()]
            self._threads.append((thread, function.spec.timeout_seconds))
            thread.start()

    def _run(self, function: LocalFunction, event: Any, source: str) -> None:
        try:
            self._invoke_with_retries(function, event, source)
        except Exception:  # noqa: BLE001 - a thread of its own: log, never vanish silently
            logger.exception("%s: asynchronous invocation failed; event: %s", function.spec.logical_id,
                             json.dumps(event, default=str)[:2000])  # fmt: skip

    def _invoke_with_retries(self, function: LocalFunction, event: Any, source: str) -> None:
        config = function.spec.async_config
        received = time.monotonic()
        attempts = 0
        while True:
            attempts += 1
            result = function.invoke(event, source=source if attempts == 1 else f"{source}, retry {attempts - 1}")
            if not result.is_function_error:
                return
            if attempts > config.max_retries:
                condition = "RetriesExhausted"
                break
            delay = RETRY_DELAYS_SECONDS[min(attempts - 1, len(RETRY_DELAYS_SECONDS) - 1)]
            if time.monotonic() - received + delay > config.max_event_age_seconds:
                condition = "EventAgeExceeded"
                break
            if self._stopping.wait(delay * self._wait_scale):
                logger.warning("%s: runtime stopping; async retry %d not made", function.spec.logical_id, attempts)
                return
        record = invocation_record(function, event, result, condition=condition, invoke_count=attempts)
        self._send_to_destination(function, config, record)

    def _send_to_destination(self, function: LocalFunction, config: AsyncInvokeConfig, record: dict) -> None:
        name = function.spec.logical_id
        if not config.on_failure_arn:
            logger.warning("%s: async event dropped after %s (no OnFailure destination)", name,
                           record["requestContext"]["condition"])  # fmt: skip
            return
        if config.on_failure_type == "SQS":
            sqs = self._client("sqs")
            queue_url = sqs.get_queue_url(QueueName=config.on_failure_arn.rsplit(":", 1)[-1])["QueueUrl"]
            sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(record, default=str))
        elif config.on_failure_type == "Lambda" and (target := self._find_function(config.on_failure_arn)):
            self.submit(target, record, source=f"OnFailure of {name}")
        else:
            logger.warning("%s: OnFailure destination %s (%s) is not delivered locally", name,
                           config.on_failure_arn, config.on_failure_type)  # fmt: skip
            return
        logger.warning("%s: async event sent to its OnFailure destination after %d attempts (%s)", name,
                       record["requestContext"]["approximateInvokeCount"],
                       record["requestContext"]["condition"])  # fmt: skip

    def drain(self, max_seconds: float = DRAIN_SECONDS) -> None:
        """Refuse new events, abandon retries still waiting, and wait for invocations in flight:
        each at most its function's Timeout, all together at most ``max_seconds``."""
        with self._lock:
            self._stopping.set()
            pending = list(self._threads)
        deadline = time.monotonic() + max_seconds
        for thread, timeout in pending:
            thread.join(max(0.0, min(timeout + 1.0, deadline - time.monotonic())))
        left = [thread.name for thread, _ in pending if thread.is_alive()]
        if left:
            logger.warning("stopping with asynchronous invocations still running: %s", ", ".join(left))

    def wait_idle(self, timeout: float) -> bool:
        """Wait (without stopping) until no invocation is in flight; tests use it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                self._threads = [(t, limit) for t, limit in self._threads if t.is_alive()]
                if not self._threads:
                    return True
            time.sleep(0.02)
        return False
