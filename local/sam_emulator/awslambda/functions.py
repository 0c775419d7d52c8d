"""Template functions, invoked like Lambda in warm worker processes.

* Each function runs in its own worker processes (:mod:`sam_emulator.awslambda.pool`), with the
  environment built here from the template, its CodeUri and layers on ``sys.path``, a
  Lambda-shaped context, and the template's Timeout, which kills the worker.
* An exception becomes Lambda's error payload (``errorMessage``, ``errorType`` = class name,
  ``requestId``, ``stackTrace``) and a function error, so ``ErrorEquals`` matches class names; a
  timeout is ``Sandbox.Timedout``, a worker that dies ``Runtime.ExitError``.
* Faults (:class:`FaultPlan`) replace the handler call on this side of the pipe.
* Given a :class:`~sam_emulator.awslambda.logs.FunctionLog`, what the worker writes to stdout
  and stderr (at import and per invocation) goes to that file between Lambda's START, END and
  REPORT lines, with an unhandled error as ``[ERROR] Type: message`` and its traceback.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sam_emulator.awslambda.logs import FunctionLog, InvocationLog
from sam_emulator.awslambda.pool import WorkerError, WorkerPools, WorkerSetup, WorkerTimedOutError
from sam_emulator.errors import UnknownFunctionError
from sam_emulator.log_lines import RunLog

DEFAULT_TIMEOUT_SECONDS = 3
DEFAULT_MEMORY_MB = 128
DEFAULT_ASYNC_MAX_RETRIES = 2
DEFAULT_ASYNC_MAX_EVENT_AGE_SECONDS = 6 * 3600

#: The only host variables a handler sees besides its own: what the OS, ffmpeg and TLS need
#: (Lambda provides its own equivalents). Anything else on the host (an AWS profile, an
#: ``AWS_ENDPOINT_URL_S3``, an app setting) would make local runs differ from Lambda.
_HOST_VARIABLES_KEPT = frozenset(
    {
        "PATH", "HOME", "LANG", "LANGUAGE", "TZ", "TMPDIR", "TEMP", "TMP", "USER", "LOGNAME",
        "LD_LIBRARY_PATH", "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "AWS_CA_BUNDLE", "SYSTEMROOT",
    }
)  # fmt: skip


def _kept_from_host(name: str) -> bool:
    return name in _HOST_VARIABLES_KEPT or name.startswith("LC_")


@dataclass(frozen=True)
class AsyncInvokeConfig:
    """A function's ``EventInvokeConfig``, resolved."""

    max_retries: int = DEFAULT_ASYNC_MAX_RETRIES
    max_event_age_seconds: int = DEFAULT_ASYNC_MAX_EVENT_AGE_SECONDS
    on_failure_type: str | None = None  # SQS or Lambda are delivered locally
    on_failure_arn: str | None = None

    @classmethod
    def from_properties(cls, props: dict[str, Any] | None) -> AsyncInvokeConfig:
        props = props or {}
        on_failure = (props.get("DestinationConfig") or {}).get("OnFailure") or {}
        return cls(
            max_retries=int(props.get("MaximumRetryAttempts", DEFAULT_ASYNC_MAX_RETRIES)),
            max_event_age_seconds=int(props.get("MaximumEventAgeInSeconds", DEFAULT_ASYNC_MAX_EVENT_AGE_SECONDS)),
            on_failure_type=on_failure.get("Type"),
            on_failure_arn=on_failure.get("Destination"),
        )


@dataclass(frozen=True)
class FunctionSpec:
    """What the runtime needs to run one ``AWS::Serverless::Function``."""

    logical_id: str
    name: str
    arn: str
    code_dir: Path
    handler: str
    environment: Mapping[str, str] = field(default_factory=dict)
    layer_dirs: tuple[Path, ...] = ()
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    memory_mb: int = DEFAULT_MEMORY_MB
    runtime: str = "python3.11"
    async_config: AsyncInvokeConfig = field(default_factory=AsyncInvokeConfig)


@dataclass(frozen=True)
class InvocationResult:
    """One invocation's outcome, in the shape Lambda's Invoke API returns it."""

    payload: bytes
    request_id: str
    duration_ms: float
    error_type: str | None = None

    @property
    def is_function_error(self) -> bool:
        return self.error_type is not None

    def json(self) -> Any:
        return json.loads(self.payload) if self.payload else None


class FaultPlan:
    """Exceptions to raise in place of a function's handler, for tests (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[str, list[Callable[[], BaseException]]] = {}

    def add(self, logical_id: str, exception_factory: Callable[[], BaseException], times: int) -> None:
        with self._lock:
            self._pending.setdefault(logical_id, []).extend([exception_factory] * times)

    def take(self, logical_id: str) -> Callable[[], BaseException] | None:
        with self._lock:
            queue = self._pending.get(logical_id)
            return queue.pop(0) if queue else None

    def remaining(self, logical_id: str) -> int:
        with self._lock:
            return len(self._pending.get(logical_id, ()))

    def clear(self) -> None:
        with self._lock:
            self._pending.clear()


class LocalFunction:
    """One template function: invoked in its warm worker processes, faults on this side."""

    def __init__(
        self,
        spec: FunctionSpec,
        *,
        lambda_variables: Mapping[str, str],
        faults: FaultPlan,
        workers: WorkerPools,
        log: FunctionLog | None = None,
        extra_variables: Mapping[str, str] | None = None,
        run_log: RunLog | None = None,
    ):
        self.spec = spec
        self.run_log = run_log or RunLog()
        self._lambda_variables = dict(lambda_variables)
        self._extra_variables = dict(extra_variables or {})
        self._faults = faults
        self.log = log
        self.pool = workers.pool(self._worker_setup(), log)
        self._in_flight = 0  # invocations running, and fault factories still running after a timeout
        self._idle = threading.Condition()

    def _worker_setup(self) -> WorkerSetup:
        spec = self.spec
        return WorkerSetup(
            logical_id=spec.logical_id,
            function_name=spec.name,
            function_arn=spec.arn,
            handler=spec.handler,
            code_dir=spec.code_dir.resolve(),
            layer_dirs=tuple(path.resolve() for path in spec.layer_dirs),
            memory_mb=spec.memory_mb,
            runtime=spec.runtime,
            environment=self._environment,
        )

    # --- invoking ---------------------------------------------------------------------

    def invoke(self, event: Any, *, source: str = "invoke") -> InvocationResult:
        request_id = str(uuid.uuid4())
        invocation_log = self.log.invocation(request_id) if self.log is not None else None
        self._begin()
        fault = self._faults.take(self.spec.logical_id)
        if fault is not None:
            result = self._raise_fault(fault, request_id, invocation_log)
        else:
            try:
                result = self._invoke_worker(event, request_id, invocation_log)
            finally:
                self._end()
        if invocation_log is not None:
            _write_report(invocation_log, result, memory_mb=self.spec.memory_mb)
        self.run_log.invocation(
            self.spec.logical_id,
            event,
            error_type=result.error_type,
            duration_ms=result.duration_ms,
            payload=result.payload,
            source=source,
        )
        return result

    def _invoke_worker(self, event: Any, request_id: str, log: InvocationLog | None) -> InvocationResult:
        timeout = self.spec.timeout_seconds
        try:
            worker = self.pool.acquire()  # may be a cold start: its INIT phase comes before START
        except WorkerError as error:
            if log is not None:
                log.start()
            return self._worker_failed(error, request_id, time.monotonic())
        if log is not None:
            log.start()
        started = time.monotonic()
        healthy = False
        try:
            answer = worker.invoke(request_id, event, timeout, log)
            healthy = not answer.get("retire")
        except WorkerError as error:
            return self._worker_failed(error, request_id, started)
        finally:
            self.pool.release(worker, healthy=healthy)
        if "error" in answer:
            body = answer["error"]
            return InvocationResult(json.dumps(body).encode(), request_id, _elapsed_ms(started), body["errorType"])
        return InvocationResult(answer["payload"].encode(), request_id, _elapsed_ms(started))

    def _worker_failed(self, error: WorkerError, request_id: str, started: float) -> InvocationResult:
        if isinstance(error, WorkerTimedOutError):
            error_type = "Sandbox.Timedout"
            message = f"Task timed out after {self.spec.timeout_seconds:.2f} seconds"
        else:
            error_type = "Runtime.ExitError"
            message = f"Runtime exited with error: {error}"
        body = _runtime_error_body(error_type, f"RequestId: {request_id} Error: {message}", request_id)
        return InvocationResult(json.dumps(body).encode(), request_id, _elapsed_ms(started), error_type)

    def _raise_fault(
        self, fault: Callable[[], BaseException], request_id: str, log: InvocationLog | None
    ) -> InvocationResult:
        """The fault replaces the handler call, on this side, within the function's Timeout. A
        factory still blocked after the timeout counts as a handler still running."""
        if log is not None:
            log.start()
        started = time.monotonic()
        outcome: list[BaseException] = []

        def run() -> None:
            try:
                outcome.append(fault())
            except BaseException as error:  # noqa: BLE001 - a factory that raises is a fault too
                outcome.append(error)
            finally:
                self._end()

        thread = threading.Thread(target=run, name=f"lambda-fault:{self.spec.logical_id}", daemon=True)
        thread.start()
        thread.join(self.spec.timeout_seconds)
        if not outcome:
            error = WorkerTimedOutError("fault still running")
            return self._worker_failed(error, request_id, started)
        error = outcome[0]
        error_type = type(error).__name__
        body = _runtime_error_body(error_type, str(error), request_id)
        return InvocationResult(json.dumps(body).encode(), request_id, _elapsed_ms(started), error_type)

    def _begin(self) -> None:
        with self._idle:
            self._in_flight += 1

    def _end(self) -> None:
        with self._idle:
            self._in_flight -= 1
            self._idle.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no invocation of this function is running."""
        with self._idle:
            return self._idle.wait_for(lambda: self._in_flight == 0, timeout)

    def _environment(self) -> dict[str, str]:
        """A worker's whole environment: from the host only what the OS needs, then Lambda's
        variables, the template's, and the runtime's extra ones."""
        spec = self.spec
        host = {key: value for key, value in os.environ.items() if _kept_from_host(key)}
        return {
            **host,
            **self._lambda_variables,
            "AWS_LAMBDA_FUNCTION_NAME": spec.name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.name}",
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
            "LAMBDA_TASK_ROOT": str(spec.code_dir.resolve()),
            "_HANDLER": spec.handler,
            **{key: str(value) for key, value in spec.environment.items()},
            **self._extra_variables,  # extra variables (`--env`): local settings the template does not set
        }


class FunctionRegistry:
    """The template's functions, found by logical id, name or ARN (with or without qualifier)."""

    def __init__(self, functions: list[LocalFunction]):
        self._by_logical_id = {function.spec.logical_id: function for function in functions}
        self._by_name = {function.spec.name: function for function in functions}

    def __iter__(self):
        return iter(self._by_logical_id.values())

    def __len__(self) -> int:
        return len(self._by_logical_id)

    def by_logical_id(self, logical_id: str) -> LocalFunction:
        try:
            return self._by_logical_id[logical_id]
        except KeyError:
            raise UnknownFunctionError(
                f"no function '{logical_id}' in the template (known: {sorted(self._by_logical_id)})"
            ) from None

    def find(self, function_name_or_arn: str) -> LocalFunction | None:
        return self._by_name.get(_function_name(function_name_or_arn))

    def wait_for_handlers(self, timeout: float) -> list[str]:
        """Wait for invocations still running (and fault factories past their timeout); returns
        the logical ids of the functions still busy."""
        deadline = time.monotonic() + timeout
        return [f.spec.logical_id for f in self if not f.wait_idle(max(0.0, deadline - time.monotonic()))]


def _write_report(log: InvocationLog, result: InvocationResult, *, memory_mb: int) -> None:
    """Lambda's lines after an invocation: the unhandled error, if any, then END and REPORT."""
    if result.is_function_error:
        error = result.json()
        lines = [f"[ERROR] {error['errorType']}: {error['errorMessage']}"]
        if error["stackTrace"]:
            lines += ["Traceback (most recent call last):", *error["stackTrace"]]
        log.function_log.append("\n".join(lines) + "\n")
    log.end(duration_ms=result.duration_ms, memory_mb=memory_mb, timed_out=result.error_type == "Sandbox.Timedout")


def _function_name(identifier: str) -> str:
    """``name``, ``name:qualifier``, ``account:function:name`` or a full ARN -> ``name``."""
    parts = identifier.split(":")
    if "function" in parts:
        return parts[parts.index("function") + 1]
    return parts[0]


def _runtime_error_body(error_type: str, message: str, request_id: str) -> dict[str, Any]:
    return {"errorMessage": message, "errorType": error_type, "requestId": request_id, "stackTrace": []}


def _elapsed_ms(started: float) -> float:
    return (time.monotonic() - started) * 1000
