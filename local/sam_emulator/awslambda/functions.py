"""In-process Lambda functions: load each template function's handler and invoke it like Lambda.

* Each handler module is imported under a unique module name, so several functions can all
  have an ``app.py``. The function's CodeUri folder is on ``sys.path`` while its module is
  imported, so sibling modules import normally; they are then kept private to that function.
* Layer folders (``ContentUri``, or its ``python/`` subfolder) stay on ``sys.path``, like
  ``/opt/python`` on Lambda.
* Every invocation runs with its own environment (see :mod:`sam_emulator.awslambda.environment`), a
  Lambda-shaped context, and the template's Timeout.
* An exception becomes Lambda's error payload (``errorMessage``, ``errorType`` = class name,
  ``requestId``, ``stackTrace``) and a function error, so ``ErrorEquals`` matches class names.
* Given a :class:`~sam_emulator.awslambda.logs.FunctionLog`, what the handler writes to stdout
  and stderr (at import and per invocation) goes to that file between Lambda's START, END and
  REPORT lines, with an unhandled error as ``[ERROR] Type: message`` and its traceback.
"""

from __future__ import annotations

import datetime as dt
import decimal
import importlib.util
import json
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from sam_emulator.awslambda.environment import lambda_environment, process_environment
from sam_emulator.awslambda.logs import FunctionLog, InvocationLog, capturing_output
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


_import_lock = threading.Lock()


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


class LambdaContext:
    """The context object a Python Lambda handler receives."""

    def __init__(self, spec: FunctionSpec, request_id: str, log_stream_name: str, deadline: float):
        self.function_name = spec.name
        self.function_version = "$LATEST"
        self.invoked_function_arn = spec.arn
        self.memory_limit_in_mb = str(spec.memory_mb)
        self.aws_request_id = request_id
        self.log_group_name = f"/aws/lambda/{spec.name}"
        self.log_stream_name = log_stream_name
        self.identity = None
        self.client_context = None
        self.tenant_id = None
        self._deadline = deadline

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


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


class _RuntimeError(Exception):
    """Errors the Lambda runtime itself reports (``Runtime.*`` / ``Sandbox.*`` error types)."""

    def __init__(self, error_type: str, message: str):
        super().__init__(message)
        self.error_type = error_type


class LocalFunction:
    """One template function, loaded in-process."""

    def __init__(
        self,
        spec: FunctionSpec,
        *,
        lambda_variables: Mapping[str, str],
        faults: FaultPlan,
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
        self._handler: Callable[[Any, LambdaContext], Any] | None = None
        self._load_error: _RuntimeError | None = None
        self.private_modules: dict[str, ModuleType] = {}
        self._workers: set[threading.Thread] = set()  # handler threads still running
        self._workers_lock = threading.Lock()

    @property
    def load_error(self) -> str | None:
        return None if self._load_error is None else str(self._load_error)

    # --- loading ----------------------------------------------------------------------

    def load(self) -> None:
        """Import the handler (a cold start), with the function's environment in place."""
        module_path, _, attribute = self.spec.handler.rpartition(".")
        init_log = self.log.init_phase(self.spec.runtime) if self.log is not None else None
        with _import_lock, lambda_environment(self._environment("init", "init")), capturing_output(init_log):
            try:
                module = self._import_module(module_path)
            except Exception as error:  # noqa: BLE001 - any import failure is the function's error
                self._load_error = _RuntimeError(
                    "Runtime.ImportModuleError", f"Unable to import module '{module_path}': {error}"
                )
                return
        handler = getattr(module, attribute, None)
        if not callable(handler):
            self._load_error = _RuntimeError(
                "Runtime.HandlerNotFound", f"Handler '{attribute}' missing on module '{module_path}'"
            )
            return
        self._handler = handler

    def _import_module(self, module_path: str) -> ModuleType:
        code_dir = self.spec.code_dir.resolve()
        relative = Path(*module_path.split("."))
        candidates = [code_dir / relative.with_suffix(".py"), code_dir / relative / "__init__.py"]
        source = next((path for path in candidates if path.is_file()), None)
        if source is None:
            raise ModuleNotFoundError(f"No module named '{module_path}' in {code_dir.name}/")
        unique_name = f"_sam_emulator_lambda_{self.spec.logical_id}.{module_path}"
        for layer_dir in self.spec.layer_dirs:
            if str(layer_dir) not in sys.path:
                sys.path.append(str(layer_dir))
        before = set(sys.modules)
        sys.path.insert(0, str(code_dir))
        try:
            module_spec = importlib.util.spec_from_file_location(unique_name, source)
            assert module_spec is not None and module_spec.loader is not None
            module = importlib.util.module_from_spec(module_spec)
            sys.modules[unique_name] = module
            module_spec.loader.exec_module(module)
        finally:
            sys.path.remove(str(code_dir))
            self._privatise_sibling_modules(before, code_dir)
        return module

    def _privatise_sibling_modules(self, before: set[str], code_dir: Path) -> None:
        """Sibling modules stay referenced by the handler but leave ``sys.modules``, so the
        next function's ``helpers.py`` is not mistaken for this one's."""
        for name in set(sys.modules) - before:
            top_level = name.split(".")[0]
            found_in_code_dir = (code_dir / f"{top_level}.py").is_file() or (code_dir / top_level).is_dir()
            if found_in_code_dir and not name.startswith("_sam_emulator_lambda_"):
                self.private_modules[name] = sys.modules.pop(name)

    # --- invoking ---------------------------------------------------------------------

    def invoke(self, event: Any, *, source: str = "invoke") -> InvocationResult:
        request_id = str(uuid.uuid4())
        started = time.monotonic()
        deadline = started + self.spec.timeout_seconds
        log_stream = f"{dt.datetime.now(dt.UTC):%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}"
        context = LambdaContext(self.spec, request_id, log_stream, deadline)
        environment = self._environment(request_id, log_stream)
        invocation_log = self.log.invocation(request_id) if self.log is not None else None
        if invocation_log is not None:
            invocation_log.start()
        outcome: dict[str, Any] = {}

        def run() -> None:
            with lambda_environment(environment), capturing_output(invocation_log):
                try:
                    outcome["value"] = self._call_handler(event, context)
                except BaseException as error:  # noqa: BLE001 - becomes Lambda's error payload
                    outcome["error"] = error

        worker = threading.Thread(target=run, name=f"lambda:{self.spec.logical_id}:{request_id[:8]}", daemon=True)
        with self._workers_lock:
            self._workers.add(worker)
        worker.start()
        worker.join(self.spec.timeout_seconds)
        if not worker.is_alive():
            with self._workers_lock:
                self._workers.discard(worker)
        if worker.is_alive():
            # Python cannot kill the thread; its eventual result is discarded, like Lambda's.
            error = _RuntimeError(
                "Sandbox.Timedout",
                f"RequestId: {request_id} Error: Task timed out after {self.spec.timeout_seconds:.2f} seconds",
            )
            result = self._error_result(error, request_id, started)
        elif "error" in outcome:
            result = self._error_result(outcome["error"], request_id, started)
        else:
            result = self._success_result(outcome.get("value"), request_id, started)
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

    def _call_handler(self, event: Any, context: LambdaContext) -> Any:
        if self._load_error is not None:
            raise self._load_error
        fault = self._faults.take(self.spec.logical_id)
        if fault is not None:
            raise fault()
        assert self._handler is not None
        return self._handler(event, context)

    def _success_result(self, value: Any, request_id: str, started: float) -> InvocationResult:
        try:
            payload = json.dumps(value, default=_lambda_json_default).encode()
        except (TypeError, ValueError) as error:
            marshal_error = _RuntimeError("Runtime.MarshalError", f"Unable to marshal response: {error}")
            return self._error_result(marshal_error, request_id, started)
        return InvocationResult(payload, request_id, _elapsed_ms(started))

    def _error_result(self, error: BaseException, request_id: str, started: float) -> InvocationResult:
        error_type = error.error_type if isinstance(error, _RuntimeError) else type(error).__name__
        # Like Lambda, show the handler's frames, not the runtime's own.
        frames = [frame for frame in traceback.extract_tb(error.__traceback__) if frame.filename != __file__]
        stack = [] if isinstance(error, _RuntimeError) else traceback.format_list(frames)
        body = {
            "errorMessage": str(error),
            "errorType": error_type,
            "requestId": request_id,
            "stackTrace": [line.rstrip("\n") for line in stack],
        }
        return InvocationResult(json.dumps(body).encode(), request_id, _elapsed_ms(started), error_type)

    def _environment(self, request_id: str, log_stream: str) -> dict[str, str]:
        spec = self.spec
        host = {key: value for key, value in process_environment().items() if _kept_from_host(key)}
        return {
            **host,
            **self._lambda_variables,
            "AWS_LAMBDA_FUNCTION_NAME": spec.name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": log_stream,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
            "LAMBDA_TASK_ROOT": str(spec.code_dir.resolve()),
            "_HANDLER": spec.handler,
            "_X_AMZN_REQUEST_ID": request_id,
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
        """Join handler threads still running (timed out or mid-flight); returns the ones left."""
        deadline = time.monotonic() + timeout
        left = []
        for function in self:
            with function._workers_lock:
                workers = list(function._workers)
            for worker in workers:
                worker.join(max(0.0, deadline - time.monotonic()))
                if worker.is_alive():
                    left.append(worker.name)
        return left


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


def _lambda_json_default(value: Any) -> Any:
    # The Python Lambda runtime serialises Decimal as a number; anything else is an error.
    if isinstance(value, decimal.Decimal):
        return float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _elapsed_ms(started: float) -> float:
    return (time.monotonic() - started) * 1000
