"""Every change the local runtime makes to moto internals, in one place.

moto (pinned in requirements/dev.txt) gives us the AWS endpoint and its Step Functions
interpreter. A few internals need adjusting; each adjustment is a :class:`Patch` with a name,
the reason it exists, and a ``check`` that fails loudly (naming the patch) if a moto upgrade
moves or reshapes what it replaces. ``tests/local_runtime/test_local_moto_patches.py`` runs the
checks.

Patches:

``in-process-lambda-invoke``
    moto's simple Lambda backend (``lambda.use_docker = False``) answers every invoke with a
    canned string. We route invokes of template functions to their Python handlers instead,
    and report handler exceptions as Lambda function errors (``X-Amz-Function-Error:
    Unhandled`` + the error payload) so the interpreter's ``ErrorEquals`` / ``Catch`` see the
    exception class name, as on AWS. Invokes of other functions keep moto's behaviour.

``unnamed-start-execution``
    ``StartExecution`` without a name builds the ARN ``...:execution:<machine>:None``; the
    second unnamed start collides. AWS generates a UUID; so do we.

``aws-entered-time``
    ``$$.State.EnteredTime`` is written with Python's ``isoformat`` (microseconds, ``+00:00``);
    AWS writes milliseconds and ``Z``. Job records store it, so it must look the same.

``execution-listener``
    Reports each execution's start and end, once each and in that order (an execution can end
    before StartExecution returns; its end is then held until its start is reported): the
    one-line activity log, and the "Step Functions Execution Status Change" events delivered
    to ``aws.states`` rules.

``stop-wins``
    StopExecution marks the program stopped, but a task still in flight that then fails
    overwrites that with its error, and the execution ends FAILED. On AWS a stopped execution
    is ABORTED whatever its tasks do afterwards; a stopped program now stays stopped.

``stop-execution`` / ``history-closed-at-stop``
    moto's StopExecution answers no ``stopDate``, drops ``error`` and ``cause``, and leaves the
    execution RUNNING until its task returns. On AWS it is ABORTED at once, with the error and
    cause in DescribeExecution and ``ExecutionAborted``; a task still running is left to finish
    but adds nothing to the history.

``execution-history``
    GetExecutionHistory with ``reverseOrder``, ``maxResults``/``nextToken``,
    ``includeExecutionData`` and AWS's ``previousEventId`` (moto ignores the first three and gives
    event 2 the id 0). ``redrive-list-executions`` pages and filters ListExecutions likewise.

``list-state-machine-versions`` / ``start-sync-execution``
    Actions moto lacks: the versions moto keeps; StartSyncExecution refuses a STANDARD machine
    with ``StateMachineTypeNotSupported``, as AWS does.

``unknown-operation``
    An action moto does not implement raises ``NotImplementedError``, which its server answers
    with an HTML 500 that SDKs retry; we answer AWS's 4xx for an unknown operation instead.

``message-origin`` / ``start-message-move-task`` / ``list-message-move-tasks`` / ``cancel-message-move-task``
    moto has no SQS message move tasks; :class:`sam_emulator.sqs.message_moves.MessageMoveTasks`
    implements them. ``message-origin`` remembers the queue a message was first sent to (moto
    moves the same message object to the DLQ), which is where a move without destination sends it.

``scaled-retry-wait`` / ``scaled-wait-state`` (installed only when ``wait_scale != 1``)
    ASL requires ``IntervalSeconds >= 1`` and moto sleeps in real time; tests scale Retry
    back-off and Wait states down so a workflow with retries runs in milliseconds.

``redrive-execution`` / ``redrive-describe-execution`` / ``redrive-list-executions`` / ``redrive-context``
    moto has no RedriveExecution. :class:`sam_emulator.stepfunctions.redrive.ExecutionRedriver` implements it
    with AWS's semantics; these patches add the API action, the redrive fields of
    DescribeExecution and ListExecutions (and its ``redriveFilter``), and ``RedriveCount`` /
    ``RedriveTime`` in ``$$.Execution``. A redriven execution is reported to the listener as
    running again.

``validate-state-machine-definition`` / ``test-state``
    moto has neither action (its server answers an HTML 500). They are added to moto's response
    class (:mod:`sam_emulator.stepfunctions.api_actions`): validation by statelint, TestState on
    moto's TestState interpreter with AWS's Retry and Catch outcomes and ``mock``.

``mock-test-case-start`` / ``execution-logs-and-mocks``
    StartExecution of ``<stateMachineArn>#<TestCaseName>`` runs that test case of the mock config
    file (:mod:`sam_emulator.stepfunctions.mock_config`; moto's interpreter plays it, but moto
    never reads the file). Every execution's worker gets the test case, if any, and a logging
    session when its state machine's ``loggingConfiguration`` logs to a CloudWatch Logs group
    (:mod:`sam_emulator.stepfunctions.execution_logs`; moto never opens one). The start patch
    wraps ``unnamed-start-execution`` and so comes after it.

``parsed-definition-cache``
    moto parses the state machine's definition with its ANTLR grammar at the start of every
    execution, the largest single cost of a short execution. The parse tree of a definition is
    kept (the most recent few definitions); each execution still builds its own program from it.

``shared-task-clients``
    moto's interpreter makes a new boto3 client for every Task it runs (about 20 ms each). The
    clients are kept, one per service, region and endpoint; boto3 clients are safe to share
    between threads.

``moto-module-list``
    moto's server lists its package folder on disk to route every request; the list is read once.

``server-start`` (not a replacement: :func:`start_moto_server` drives ``ThreadedMotoServer``)
    ``ThreadedMotoServer.start`` waits without a timeout for its thread to bind; when the port
    is taken the thread dies and ``start`` never returns. We check the port first, run the
    same thread entry, and give up with a clear error if it fails or takes too long.
"""

from __future__ import annotations

import collections
import datetime as dt
import functools
import json
import logging
import socket
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any, Protocol

from sam_emulator.errors import LocalRuntimeError, MotoPatchError, PortInUseError
from sam_emulator.moto_patch import Patch
from sam_emulator.sqs.message_moves import MessageMoveError, MessageMoveTasks, remember_origin
from sam_emulator.stepfunctions.api_actions import aws_error, build_test_state, build_validate_state_machine_definition
from sam_emulator.stepfunctions.execution_logs import logging_session_for
from sam_emulator.stepfunctions.mock_config import MockConfig, UnknownTestCaseError, pending_test_case
from sam_emulator.stepfunctions.paging import PagingError, execution_history_page, page
from sam_emulator.stepfunctions.redrive import (
    ExecutionNotRedrivableError,
    ExecutionRedriver,
    ResumePoint,
    context_redrive_fields,
    run_from,
)
from sam_emulator.unknown_operations import operation_name, unknown_operation_response

logger = logging.getLogger("sam_emulator")


class LambdaDispatcher(Protocol):
    """Runs an invoke on the local runtime; returns None when the function is not one of ours."""

    def __call__(self, function_name: str, body: Any, invocation_type: str) -> InvokeOutcome | None: ...


class InvokeOutcome(Protocol):
    """What a local invoke returns (``functions.InvocationResult`` fits)."""

    @property
    def payload(self) -> bytes: ...

    @property
    def is_function_error(self) -> bool: ...


class ExecutionListener(Protocol):
    def execution_started(self, execution: Any) -> None: ...

    def execution_finished(self, execution: Any) -> None: ...

    def execution_redriven(self, execution: Any) -> None: ...


# --- owners (imported lazily so importing this module stays cheap) -----------------------------


def _lambda_simple_backend() -> Any:
    from moto.awslambda_simple.models import LambdaSimpleBackend

    return LambdaSimpleBackend


def _sfn_parser_backend() -> Any:
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    return StepFunctionsParserBackend


def _execution_worker_communication() -> Any:
    from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication

    return BaseExecutionWorkerCommunication


def _retrier_module() -> Any:
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl

    return retrier_decl


def _wait_function() -> Any:
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction

    return WaitFunction


def _sfn_response() -> Any:
    from moto.stepfunctions.responses import StepFunctionResponse

    return StepFunctionResponse


def _parser_execution() -> Any:
    from moto.stepfunctions.parser.backend.execution import Execution

    return Execution


def _build_execution_worker(original: Callable[..., Any]) -> Callable[..., Any]:
    def get_start_execution_worker(execution: Any) -> Any:
        worker = original(execution)
        test_case = pending_test_case.get() or getattr(execution, "sam_emulator_test_case", None)
        if test_case is not None:
            worker._mock_test_case = test_case
            execution.sam_emulator_test_case = test_case  # a redrive plays the same case
        worker._cloud_watch_logging_session = logging_session_for(execution)
        return worker

    return get_start_execution_worker


def _execution_worker() -> Any:
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    return ExecutionWorker


def _environment() -> Any:
    from moto.stepfunctions.parser.asl.eval.environment import Environment

    return Environment


def _base_response() -> Any:
    from moto.core.responses import BaseResponse

    return BaseResponse


def _event_manager() -> Any:
    from moto.stepfunctions.parser.asl.eval.event.event_manager import EventManager

    return EventManager


def _sqs_response() -> Any:
    from moto.sqs.responses import SQSResponse

    return SQSResponse


def _sqs_queue() -> Any:
    from moto.sqs.models import Queue

    return Queue


def _state_module() -> Any:
    from moto.stepfunctions.parser.asl.component.state import state

    return state


def _asl_parser() -> Any:
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    return AmazonStateLanguageParser


def _task_client_module() -> Any:
    from moto.stepfunctions.parser.asl.utils import boto_client

    return boto_client


def _moto_backends() -> Any:
    from moto import backends

    return backends


#: How many definitions' parse trees are kept (one per state machine version in use).
PARSED_DEFINITIONS_KEPT = 32


def _build_parse(original: Callable[..., Any]) -> Any:
    from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor

    # A definition that does not parse raises, and so is never kept.
    parse_tree = functools.lru_cache(maxsize=PARSED_DEFINITIONS_KEPT)(lambda definition: original(definition)[1])

    def parse(definition: str) -> tuple[Any, Any]:
        tree = parse_tree(definition)
        return Preprocessor().visit(tree), tree  # components of its own for every execution

    return staticmethod(parse)


_CLIENT_KEY = ("service_name", "region_name", "endpoint_url", "aws_access_key_id")


class SharedClients:
    """Stands in for the ``boto3`` module of moto's task client factory: one client per service,
    region, endpoint and key, made on first use."""

    def __init__(self, boto3_module: Any):
        self._boto3 = boto3_module
        self._clients: dict[tuple[Any, ...], Any] = {}
        self._lock = threading.Lock()

    def client(self, **arguments: Any) -> Any:
        key = tuple(arguments.get(name) for name in _CLIENT_KEY)
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                client = self._clients[key] = self._boto3.client(**arguments)
        return client

    def __getattr__(self, name: str) -> Any:
        return getattr(self._boto3, name)


def _build_module_list(original: Callable[[], Any]) -> Callable[[], tuple[str, ...]]:
    names = tuple(original())
    return lambda: names


def aws_timestamp(iso_text: str) -> str:
    """``2026-01-02T03:04:05.678901+00:00`` -> ``2026-01-02T03:04:05.678Z``, as Step Functions writes it."""
    moment = dt.datetime.fromisoformat(iso_text).astimezone(dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _build_state_data(original: Callable[..., Any]) -> Callable[..., Any]:
    def state_data(**fields: Any) -> Any:
        if isinstance(fields.get("EnteredTime"), str):
            fields["EnteredTime"] = aws_timestamp(fields["EnteredTime"])
        return original(**fields)

    return state_data


def _build_set_error(original: Callable[..., Any]) -> Callable[..., Any]:
    from moto.stepfunctions.parser.asl.eval.program_state import ProgramStopped

    def set_error(env: Any, error: Any) -> None:
        if isinstance(env._program_state, ProgramStopped):
            return  # stopped: an in-flight task's failure does not turn ABORTED into FAILED
        original(env, error)

    return set_error


EXECUTION_STATUSES = ("RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "PENDING_REDRIVE")
#: Set on an event manager when StopExecution has written ``ExecutionAborted``: nothing follows it.
_HISTORY_CLOSED = "_sam_emulator_history_closed"
#: Set on an execution's environment when StopExecution has ended and reported it.
_ABORTED_AT_ONCE = "_sam_emulator_aborted_at_once"
#: Set on an event manager: the ARN of the execution whose history it writes.
_EXECUTION_ARN = "_sam_emulator_execution_arn"


def _check_length(name: str, value: str | None, limit: int) -> None:
    from moto.stepfunctions.exceptions import ValidationException

    if value is not None and len(value) > limit:
        raise ValidationException(
            f"1 validation error detected: Value at '{name}' failed to satisfy constraint: "
            f"Member must have length less than or equal to {limit}"
        )


def _paging_error(error: PagingError) -> Exception:
    from moto.stepfunctions.exceptions import InvalidToken, ValidationException

    if error.code == "InvalidToken":
        return InvalidToken(str(error).removeprefix("Invalid Token: "))
    return ValidationException(str(error))


def _requested_page(response: Any, items: list[Any], *, scope: str) -> tuple[list[Any], str | None]:
    """The page of ``items`` a List request asks for (``maxResults``, ``nextToken``), and the next token."""
    try:
        return page(
            items,
            max_results=response._get_int_param("maxResults"),
            next_token=response._get_param("nextToken"),
            scope=scope,
        )
    except PagingError as error:
        raise _paging_error(error) from None


def _build_get_execution_history(_original: Callable[..., Any]) -> Callable[..., Any]:
    def get_execution_history(response: Any) -> Any:
        from moto.core.responses import ActionResult

        arn = response._get_param("executionArn")
        events = response.stepfunction_backend.get_execution_history(arn)["events"]
        include = response._get_param("includeExecutionData")
        try:
            answer = execution_history_page(
                list(events),
                execution_arn=arn,
                reverse_order=bool(response._get_param("reverseOrder")),
                include_execution_data=include is None or bool(include),
                max_results=response._get_int_param("maxResults"),
                next_token=response._get_param("nextToken"),
            )
        except PagingError as error:
            raise _paging_error(error) from None
        return ActionResult(answer)

    return get_execution_history


def _build_list_state_machine_versions(_original: None) -> Callable[..., Any]:
    def list_state_machine_versions(response: Any) -> Any:
        from moto.core.responses import ActionResult

        arn = response._get_param("stateMachineArn")
        machine = response.stepfunction_backend.describe_state_machine(arn)
        versions = sorted(getattr(machine, "versions", {}).values(), key=lambda v: v.version, reverse=True)
        chunk, following = _requested_page(response, versions, scope=f"versions:{arn}")
        answer: dict[str, Any] = {
            "stateMachineVersions": [{"stateMachineVersionArn": v.arn, "creationDate": v.creation_date} for v in chunk]
        }
        if following:
            answer["nextToken"] = following
        return ActionResult(answer)

    return list_state_machine_versions


def _build_start_sync_execution(_original: None) -> Callable[..., Any]:
    def start_sync_execution(response: Any) -> Any:
        machine = response.stepfunction_backend.describe_state_machine(response._get_param("stateMachineArn"))
        if str(getattr(machine, "type", "STANDARD")) != "EXPRESS":
            raise aws_error("StateMachineTypeNotSupported")(
                "This operation is not supported by this type of state machine"
            )
        return unknown_operation_response(response, "synchronous EXPRESS executions are not emulated")

    return start_sync_execution


def _build_call_action(original: Callable[..., Any]) -> Callable[..., Any]:
    def call_action(response: Any) -> Any:
        try:
            return original(response)
        except NotImplementedError as error:
            logger.info("unknown operation %s: %s", operation_name(response), error)
            return unknown_operation_response(response)

    return call_action


def _build_add_message(original: Callable[..., Any]) -> Callable[..., Any]:
    def add_message(queue: Any, message: Any) -> None:
        remember_origin(message, queue.queue_arn)
        original(queue, message)

    return add_message


def _sqs_answer(response: Any, call: Callable[[], dict[str, Any]]) -> Any:
    """``call()``'s answer, or the SQS error a :class:`MessageMoveError` stands for, serialized
    with the SQS error model and the HTTP status SQS gives it (404 for a missing resource)."""
    from moto.core.responses import ActionResult
    from moto.sqs.exceptions import SQSException

    try:
        return ActionResult(call())
    except MessageMoveError as error:
        _status, headers, body = response.serialized(ActionResult(SQSException(error.code, str(error))))
        return body, {**headers, "status": error.status}


def _header(headers: Any, name: str) -> str | None:
    if not headers:
        return None
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    return None


class ScaledClock:
    """Stands in for the ``time`` module inside moto's retrier: ``sleep`` is scaled. The last
    requested (unscaled) sleeps are kept, so a test can see the patch at work without timing it."""

    def __init__(self, scale: float):
        self.scale = scale
        self.requested: collections.deque[float] = collections.deque(maxlen=100)

    def sleep(self, seconds: float) -> None:
        self.requested.append(seconds)
        time.sleep(seconds * self.scale)

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


class MotoPatches:
    """Installs the patches for one running local runtime."""

    def __init__(
        self,
        *,
        dispatch_lambda: LambdaDispatcher,
        execution_listener: ExecutionListener,
        wait_scale: float = 1.0,
        mock_config: MockConfig | None = None,
    ):
        self._dispatch_lambda = dispatch_lambda
        self._mock_config = mock_config
        self._listener = execution_listener
        self._wait_scale = wait_scale
        self._installed: list[Patch] = []
        # Start and end are reported in that order, once each: executions reported as started and
        # still running, and those that ended before their start was reported.
        self._seen: set[str] = set()  # every execution reported as started
        self._running: set[str] = set()
        self._ended_before_start: dict[str, Any] = {}
        self._order_lock = threading.RLock()
        self.redriver = ExecutionRedriver(on_redriven=self._report_redriven)
        self.message_moves = MessageMoveTasks()
        #: Called with an execution's ARN and each event added to its history (the state folder).
        self.history_sink: Callable[[str, dict[str, Any]], None] | None = None

    def patches(self) -> list[Patch]:
        patches = [
            Patch(
                "in-process-lambda-invoke",
                _lambda_simple_backend,
                "invoke",
                ("self", "function_name", "qualifier", "body", "headers", "response_headers"),
                self._build_invoke,
            ),
            Patch(
                "unnamed-start-execution",
                _sfn_parser_backend,
                "start_execution",
                ("self", "state_machine_arn", "name", "execution_input", "trace_header"),
                self._build_start_execution,
            ),
            # $$.State.EnteredTime: moto writes Python's isoformat; AWS writes milliseconds and "Z".
            Patch("aws-entered-time", _state_module, "StateData", None, _build_state_data),
            Patch(
                "execution-listener",
                _execution_worker_communication,
                "terminated",
                ("self",),
                self._build_terminated,
            ),
            Patch("stop-wins", _environment, "set_error", ("self", "error"), _build_set_error),
            Patch("stop-execution", _sfn_response, "stop_execution", ("self",), self._build_stop_execution),
            Patch(
                "history-closed-at-stop",
                _event_manager,
                "add_event",
                ("self", "context", "event_type", "event_details", "timestamp", "update_source_event_id"),
                self._build_add_event,
            ),
            Patch(
                "execution-history",
                _sfn_response,
                "get_execution_history",
                ("self",),
                _build_get_execution_history,
            ),
            Patch(
                "list-state-machine-versions",
                _sfn_response,
                "list_state_machine_versions",
                None,
                _build_list_state_machine_versions,
                adds=True,
            ),
            Patch(
                "start-sync-execution",
                _sfn_response,
                "start_sync_execution",
                None,
                _build_start_sync_execution,
                adds=True,
            ),  # fmt: skip
            Patch("unknown-operation", _base_response, "call_action", ("self",), _build_call_action),
            Patch("message-origin", _sqs_queue, "add_message", ("self", "message"), _build_add_message),
            Patch(
                "start-message-move-task",
                _sqs_response,
                "start_message_move_task",
                None,
                self._build_start_message_move_task,
                adds=True,
            ),  # fmt: skip
            Patch(
                "list-message-move-tasks",
                _sqs_response,
                "list_message_move_tasks",
                None,
                self._build_list_message_move_tasks,
                adds=True,
            ),  # fmt: skip
            Patch(
                "cancel-message-move-task",
                _sqs_response,
                "cancel_message_move_task",
                None,
                self._build_cancel_message_move_task,
                adds=True,
            ),  # fmt: skip
            Patch("redrive-execution", _sfn_response, "redrive_execution", None, self._build_redrive, adds=True),
            Patch(
                "redrive-describe-execution",
                _sfn_response,
                "describe_execution",
                ("self",),
                self._build_describe_execution,
            ),
            Patch("redrive-list-executions", _sfn_response, "list_executions", ("self",), self._build_list_executions),
            Patch(
                "redrive-context",
                _execution_worker,
                "_get_evaluation_environment",
                ("self",),
                self._build_evaluation_environment,
            ),
            Patch(
                "validate-state-machine-definition",
                _sfn_response,
                "validate_state_machine_definition",
                None,
                build_validate_state_machine_definition,
                adds=True,
            ),
            Patch("test-state", _sfn_response, "test_state", None, build_test_state, adds=True),
            # After unnamed-start-execution, which it wraps.
            Patch("mock-test-case-start", _sfn_parser_backend, "start_execution", None, self._build_start_test_case),
            Patch(
                "execution-logs-and-mocks",
                _parser_execution,
                "_get_start_execution_worker",
                ("self",),
                _build_execution_worker,
            ),
        ]
        patches += [
            Patch("parsed-definition-cache", _asl_parser, "parse", ("definition",), _build_parse),
            Patch("shared-task-clients", _task_client_module, "boto3", None, SharedClients),
            Patch("moto-module-list", _moto_backends, "list_of_moto_modules", (), _build_module_list),
        ]
        if self._wait_scale != 1.0:
            patches += [
                Patch("scaled-retry-wait", _retrier_module, "time", None, lambda _: ScaledClock(self._wait_scale)),
                Patch(
                    "scaled-wait-state",
                    _wait_function,
                    "_wait_interval",
                    ("self", "env", "wait_seconds"),
                    self._build_wait_interval,
                ),
            ]
        return patches

    def install(self) -> None:
        try:
            for patch in self.patches():
                patch.apply()
                self._installed.append(patch)
        except MotoPatchError:
            self.uninstall()
            raise

    def uninstall(self) -> None:
        self.message_moves.cancel_all()
        while self._installed:
            self._installed.pop().undo()

    # --- replacements -------------------------------------------------------------------

    def _build_invoke(self, original: Callable[..., Any]) -> Callable[..., Any]:
        dispatch = self._dispatch_lambda

        def invoke(
            backend: Any, function_name: str, qualifier: str | None, body: Any, headers: Any, response_headers: Any
        ) -> Any:
            invocation_type = _header(headers, "X-Amz-Invocation-Type") or "RequestResponse"
            outcome = dispatch(function_name, body, invocation_type)
            if outcome is None:
                return original(backend, function_name, qualifier, body, headers, response_headers)
            if outcome.is_function_error:
                response_headers["x-amz-function-error"] = "Unhandled"
            response_headers["x-amz-executed-version"] = "$LATEST"
            return outcome.payload

        return invoke

    def _build_start_execution(self, original: Callable[..., Any]) -> Callable[..., Any]:
        listener = self._listener

        def start_execution(
            backend: Any,
            state_machine_arn: str,
            name: str | None = None,
            execution_input: str | None = None,
            trace_header: str | None = None,
        ) -> Any:
            execution = original(backend, state_machine_arn, name or str(uuid.uuid4()), execution_input, trace_header)
            arn = execution.exec_arn
            # A repeated start with the same name and input returns the running execution (AWS's
            # idempotency); that is not a new start. A short execution can end before this line:
            # its end, held back by ``terminated``, is reported after its start.
            # Reported under the lock, so the end (reported by ``terminated`` on the execution's
            # worker thread) cannot slip in between.
            with self._order_lock:
                is_new = arn not in self._seen
                self._seen.add(arn)
                ended_early = self._ended_before_start.pop(arn, None)
                if is_new and ended_early is None:
                    self._running.add(arn)
                if is_new:
                    listener.execution_started(execution)
                if ended_early is not None:
                    listener.execution_finished(ended_early)
            return execution

        return start_execution

    def _build_start_test_case(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def start_execution(
            backend: Any,
            state_machine_arn: str,
            name: str | None = None,
            execution_input: str | None = None,
            trace_header: str | None = None,
        ) -> Any:
            machine_arn, _, case_name = state_machine_arn.partition("#")
            if not case_name:
                return original(backend, state_machine_arn, name, execution_input, trace_header)
            machine = backend.describe_state_machine(machine_arn)
            if self._mock_config is None:
                raise aws_error("ValidationException")(
                    f"Invalid mock test case name '{case_name}': no mock config file (SFN_MOCK_CONFIG) is loaded"
                )
            try:
                test_case = self._mock_config.test_case(machine.name, case_name)
            except UnknownTestCaseError as error:
                raise aws_error("ValidationException")(str(error)) from None
            token = pending_test_case.set(test_case)
            try:
                return original(backend, machine_arn, name, execution_input, trace_header)
            finally:
                pending_test_case.reset(token)

        return start_execution

    def _build_terminated(self, original: Callable[..., Any]) -> Callable[..., Any]:
        listener = self._listener

        def terminated(communication: Any) -> None:
            execution = communication.execution
            # The end is recorded and reported under the lock a redrive takes, so a redrive sees
            # either a running execution (refused) or an ended one whose end was reported.
            with self._order_lock:
                worker = getattr(execution, "exec_worker", None)
                env = worker.env if worker is not None else None
                if env is not None and (env.is_running() or getattr(env, _ABORTED_AT_ONCE, False)):
                    # A thread that outlived its run: StopExecution already ended and reported
                    # it, or a redrive has started a new run since.
                    return
                original(communication)
                if execution.exec_arn in self._running:
                    self._running.discard(execution.exec_arn)
                    listener.execution_finished(execution)
                elif execution.exec_arn not in self._seen:
                    self._ended_before_start[execution.exec_arn] = execution

        return terminated

    def _build_add_event(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def add_event(
            manager: Any,
            context: Any,
            event_type: Any,
            event_details: Any = None,
            timestamp: Any = None,
            update_source_event_id: bool = True,
        ) -> int:
            if getattr(manager, _HISTORY_CLOSED, False):
                return 0  # a task that outlived StopExecution: its events are not part of the history
            event_id = original(manager, context, event_type, event_details, timestamp, update_source_event_id)
            execution_arn = getattr(manager, _EXECUTION_ARN, None)
            if self.history_sink is not None and execution_arn is not None:
                history = manager._history_event_list
                event = next((e for e in reversed(history) if e.get("id") == event_id), None)
                if event is not None:
                    self.history_sink(execution_arn, event)
            return event_id

        return add_event

    def resume_after_restart(self, execution: Any, point: ResumePoint, events: list[dict[str, Any]]) -> None:
        """Run a restored RUNNING execution on from ``point`` (its end is reported as usual)."""
        with self._order_lock:
            self._seen.add(execution.exec_arn)
            self._running.add(execution.exec_arn)
        run_from(execution, point, events, redrive_count=None, before_start=lambda _execution: None)

    def finish_after_restart(
        self, execution: Any, *, output: Any = None, error: str | None = None, cause: str | None = None
    ) -> None:
        """End a restored RUNNING execution now: SUCCEEDED with ``output``, or FAILED with ``error``."""
        from moto.stepfunctions.parser.api import ExecutionStatus, HistoryEventType
        from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
        from moto.stepfunctions.parser.asl.eval.event.event_manager import EventHistoryContext

        now = dt.datetime.now(dt.UTC)
        env = execution.exec_worker.env
        last_event_id = max((int(e["id"]) for e in env.event_manager.get_event_history()), default=0)
        context = EventHistoryContext(previous_event_id=last_event_id)
        if error is None:
            details = {"output": json.dumps(output), "outputDetails": {"truncated": False}}
            env.event_manager.add_event(
                context=context,
                event_type=HistoryEventType.ExecutionSucceeded,
                event_details=EventDetails(executionSucceededEventDetails=details),
                timestamp=now,
            )
            execution.exec_status, execution.output = ExecutionStatus.SUCCEEDED, output
        else:
            failed = {key: value for key, value in (("error", error), ("cause", cause)) if value is not None}
            env.event_manager.add_event(
                context=context,
                event_type=HistoryEventType.ExecutionFailed,
                event_details=EventDetails(executionFailedEventDetails=failed),
                timestamp=now,
            )
            execution.exec_status, execution.error, execution.cause = ExecutionStatus.FAILED, error, cause
        execution.stop_date = now
        with self._order_lock:
            self._seen.add(execution.exec_arn)
        self._listener.execution_finished(execution)

    # --- StopExecution --------------------------------------------------------------------------

    def _build_stop_execution(self, _original: Callable[..., Any]) -> Callable[..., Any]:
        def stop_execution(response: Any) -> Any:
            from moto.core.responses import ActionResult

            error, cause = response._get_param("error"), response._get_param("cause")
            _check_length("error", error, 256)
            _check_length("cause", cause, 32768)
            execution = response.stepfunction_backend.describe_execution(response._get_param("executionArn"))
            with self._order_lock:
                if execution.status == "RUNNING" and execution.exec_worker is not None:
                    self._abort(execution, error, cause)
            return ActionResult({"stopDate": execution.stop_date})

        return stop_execution

    def _abort(self, execution: Any, error: str | None, cause: str | None) -> None:
        """End ``execution`` ABORTED now, as AWS does: a task still running is left to finish, but
        nothing it does afterwards reaches the execution or its history."""
        from moto.stepfunctions.parser.api import ExecutionStatus, HistoryEventType
        from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
        from moto.stepfunctions.parser.asl.eval.event.event_manager import EventHistoryContext

        now = dt.datetime.now(dt.UTC)
        env = execution.exec_worker.env
        env.set_stop(stop_date=now, cause=cause, error=error)
        details = {key: value for key, value in (("error", error), ("cause", cause)) if value is not None}
        last_event_id = max((int(e["id"]) for e in env.event_manager.get_event_history()), default=0)
        env.event_manager.add_event(
            context=EventHistoryContext(previous_event_id=last_event_id),
            event_type=HistoryEventType.ExecutionAborted,
            event_details=EventDetails(executionAbortedEventDetails=details),
            timestamp=now,
        )
        setattr(env.event_manager, _HISTORY_CLOSED, True)
        setattr(env, _ABORTED_AT_ONCE, True)
        execution.exec_status = ExecutionStatus.ABORTED
        execution.stop_date = now
        execution.error = error
        execution.cause = cause
        execution.output = None
        if execution.exec_arn in self._running:
            self._running.discard(execution.exec_arn)
            self._listener.execution_finished(execution)

    # --- SQS message move tasks ------------------------------------------------------------

    def _build_start_message_move_task(self, _original: None) -> Callable[..., Any]:
        tasks = self.message_moves

        def start_message_move_task(response: Any) -> Any:
            rate = response._get_param("MaxNumberOfMessagesPerSecond")
            return _sqs_answer(response, lambda: {"TaskHandle": tasks.start(
                response._get_param("SourceArn"),
                response._get_param("DestinationArn"),
                int(rate) if rate is not None else None,
            )})  # fmt: skip

        return start_message_move_task

    def _build_list_message_move_tasks(self, _original: None) -> Callable[..., Any]:
        tasks = self.message_moves

        def list_message_move_tasks(response: Any) -> Any:
            count = response._get_param("MaxResults")
            source = response._get_param("SourceArn")
            return _sqs_answer(response, lambda: {"Results": tasks.list(source, int(count) if count else None)})

        return list_message_move_tasks

    def _build_cancel_message_move_task(self, _original: None) -> Callable[..., Any]:
        tasks = self.message_moves

        def cancel_message_move_task(response: Any) -> Any:
            handle = response._get_param("TaskHandle") or ""
            return _sqs_answer(response, lambda: {"ApproximateNumberOfMessagesMoved": tasks.cancel(handle)})

        return cancel_message_move_task

    # --- redrive ----------------------------------------------------------------------------

    def _report_redriven(self, execution: Any) -> None:
        # Called before the resumed run starts, so its end is reported after this.
        with self._order_lock:
            self._running.add(execution.exec_arn)
            self._listener.execution_redriven(execution)

    def _build_redrive(self, _original: None) -> Callable[..., Any]:
        redriver = self.redriver

        def redrive_execution(response: Any) -> Any:
            from moto.core.responses import ActionResult

            execution = response.stepfunction_backend.describe_execution(response._get_param("executionArn"))
            try:
                with self._order_lock:  # not between an end being recorded and being reported
                    date = redriver.redrive(execution, response._get_param("clientToken"))
            except ExecutionNotRedrivableError as reason:
                raise aws_error("ExecutionNotRedrivable")(str(reason)) from None
            return ActionResult({"redriveDate": date})

        return redrive_execution

    def _build_describe_execution(self, original: Callable[..., Any]) -> Callable[..., Any]:
        redriver = self.redriver

        def describe_execution(response: Any) -> Any:
            result = original(response)
            execution = response.stepfunction_backend.describe_execution(response._get_param("executionArn"))
            if getattr(execution, "exec_worker", None) is not None:
                fields = result.result
                fields.update(redriver.describe_fields(execution))
                if execution.status == "TIMED_OUT" and execution.stop_date is not None:
                    fields["stopDate"] = execution.stop_date  # moto leaves it out for TIMED_OUT
            return result

        return describe_execution

    def _build_list_executions(self, _original: Callable[..., Any]) -> Callable[..., Any]:
        redriver = self.redriver

        def list_executions(response: Any) -> Any:
            # moto's own pages before any filter could apply; this one filters by status and
            # redriveFilter, then pages.
            from moto.core.responses import ActionResult
            from moto.stepfunctions.exceptions import ResourceNotFound, ValidationException

            machine_arn = response._get_param("stateMachineArn")
            map_run_arn = response._get_param("mapRunArn")
            if machine_arn and map_run_arn:
                raise ValidationException("Only one of stateMachineArn or mapRunArn may be provided")
            if not machine_arn and not map_run_arn:
                raise ValidationException("Must provide a StateMachine ARN or MapRun ARN")
            if map_run_arn:
                raise ResourceNotFound(map_run_arn)  # Distributed Map runs are not emulated: none exist
            state_machine = response.stepfunction_backend.describe_state_machine(machine_arn)
            status_filter = response._get_param("statusFilter")
            redrive_filter = response._get_param("redriveFilter")
            for name, value, allowed in (
                ("statusFilter", status_filter, EXECUTION_STATUSES),
                ("redriveFilter", redrive_filter, ("REDRIVEN", "NOT_REDRIVEN")),
            ):
                if value is not None and value not in allowed:
                    raise ValidationException(
                        f"1 validation error detected: Value '{value}' at '{name}' failed to satisfy "
                        f"constraint: Member must satisfy enum value set: [{', '.join(allowed)}]"
                    )
            executions = []
            for execution in sorted(state_machine.executions, key=lambda e: e.start_date, reverse=True):
                if status_filter and execution.status != status_filter:
                    continue
                count = redriver.redrive_count(execution)
                if (redrive_filter == "REDRIVEN" and count == 0) or (redrive_filter == "NOT_REDRIVEN" and count):
                    continue
                executions.append(execution)
            scope = f"executions:{machine_arn}:{status_filter}:{redrive_filter}"
            chunk, following = _requested_page(response, executions, scope=scope)
            items = []
            for execution in chunk:
                item = {
                    "executionArn": execution.execution_arn,
                    "stateMachineArn": state_machine.arn,
                    "name": execution.name,
                    "status": execution.status,
                    "startDate": execution.start_date,
                    **redriver.list_fields(execution),
                }
                if execution.status != "RUNNING" and execution.stop_date is not None:
                    item["stopDate"] = execution.stop_date
                items.append(item)
            result: dict[str, Any] = {"executions": items}
            if following:
                result["nextToken"] = following
            return ActionResult(result)

        return list_executions

    def _build_evaluation_environment(self, original: Callable[..., Any]) -> Callable[..., Any]:
        redriver = self.redriver

        def get_evaluation_environment(worker: Any) -> Any:
            env = original(worker)
            execution = getattr(worker._execution_communication, "execution", None)
            if execution is not None:
                setattr(env.event_manager, _EXECUTION_ARN, execution.exec_arn)
            record = redriver.record(execution) if execution is not None else None
            env.states.context_object.context_object_data["Execution"].update(context_redrive_fields(record))
            return env

        return get_evaluation_environment

    def _build_wait_interval(self, original: Callable[..., Any]) -> Callable[..., Any]:
        scale = self._wait_scale

        def wait_interval(wait_function: Any, env: Any, wait_seconds: float) -> None:
            # One scaled wait; the event is set when the execution stops, ending it early.
            if wait_seconds > 0:
                env.program_state_event.wait(wait_seconds * scale)

        return wait_interval


# --- the server ----------------------------------------------------------------------------

_SERVER_INTERNALS = ("_server_entry", "_server_ready_event", "_thread", "_server")


def ensure_port_free(host: str, port: int, what: str) -> None:
    """Raise PortInUseError when something already listens on ``host:port`` (0 is always free)."""
    if port == 0:
        return
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers themselves bind
        try:
            probe.bind((host, port))
        except OSError as error:
            raise PortInUseError(f"{what} port {host}:{port} is in use ({error.strerror})") from None


def check_server_internals() -> None:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    missing = [name for name in _SERVER_INTERNALS if not hasattr(server, name)]
    if missing:
        raise MotoPatchError("server-start", f"ThreadedMotoServer has no {', '.join(missing)}")


def start_moto_server(
    host: str, port: int, *, timeout: float = 30.0, middleware: Callable[[Any], Any] | None = None
) -> Any:
    """A started ThreadedMotoServer on ``host:port``, or a LocalRuntimeError; never a hang.
    ``middleware`` wraps moto's WSGI application (the state folder's write path)."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from moto.server import ThreadedMotoServer
    from werkzeug.serving import make_server

    check_server_internals()
    ensure_port_free(host, port, "AWS endpoint")
    server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
    failures: list[BaseException] = []

    def serve() -> None:
        app = DomainDispatcherApplication(create_backend_app)
        server._server = make_server(
            host, port, middleware(app) if middleware else app, True, request_handler=MotoRequestHandler
        )
        server._server_ready_event.set()
        server._server.serve_forever()

    def entry() -> None:
        try:
            serve()
        except BaseException as error:  # noqa: BLE001 - reported to the starting thread
            failures.append(error)
            server._server_ready_event.set()

    server._thread = threading.Thread(target=entry, name="moto-server", daemon=True)
    server._thread.start()
    if not server._server_ready_event.wait(timeout):
        raise LocalRuntimeError(f"the AWS endpoint did not start on {host}:{port} within {timeout:.0f}s")
    if failures:
        error = failures[0]
        if isinstance(error, OSError):
            raise PortInUseError(f"AWS endpoint port {host}:{port}: {error.strerror or error}") from error
        raise LocalRuntimeError(f"the AWS endpoint failed to start: {error!r}") from error
    return server


def stop_moto_server(server: Any) -> None:
    server.stop()
    if server._server is not None:
        server._server.server_close()  # release the port now, not at garbage collection


def all_patches(wait_scale: float = 0.5) -> list[Patch]:
    """Every patch, including the optional ones, unbound to a runtime (for checks)."""
    noop = _NoopListener()
    return MotoPatches(dispatch_lambda=lambda *_: None, execution_listener=noop, wait_scale=wait_scale).patches()


def check_all() -> list[str]:
    """Problems with the installed moto, one message per broken patch (empty when all fit)."""
    broken = []
    for check in [patch.check for patch in all_patches()] + [check_server_internals]:
        try:
            check()
        except MotoPatchError as error:
            broken.append(str(error))
    return broken


class _NoopListener:
    def execution_started(self, execution: Any) -> None:
        pass

    def execution_redriven(self, execution: Any) -> None:
        pass

    def execution_finished(self, execution: Any) -> None:
        pass
