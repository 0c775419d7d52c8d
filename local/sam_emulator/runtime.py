"""The local runtime: one process running what ``template.yaml`` declares.

``LocalRuntime`` starts moto as a real HTTP endpoint with its Step Functions interpreter,
creates the template's resources in it, gives every function a pool of worker processes
(started on first invocation), starts a poller per
Pipe and per DynamoDB stream event, and serves the ``Api`` events. Use it as a context manager::

    with LocalRuntime("template.yaml", api_port=0, aws_port=0) as runtime:
        runtime.client("sqs").list_queues()

moto keeps its state per process, so one runtime runs at a time per process.

What the functions write to stdout and stderr goes to ``<log_dir>/<FunctionLogicalId>.log``
(see :mod:`sam_emulator.awslambda.logs`); ``echo_function_output`` also prints it to the terminal.
Each worker's temporary files live under ``scratch_dir`` (see :mod:`sam_emulator.awslambda.pool`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import os
import threading
import urllib.request
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from sam_emulator.apigateway.server import RestApiServer
from sam_emulator.awslambda.async_invoke import AsyncInvoker
from sam_emulator.awslambda.functions import FaultPlan, FunctionRegistry, InvocationResult, LocalFunction
from sam_emulator.awslambda.logs import FunctionLogs
from sam_emulator.awslambda.pool import WorkerPools
from sam_emulator.awslambda.scratch import ScratchFolder
from sam_emulator.cloudformation.patches import stack_patches
from sam_emulator.cloudformation.stack import LocalStack, StackOutput, StackResource, localize_api_urls
from sam_emulator.cloudwatch.alarms import AlarmEvaluator
from sam_emulator.dynamodb.patches import dynamodb_patches
from sam_emulator.errors import LocalRuntimeError, RuntimeAlreadyRunningError, TemplateError
from sam_emulator.event_sources.pipes import SqsToStateMachinePipe
from sam_emulator.event_sources.rules import (
    ExecutionObserver,
    ExecutionStatusChange,
    ScheduledRules,
    StepFunctionsEventRouter,
)
from sam_emulator.event_sources.streams import DynamoDBStreamPoller, StreamCheckpoints
from sam_emulator.log_lines import RunLog
from sam_emulator.logs.log_groups import LogStreamWriter
from sam_emulator.persistence import DurableState
from sam_emulator.state.endpoint import SerializedEndpoint
from sam_emulator.stepfunctions.mock_config import MockConfig
from sam_emulator.stepfunctions.patches import MotoPatches, ensure_port_free, start_moto_server, stop_moto_server
from sam_emulator.template.intrinsics import PseudoParameters
from sam_emulator.template.parser import API, SERVERLESS_STATE_MACHINE, STATE_MACHINE, Template
from sam_emulator.template.provision import ProvisionedStack, Provisioner

logger = logging.getLogger("sam_emulator")

MOTO_CONFIG = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
LOCAL_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}
#: Where function output goes, relative to the current directory (the CloudWatch Logs stand-in).
DEFAULT_LOG_DIR = Path(".sam-emulator") / "logs"
#: Where each function worker gets its own temporary folder; emptied at every start.
DEFAULT_SCRATCH_DIR = Path(".sam-emulator") / "run"

_active_lock = threading.Lock()
_active: LocalRuntime | None = None


#: How long ``stop`` waits for handler threads that are still running.
HANDLER_DRAIN_SECONDS = 10.0


class LocalRuntime:
    def __init__(
        self,
        template_path: str | Path = "template.yaml",
        *,
        host: str = "127.0.0.1",
        aws_port: int = 4566,
        api_port: int = 3000,
        stack_name: str = "sam-app",
        region: str = "us-east-1",
        parameter_overrides: Mapping[str, Any] | None = None,
        wait_scale: float = 1.0,
        pipe_poll_seconds: float = 1.0,
        log_dir: str | Path = DEFAULT_LOG_DIR,
        echo_function_output: bool = False,
        function_environment: Mapping[str, str] | None = None,
        api_key: str | None = None,
        correlation_keys: Sequence[str] = (),
        sfn_mock_config: str | Path | None = None,
        state_dir: str | Path | None = None,
        reset_state: bool = False,
        max_concurrency: int | None = None,
        scratch_dir: str | Path = DEFAULT_SCRATCH_DIR,
        worker_preload: Sequence[str | Path] = (),
    ):
        self.template_path = Path(template_path)
        #: Keeps the endpoint's state in this folder across restarts (None: in memory only).
        self.durable = DurableState(state_dir, reset=reset_state) if state_dir is not None else None
        #: Step Functions Local's MockConfigFile (default ``$SFN_MOCK_CONFIG``): test cases run by
        #: StartExecution of ``<stateMachineArn>#<TestCaseName>``.
        mock_config = sfn_mock_config or os.environ.get("SFN_MOCK_CONFIG") or None
        self.sfn_mock_config = Path(mock_config) if mock_config else None
        #: Log lines name the first of these keys found in an event or execution input.
        self.run_log = RunLog(correlation_keys)
        #: When set, routes whose template Auth requires an API key answer 403 without this x-api-key.
        self.api_key = api_key
        self.host = host
        self.pseudo = PseudoParameters(region=region, stack_name=stack_name)
        self._aws_port = aws_port
        self._api_port = api_port
        self._parameter_overrides = dict(parameter_overrides or {})
        self._wait_scale = wait_scale
        self._pipe_poll_seconds = pipe_poll_seconds
        self._function_environment = dict(function_environment or {})
        self.faults = FaultPlan()
        self.function_logs = FunctionLogs(log_dir, echo=echo_function_output)
        #: Worker processes per function at most (default: the machine's cores); more concurrent
        #: invocations of one function wait for a free worker.
        self.max_concurrency = max(1, max_concurrency or os.cpu_count() or 1)
        self.scratch = ScratchFolder(scratch_dir)
        #: Python files each worker runs before it imports its handler module: how a test replaces
        #: what a handler uses, since the handler does not run in the test's process.
        self.worker_preload = tuple(Path(path).absolute() for path in worker_preload)
        self.workers: WorkerPools | None = None
        self.execution_observers: list[ExecutionObserver] = []
        self.template: Template | None = None
        self.stack = ProvisionedStack()
        self.functions = FunctionRegistry([])
        self.pipes: dict[str, SqsToStateMachinePipe] = {}
        #: One poller per function ``DynamoDB`` event, by ``<FunctionLogicalId><EventName>``.
        self.streams: dict[str, DynamoDBStreamPoller] = {}
        self.schedules: ScheduledRules | None = None
        #: Evaluates the alarms on SQS queue metrics; None when the template declares no alarm.
        self.alarms: AlarmEvaluator | None = None
        self.api: RestApiServer | None = None
        #: The stack as DescribeStacks / ListStackResources show it (set once everything runs).
        self.cloudformation_stack: LocalStack | None = None
        self._moto: Any = None
        self._patches: MotoPatches | None = None
        self._saved_moto_port: str | None = None
        self._stops: list[Callable[[], None]] = []
        self._clients: dict[str, Any] = {}
        self._clients_lock = threading.Lock()

    # --- lifecycle --------------------------------------------------------------------

    def __enter__(self) -> LocalRuntime:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> LocalRuntime:
        global _active
        with _active_lock:
            if _active is not None:
                raise RuntimeAlreadyRunningError("a local runtime is already running in this process")
            _active = self
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        self.scratch.open()  # first: kills what a killed earlier run left, empties the folder
        self._stops.append(self.scratch.close)
        self._start_moto()
        self.template = Template.load(
            self.template_path,
            endpoint_url=self.aws_endpoint_url,
            pseudo=self.pseudo,
            parameter_overrides=self._parameter_overrides,
        )
        self._patches = MotoPatches(
            dispatch_lambda=self._dispatch_lambda,
            execution_listener=self,
            wait_scale=self._wait_scale,
            mock_config=self._load_mock_config(),
        )
        self._patches.install()
        self._stops.append(self._patches.uninstall)
        for patch in dynamodb_patches():
            patch.apply()
            self._stops.append(patch.undo)
        self.stack = Provisioner(self.template, client=self.client).provision()
        if self.durable is not None:
            self._patches.history_sink = self.durable.history_event
            counts = self.durable.restore(
                lambda service, _region: self.client(service), self._patches.redriver, self.pseudo.region
            )
            if self.durable.had_state:
                logger.info("state restored from %s: %s", self.durable.path, counts.describe())
                # Generated secrets keep the values they had (the state folder's).
                manager = self.client("secretsmanager")
                for logical_id in self.stack.secrets:
                    value = manager.get_secret_value(SecretId=self.ref(logical_id))
                    self.stack.secrets[logical_id] = value["SecretString"]
        self._load_functions()
        self._route_step_functions_events()
        self._run_scheduled_rules()
        self._start_pipes()
        self._start_streams()  # before the API: LATEST means records written after start-up
        self.alarms = AlarmEvaluator.start_for(self.template, self.client, wait_scale=self._wait_scale)
        if self.alarms is not None:
            self._stops.append(self.alarms.stop)
        self._start_api()
        self._register_stack()
        self._report()
        if self.durable is not None:
            self.durable.resume(self._patches)

    def stop(self) -> None:
        global _active
        if self.durable is not None:
            # First: the stop itself (handlers cut short, tasks failing) must not become state.
            # Running executions are left as they were, and go on at the next start.
            self.durable.freeze()
        if self.schedules is not None:
            self.schedules.stop()  # first: no new scheduled invocation while the rest winds down
        for poller in [*self.pipes.values(), *self.streams.values()]:
            poller.request_stop()
        for poller in [*self.pipes.values(), *self.streams.values()]:
            poller.stop()
        if self.api is not None:
            self.api.stop()
            self.api = None
        if self._moto is not None:
            # With a state folder this is after the freeze: the executions stay RUNNING there.
            self._stop_running_executions()
        # Handlers still running finish while the endpoint exists; then their workers are killed.
        # With a state folder they are cut short at once: their executions resume at the next start.
        drain = 0.0 if self.durable is not None else HANDLER_DRAIN_SECONDS
        left = self.functions.wait_for_handlers(timeout=drain)
        if left:
            logger.warning("stopping with handlers still running: %s", ", ".join(left))
        while self._stops:
            step = self._stops.pop()
            try:
                step()
            except Exception:  # every later step (patches, environment, moto) must still run
                logger.exception("stopping: %s failed", getattr(step, "__qualname__", step))
        self._clients.clear()
        with _active_lock:
            if _active is self:
                _active = None

    def _start_moto(self) -> None:
        ensure_port_free(self.host, self._api_port, "REST API")  # before anything starts
        # Each service's requests run under its own lock (moto's backends are not safe under
        # concurrent writes); with a state folder, acknowledged writes are saved there too.
        middleware: Callable[[Any], Any] = SerializedEndpoint
        if self.durable is not None:
            self.durable.open()
            self._stops.append(self.durable.close)
            middleware = self.durable.middleware(self.host)
        self._moto = start_moto_server(self.host, self._aws_port, middleware=middleware)
        self._stops.append(self._stop_moto)
        self._saved_moto_port = os.environ.get("MOTO_PORT")
        # moto's interpreter reaches Lambda, DynamoDB ... through this port.
        os.environ["MOTO_PORT"] = str(self.aws_port)
        werkzeug_logger = logging.getLogger("werkzeug")
        werkzeug_logger.setLevel(logging.WARNING)
        self._post_moto("/moto-api/reset", None)
        self._post_moto("/moto-api/config", MOTO_CONFIG)

    def _load_mock_config(self) -> MockConfig | None:
        if self.sfn_mock_config is None:
            return None
        template = self._template()
        machines = template.of_type(SERVERLESS_STATE_MACHINE, STATE_MACHINE)
        aliases = {template.identity(m.logical_id).attributes["Name"]: m.logical_id for m in machines}
        return MockConfig.load(self.sfn_mock_config, aliases)

    def _stop_moto(self) -> None:
        assert self._moto is not None
        try:
            self._post_moto("/moto-api/reset", None)
            self._post_moto(
                "/moto-api/config", {"stepfunctions": {"execute_state_machine": False}, "lambda": {"use_docker": True}}
            )
        except OSError as error:
            logger.warning("could not reset moto: %s", error)
        stop_moto_server(self._moto)
        self._moto = None
        if self._saved_moto_port is None:
            os.environ.pop("MOTO_PORT", None)
        else:
            os.environ["MOTO_PORT"] = self._saved_moto_port

    def _post_moto(self, path: str, body: Any) -> None:
        data = json.dumps(body).encode() if body is not None else b""
        request = urllib.request.Request(self.aws_endpoint_url + path, data=data, method="POST")  # noqa: S310
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - our own endpoint
            response.read()

    def _load_functions(self) -> None:
        lambda_variables = {
            **LOCAL_CREDENTIALS,
            "AWS_REGION": self.pseudo.region,
            "AWS_DEFAULT_REGION": self.pseudo.region,
            "AWS_ENDPOINT_URL": self.aws_endpoint_url,
            "POWERTOOLS_TRACE_DISABLED": "true",
            # No host AWS config or credentials files: only the endpoint and the variables above count.
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        }
        self.workers = WorkerPools(self.scratch, max_concurrency=self.max_concurrency, preload=self.worker_preload)
        self._stops.append(self.workers.stop)
        functions = [
            LocalFunction(
                spec,
                lambda_variables=lambda_variables,
                faults=self.faults,
                workers=self.workers,
                log=self.function_logs.for_function(spec.logical_id, self._function_log_group(spec.name)),
                extra_variables=self._function_environment,
                run_log=self.run_log,
            )
            for spec in self.stack.functions
        ]
        self.functions = FunctionRegistry(functions)
        self.async_invoker = AsyncInvoker(
            client_factory=self.client, find_function=self.functions.find, wait_scale=self._wait_scale
        )
        self._stops.append(self.async_invoker.drain)

    def _function_log_group(self, function_name: str) -> Callable[[list[str]], None]:
        """Where Lambda puts a function's output: ``/aws/lambda/<FunctionName>``, one stream per start."""
        stream = f"{dt.datetime.now(dt.UTC):%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}"
        region, account = self.pseudo.region, self.pseudo.account_id
        return LogStreamWriter(account, region, f"/aws/lambda/{function_name}", stream).put

    def _route_step_functions_events(self) -> None:
        router = StepFunctionsEventRouter(
            self.stack.event_rules, self._deliver_event, region=self.pseudo.region, account=self.pseudo.account_id
        )
        if router.rules:
            self.execution_observers.append(router)
            self._stops.append(router.drain)

    def _run_scheduled_rules(self) -> None:
        self.schedules = ScheduledRules(
            self.stack.event_rules,
            self._deliver_event,
            region=self.pseudo.region,
            account=self.pseudo.account_id,
            wait_scale=self._wait_scale,
        )
        self.schedules.start()
        self._stops.append(self.schedules.stop)

    def _deliver_event(self, target_arn: str, event: dict[str, Any]) -> bool:
        function = self.functions.find(target_arn)
        if function is None:
            return False
        self.async_invoker.submit(function, event, source="eventbridge")
        return True

    def _start_pipes(self) -> None:
        assert self.template is not None
        for spec in self.stack.pipes:
            source_id = next(
                queue_id
                for queue_id in self.template.resources
                if self.template.identity(queue_id).ref == spec.source_queue_url
            )
            pipe = SqsToStateMachinePipe(
                spec,
                client_factory=self.client,
                queue_arn=self.template.identity(source_id).attributes["Arn"],
                region=self.pseudo.region,
                pipe_arn=self.template.identity(spec.logical_id).attributes["Arn"],
                poll_seconds=self._pipe_poll_seconds,
            )
            self.pipes[spec.logical_id] = pipe
            pipe.start()

    def _start_streams(self) -> None:
        for spec in self.stack.stream_mappings:
            poller = DynamoDBStreamPoller(
                spec,
                function=self.functions.by_logical_id(spec.function_logical_id),
                client_factory=self.client,
                region=self.pseudo.region,
                poll_seconds=self._pipe_poll_seconds,
                wait_scale=self._wait_scale,
                checkpoints=self._stream_checkpoints(),
            )
            self.streams[spec.logical_id] = poller
            poller.start()

    def _stream_checkpoints(self) -> StreamCheckpoints | None:
        if self.durable is None:
            return None
        durable = self.durable
        return StreamCheckpoints(
            durable.directory.folder("streams"), restored=durable.had_state, recording=lambda: not durable.frozen
        )

    def _start_api(self) -> None:
        assert self.template is not None
        if not self.stack.routes:
            return
        api_ids = {route.api_logical_id: self.ref(route.api_logical_id) for route in self.stack.routes}
        stage_variables = {
            api.logical_id: self.template.resolve(api.properties.get("Variables") or {})
            for api in self.template.of_type(API)
        }
        self.api = RestApiServer(
            self.stack.routes,
            lambda logical_id, event: self.functions.by_logical_id(logical_id).invoke(event, source="api"),
            host=self.host,
            port=self._api_port,
            api_ids=api_ids,
            stage_variables=stage_variables,
            account_id=self.pseudo.account_id,
            api_key=self.api_key,
        )
        self.api.start()
        if self.api_key and not any(route.api_key_required for route in self.stack.routes):
            self.stack.notes.append("--api-key: no route of the template requires an API key; it is not checked")

    def _register_stack(self) -> None:
        """DescribeStacks and the stack resource actions answer for this stack (moto keeps the others)."""
        template = self._template()
        unsupported = {label.split(" ", 1)[0] for label in self.stack.unsupported}
        resources = [
            StackResource(logical_id, str(template.identity(logical_id).ref), template.resources[logical_id].type)
            for logical_id in template.creation_order()
            if logical_id not in unsupported
        ]
        # An output that cannot be resolved locally names a resource that does not exist here: left out.
        outputs = [
            StackOutput(name, value, (template.outputs[name] or {}).get("Description"), self._export_name(name))
            for name, value in self._output_values().items()
            if isinstance(value, str)
        ]
        parameters = {
            name: ",".join(map(str, value)) if isinstance(value, list) else str(value)
            for name, value in template.parameters.items()
        }
        self.cloudformation_stack = LocalStack(
            self.pseudo.stack_name, self.pseudo.region, self.pseudo.account_id, parameters, outputs, resources
        )
        for patch in stack_patches(lambda: self.cloudformation_stack):
            patch.apply()
            self._stops.append(patch.undo)

    def _export_name(self, output_name: str) -> str | None:
        export = (self._template().outputs[output_name] or {}).get("Export")
        try:
            return str(self._template().resolve(export["Name"])) if export else None
        except TemplateError:
            return None

    def _report(self) -> None:
        if self.stack.unsupported:
            logger.warning("not supported locally (skipped): %s", ", ".join(self.stack.unsupported))
        if self.stack.ignored:
            logger.info("ignored locally (AWS permissions only): %s", ", ".join(self.stack.ignored))
        for note in self.stack.notes:
            logger.warning("note: %s", note)

    def _stop_running_executions(self) -> None:
        sfn = self.client("stepfunctions")
        for arn in self.stack.state_machine_arns.values():
            try:
                pages = sfn.get_paginator("list_executions").paginate(stateMachineArn=arn, statusFilter="RUNNING")
                for execution in [execution for page in pages for execution in page["executions"]]:
                    sfn.stop_execution(executionArn=execution["executionArn"])
            except (BotoCoreError, ClientError) as error:
                logger.debug("could not stop executions of %s: %s", arn, error)

    # --- endpoints and clients ------------------------------------------------------------

    @property
    def aws_port(self) -> int:
        if self._moto is None:
            raise LocalRuntimeError("the runtime is not running")
        return int(self._moto.get_host_and_port()[1])

    @property
    def aws_endpoint_url(self) -> str:
        return f"http://{self.host}:{self.aws_port}"

    @property
    def log_dir(self) -> Path:
        """The folder holding one ``<FunctionLogicalId>.log`` per function."""
        return self.function_logs.directory

    @property
    def api_url(self) -> str | None:
        return self.api.url if self.api is not None else None

    def client(self, service: str) -> Any:
        """A boto3 client for the local endpoint (dummy credentials, the stack's region); cached,
        and like every boto3 client safe to share between threads."""
        with self._clients_lock:
            if service not in self._clients:
                self._clients[service] = local_client(service, self.aws_endpoint_url, self.pseudo.region)
            return self._clients[service]

    def client_environment(self) -> dict[str, str]:
        """Environment variables that point the AWS CLI or boto3 at this runtime."""
        return {
            **LOCAL_CREDENTIALS,
            "AWS_DEFAULT_REGION": self.pseudo.region,
            "AWS_REGION": self.pseudo.region,
            "AWS_ENDPOINT_URL": self.aws_endpoint_url,
            # TestState goes to the "sync-" host on AWS; one endpoint serves every action here.
            "AWS_DISABLE_HOST_PREFIX_INJECTION": "true",
        }

    def ref(self, logical_id: str) -> Any:
        """What ``!Ref logical_id`` resolves to locally (table name, queue URL, machine ARN ...)."""
        return self._template().identity(logical_id).ref

    def get_att(self, logical_id: str, attribute: str) -> Any:
        return self._template().identity(logical_id).attributes[attribute]

    def outputs(self) -> dict[str, str]:
        """The template's Outputs, resolved locally (unresolvable ones say why); an invoke URL of
        one of the template's APIs is the local API's URL."""
        return {
            name: value if isinstance(value, str) else f"(not resolvable locally: {value})"
            for name, value in self._output_values().items()
        }

    def _output_values(self) -> dict[str, str | TemplateError]:
        template = self._template()
        api_ids = {str(template.identity(route.api_logical_id).ref) for route in self.stack.routes}
        values: dict[str, str | TemplateError] = {}
        for name, output in template.outputs.items():
            try:
                values[name] = localize_api_urls(str(template.resolve(output.get("Value"))), api_ids, self.api_url)
            except TemplateError as error:
                values[name] = error
        return values

    def _template(self) -> Template:
        if self.template is None:
            raise LocalRuntimeError("the runtime is not running")
        return self.template

    # --- functions ----------------------------------------------------------------------

    def invoke(self, logical_id: str, event: Any) -> InvocationResult:
        """Invoke a template function directly (no HTTP)."""
        return self.functions.by_logical_id(logical_id).invoke(event, source="direct")

    def inject_fault(self, logical_id: str, exception_factory: Callable[[], BaseException], times: int = 1) -> None:
        """Make ``logical_id`` raise ``exception_factory()`` instead of running, ``times`` times."""
        self.functions.by_logical_id(logical_id)  # fail fast on a typo
        self.faults.add(logical_id, exception_factory, times)

    def clear_faults(self) -> None:
        self.faults.clear()

    def _dispatch_lambda(self, function_name: str, body: Any, invocation_type: str) -> InvocationResult | None:
        function = self.functions.find(function_name)
        if function is None:
            return None
        event = _parse_payload(body)
        if invocation_type == "DryRun":
            return InvocationResult(b"", "dry-run", 0.0)
        if invocation_type == "Event":
            self.async_invoker.submit(function, event, source="async invoke")
            return InvocationResult(b"", "async", 0.0)
        return function.invoke(event, source="lambda")

    # --- executions (moto_patches.ExecutionListener) ---------------------------------------

    def execution_started(self, execution: Any) -> None:
        # A short execution may already have finished by now; this event is its start.
        change = dataclasses.replace(self._status_change(execution), status="RUNNING", stop_date=None, output=None,
                                     error=None, cause=None)  # fmt: skip
        self.run_log.execution_started(execution.state_machine.name, execution.name, change.input)
        if self.durable is not None:
            self.durable.execution_changed(execution)
        self._notify(change)

    def execution_redriven(self, execution: Any) -> None:
        # As on AWS: a status change to RUNNING, with the new redriveCount.
        change = self._status_change(execution)
        machine = execution.state_machine.name
        self.run_log.execution_redriven(machine, execution.name, change.redrive_count, change.input)
        if self.durable is not None:
            self.durable.execution_changed(execution)
        self._notify(change)

    def execution_finished(self, execution: Any) -> None:
        change = self._status_change(execution)
        seconds = (change.stop_date - change.start_date).total_seconds() if change.stop_date else 0.0
        self.run_log.execution_finished(
            execution.state_machine.name, execution.name, change.status, seconds, change.input, change.error
        )
        if self.durable is not None:
            self.durable.execution_changed(execution)
        self._notify(change)

    def _status_change(self, execution: Any) -> ExecutionStatusChange:
        redrive_count = self._patches.redriver.redrive_count(execution) if self._patches else 0
        return _status_change(execution, redrive_count)

    def _notify(self, change: ExecutionStatusChange) -> None:
        for observer in list(self.execution_observers):
            try:
                observer(change)
            except Exception:  # an observer bug must not break the execution thread
                logger.exception("execution observer %r failed", observer)


def local_client(service: str, endpoint_url: str, region: str) -> Any:
    """A boto3 client for a local endpoint, with the runtime's dummy credentials."""
    session = boto3.session.Session(
        aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        region_name=region,
    )
    # No host prefix: StartSyncExecution and TestState would go to ``sync-<host>``, which does not
    # resolve for a local endpoint.
    return session.client(service, endpoint_url=endpoint_url, config=Config(inject_host_prefix=False))


def _parse_payload(body: Any) -> Any:
    if isinstance(body, bytes):
        body = body.decode()
    if not body:
        return {}
    try:
        return json.loads(body)
    except ValueError:
        return body


def _status_change(execution: Any, redrive_count: int) -> ExecutionStatusChange:
    status = execution.exec_status.value if execution.exec_status is not None else "RUNNING"
    return ExecutionStatusChange(
        execution_arn=execution.exec_arn,
        state_machine_arn=execution.state_machine_arn,
        name=execution.name,
        status=status,
        input=execution.input_data,
        output=execution.output,
        error=execution.error,
        cause=execution.cause,
        start_date=execution.start_date,
        stop_date=execution.stop_date,
        redrive_count=redrive_count,
    )
