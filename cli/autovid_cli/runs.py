"""``autovid runs / history / graph / redrive``: the workflow's executions, as the console shows them.

The same code talks to a running ``autovid up`` (its AWS endpoint and credentials come from its
registration) and to AWS (``--stack NAME``: the state machine and API come from the stack's
outputs, credentials from the usual chain). ``--aws-endpoint`` points at any other endpoint.
A job id is turned into its execution through the REST API (the status answer carries
``executionArn``); an execution ARN can be given instead.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError
from botocore.exceptions import ClientError as BotoClientError

from autovid.jobs.execution_sync import job_id_from_input
from autovid_cli.run_history import format_duration
from autovid_cli.targets import (
    ApiClient,
    ApiError,
    ApiUnreachableError,
    TargetError,
    WaitTimeoutError,
    api_key_value,
    cloudformation_outputs,
    running_local_stack_named,
    running_local_stacks,
    wait_for_job,
)
from sam_emulator.stepfunctions.history_events import REDRIVE_WINDOW, seconds_between

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2
#: Step Functions answers these for an execution or machine that is not there (bad input).
NOT_FOUND_CODES = frozenset({"ExecutionDoesNotExist", "StateMachineDoesNotExist", "InvalidArn"})
#: What reading an execution can raise: bad input, an unreachable API, an AWS error.
CLIENT_ERRORS = (TargetError, BotoCoreError, BotoClientError, ApiError, ApiUnreachableError)


@dataclass
class RunTarget:
    """The workflow's state machine, a Step Functions client for it and, when known, the REST API."""

    sfn: Any
    state_machine_arn: str | None
    api_url: str | None
    api_key: str | None = None
    #: The AWS endpoint and credentials the Step Functions client uses (empty: AWS, the usual chain).
    aws_endpoint: str | None = None
    aws_environment: dict[str, str] = field(default_factory=dict)

    def client(self, service: str) -> Any:
        """A client of another service (CloudWatch Logs, ...) at the same endpoint, with the same credentials."""
        return _client(service, self.aws_endpoint, self.aws_environment)

    def api(self) -> ApiClient:
        if not self.api_url:
            raise TargetError("no REST API: pass --api URL")
        return ApiClient(self.api_url, api_key=self.api_key)

    def execution_arn(self, job_or_arn: str) -> str:
        if job_or_arn.startswith("arn:"):
            return job_or_arn
        if not self.api_url:
            raise TargetError("a job id needs the REST API to find its execution: pass --api URL, or an execution ARN")
        job = self.api().status(job_or_arn)
        arn = job.get("executionArn")
        if not arn:
            raise TargetError(f"job {job_or_arn} has no execution yet (status {job.get('status')})")
        return arn


def find_target(args: argparse.Namespace) -> RunTarget:
    """``--stack`` reads AWS; otherwise the running ``autovid up`` (the one at ``--api``, or the only one)."""
    env_key = os.environ.get("AUTOVID_API_KEY") or None
    local = running_local_stack_named(args.stack) if args.stack else None
    if local is not None:  # `autovid up --stack-name NAME` answers for stack NAME, as AWS would
        environment = local.get("awsEnvironment", {})
        outputs = cloudformation_outputs(args.stack, environment)
        endpoint = args.aws_endpoint or environment.get("AWS_ENDPOINT_URL")
        machine = args.state_machine or outputs.get("StateMachineArn")
        api_url, key = args.api or outputs.get("ApiUrl"), env_key or local.get("apiKey")
        return RunTarget(_sfn_client(endpoint, environment), machine, api_url, key, endpoint, environment)
    if args.stack:
        outputs = cloudformation_outputs(args.stack)
        sfn = _sfn_client(args.aws_endpoint, {})
        key = env_key or (api_key_value(outputs["ApiKeyId"]) if outputs.get("ApiKeyId") else None)
        machine = args.state_machine or outputs.get("StateMachineArn")
        return RunTarget(sfn, machine, args.api or outputs.get("ApiUrl"), key, args.aws_endpoint)
    running = running_local_stacks()
    if args.api:
        running = [s for s in running if s["apiUrl"].rstrip("/") == args.api.rstrip("/")]
    if args.aws_endpoint:
        running = [s for s in running if s.get("awsEnvironment", {}).get("AWS_ENDPOINT_URL") == args.aws_endpoint]
    if len(running) > 1:
        raise TargetError("several `autovid up` stacks are running: pass --api URL or --aws-endpoint URL")
    if running:
        saved = running[0]
        environment = saved.get("awsEnvironment", {})
        endpoint = args.aws_endpoint or environment.get("AWS_ENDPOINT_URL")
        return RunTarget(
            _sfn_client(endpoint, environment),
            args.state_machine or saved.get("outputs", {}).get("StateMachineArn"),
            args.api or saved["apiUrl"],
            env_key or saved.get("apiKey"),
            endpoint,
            environment,
        )
    if not (args.aws_endpoint or args.state_machine):
        raise TargetError("no stack to talk to: run `autovid up`, or pass --stack NAME (AWS)")
    return RunTarget(_sfn_client(args.aws_endpoint, {}), args.state_machine, args.api, env_key, args.aws_endpoint)


def _sfn_client(endpoint: str | None, environment: dict[str, str]) -> Any:
    return _client("stepfunctions", endpoint, environment)


def _client(service: str, endpoint: str | None, environment: dict[str, str]) -> Any:
    session = boto3.session.Session(
        aws_access_key_id=environment.get("AWS_ACCESS_KEY_ID"),
        aws_secret_access_key=environment.get("AWS_SECRET_ACCESS_KEY"),
        region_name=environment.get("AWS_REGION"),
    )
    return session.client(service, endpoint_url=endpoint or None)


# --- reading executions -----------------------------------------------------------------------


def full_history(sfn: Any, execution_arn: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for page in sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn):
        events.extend(page["events"])
    return events


def job_id_of(description: dict[str, Any]) -> str | None:
    return job_id_from_input(description.get("input"))


def failed_state(definition: dict[str, Any], events: list[dict[str, Any]]) -> str | None:
    """The top-level state an unsuccessful execution stopped in (states inside a Map or Parallel
    count as that Map or Parallel)."""
    from autovid_cli.run_graph import state_runs

    return next((name for name, run in state_runs(definition, events).items() if run.outcome == "failed"), None)


def execution_definition(sfn: Any, execution_arn: str) -> dict[str, Any]:
    return json.loads(sfn.describe_state_machine_for_execution(executionArn=execution_arn)["definition"])


# --- autovid runs ---------------------------------------------------------------------------


def list_runs(target: RunTarget, status: str | None, limit: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    token = None
    while len(rows) < limit:
        page, token = list_runs_page(target, status=status, limit=min(limit - len(rows), 1000), next_token=token)
        rows.extend(page)
        if not token:
            break
    return rows


def list_runs_page(
    target: RunTarget,
    *,
    status: str | None = None,
    redrive_filter: str | None = None,
    limit: int = 20,
    next_token: str | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of executions, newest first, as rows (see :func:`execution_row`), and the next page's token."""
    if not target.state_machine_arn:
        raise TargetError("no state machine: pass --state-machine ARN or --stack NAME")
    request: dict[str, Any] = {"stateMachineArn": target.state_machine_arn, "maxResults": limit}
    if status:
        request["statusFilter"] = status
    if redrive_filter:
        request["redriveFilter"] = redrive_filter
    if next_token:
        request["nextToken"] = next_token
    page = target.sfn.list_executions(**request)
    rows = [execution_row(target.sfn, item["executionArn"]) for item in page["executions"]]
    return rows, page.get("nextToken")


def execution_row(sfn: Any, execution_arn: str, description: dict[str, Any] | None = None) -> dict[str, Any]:
    """What `autovid runs` and the console's executions list show of one execution."""
    description = description or sfn.describe_execution(executionArn=execution_arn)
    unsuccessful = description["status"] in {"FAILED", "TIMED_OUT", "ABORTED"}
    return {
        "name": description["name"],
        "jobId": job_id_of(description),
        "status": description["status"],
        "startDate": description["startDate"].isoformat(),
        "seconds": round(seconds_between(description["startDate"], description.get("stopDate")), 3),
        "redriveCount": description.get("redriveCount", 0),
        "redriveStatus": description.get("redriveStatus"),
        "failedState": (
            failed_state(execution_definition(sfn, execution_arn), full_history(sfn, execution_arn))
            if unsuccessful
            else None
        ),
        "executionArn": execution_arn,
    }


def run_runs(args: argparse.Namespace) -> int:
    try:
        rows = list_runs(find_target(args), args.status, args.limit)
    except CLIENT_ERRORS as error:
        return _fail(error)
    if args.json:
        for row in rows:
            print(json.dumps(row))
        return EXIT_OK
    header = ("JOB ID", "STATUS", "STARTED (UTC)", "DURATION", "REDRIVES", "FAILED STATE")
    table = [header] + [
        (
            row["jobId"] or "-",
            row["status"],
            dt.datetime.fromisoformat(row["startDate"]).astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S"),
            format_duration(row["seconds"]),
            str(row["redriveCount"]),
            row["failedState"] or "-",
        )
        for row in rows
    ]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    for line in table:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())
    if not rows:
        print("(no executions)", file=sys.stderr)
    return EXIT_OK


@dataclass
class LoadedRun:
    arn: str
    description: dict[str, Any]
    events: list[dict[str, Any]]
    definition: dict[str, Any] | None = None


def load_run(args: argparse.Namespace, *, with_definition: bool = False) -> LoadedRun:
    """The execution named by ``args.job`` (a job id or an ARN): its description and history."""
    target = find_target(args)
    arn = target.execution_arn(args.job)
    return LoadedRun(
        arn=arn,
        description=target.sfn.describe_execution(executionArn=arn),
        events=full_history(target.sfn, arn),
        definition=execution_definition(target.sfn, arn) if with_definition else None,
    )


# --- autovid history ------------------------------------------------------------------------


def run_history(args: argparse.Namespace) -> int:
    from autovid_cli.run_history import WIDTH, format_timeline, timeline

    try:
        run = load_run(args)
    except CLIENT_ERRORS as error:
        return _fail(error)
    description, events = run.description, run.events
    if args.json:
        print(json.dumps(events, default=str, indent=2))
        return EXIT_OK
    title = f"{description['name']}  job {job_id_of(description) or '-'}  {description['status']}"
    if description.get("redriveCount"):
        title += f"  (redriven {description['redriveCount']}x)"
    width = max(WIDTH, shutil.get_terminal_size((WIDTH, 24)).columns)
    print(format_timeline(timeline(events), title=title, width=width).rstrip("\n"))
    return EXIT_OK


# --- autovid graph --------------------------------------------------------------------------


def run_graph(args: argparse.Namespace) -> int:
    from autovid_cli.run_graph import execution_attempts, render_svg, state_runs

    try:
        run = load_run(args, with_definition=True)
    except CLIENT_ERRORS as error:
        return _fail(error)
    description, events, definition = run.description, run.events, run.definition
    attempts = execution_attempts(events)
    if args.attempt is not None and not 1 <= args.attempt <= attempts:
        return _fail(TargetError(f"--attempt must be between 1 and {attempts} for this execution"), EXIT_BAD_INPUT)
    attempt = args.attempt or attempts
    runs = state_runs(definition, events, attempt)
    title = f"{description['name']} · job {job_id_of(description) or '-'} · {description['status']}"
    if attempts > 1:
        title += f" · attempt {attempt} of {attempts}"
    try:
        args.output.write_text(render_svg(definition, runs, title))
    except OSError as error:
        return _fail(TargetError(f"cannot write {args.output}: {error.strerror}"), EXIT_BAD_INPUT)
    summary = ", ".join(
        f"{name} {run.outcome.replace('_', ' ')}" + (" (redriven)" if run.failed_before_redrive else "")
        for name, run in runs.items()
        if run.outcome != "not_reached"
    )
    print(f"wrote {args.output}: {summary}")
    return EXIT_OK


# --- autovid redrive ------------------------------------------------------------------------


def not_redrivable_message(description: dict[str, Any]) -> str | None:
    """Why the execution cannot be redriven, in words for the operator; None when it can."""
    status = description["status"]
    name = description["name"]
    if status in {"RUNNING", "PENDING_REDRIVE"}:
        return f"execution {name} is still running: nothing to redrive (wait for it, or stop it first)"
    if status == "SUCCEEDED":
        return f"execution {name} succeeded: there is nothing to redrive"
    stopped = description.get("stopDate")
    if isinstance(stopped, dt.datetime) and dt.datetime.now(dt.UTC) - stopped > REDRIVE_WINDOW:
        return (
            f"execution {name} stopped on {stopped:%Y-%m-%d}, more than {REDRIVE_WINDOW.days} days ago: past Step "
            "Functions' redrive period; submit the job again"
        )
    if description.get("redriveStatus") == "NOT_REDRIVABLE":
        reason = description.get("redriveStatusReason") or "no reason given"
        return f"execution {name} cannot be redriven: {reason}"
    return None


def run_redrive(args: argparse.Namespace) -> int:
    try:
        target = find_target(args)
        arn = target.execution_arn(args.job)
        description = target.sfn.describe_execution(executionArn=arn)
        refusal = not_redrivable_message(description)
        if refusal:
            print(f"autovid: {refusal}", file=sys.stderr)
            return EXIT_FAILED
        state = failed_state(execution_definition(target.sfn, arn), full_history(target.sfn, arn))
        try:
            redriven = target.sfn.redrive_execution(executionArn=arn)
        except BotoClientError as error:
            if error.response.get("Error", {}).get("Code") != "ExecutionNotRedrivable":
                raise
            message = error.response["Error"].get("Message", "")
            print(f"autovid: execution {description['name']} cannot be redriven: {message}", file=sys.stderr)
            return EXIT_FAILED
    except CLIENT_ERRORS as error:
        return _fail(error)
    count = (description.get("redriveCount") or 0) + 1
    print(
        f"redriven execution {description['name']} (redrive {count}) at "
        f"{redriven['redriveDate']:%Y-%m-%d %H:%M:%S}: resuming at {state or 'its start'}",
        file=sys.stderr,
    )
    if not args.wait:
        return EXIT_OK
    job_id = args.job if not args.job.startswith("arn:") else job_id_of(description)
    if not (target.api_url and job_id):
        return _fail(TargetError("--wait needs the REST API and a job id"), EXIT_BAD_INPUT)
    try:
        # The job's own status may still be the old `failed` for a moment: wait for the run first.
        ended = wait_for_execution_end(target.sfn, arn, timeout=args.timeout)
        job = wait_for_job(target.api(), job_id, timeout=60.0)
    except (*CLIENT_ERRORS, WaitTimeoutError) as error:
        return _fail(error)
    print(json.dumps(job, indent=2))
    if ended["status"] != "SUCCEEDED":
        print(f"autovid: the redriven execution ended {ended['status']}: {ended.get('error')}", file=sys.stderr)
    return EXIT_OK if job["status"] == "completed" else EXIT_FAILED


def wait_for_execution_end(sfn: Any, execution_arn: str, *, timeout: float, poll_seconds: float = 0.5) -> dict:
    """DescribeExecution once the execution is no longer running; WaitTimeoutError after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        description = sfn.describe_execution(executionArn=execution_arn)
        if description["status"] not in {"RUNNING", "PENDING_REDRIVE"}:
            return description
        if time.monotonic() > deadline:
            raise WaitTimeoutError(f"execution {description['name']} is still running after {timeout:.0f}s")
        time.sleep(poll_seconds)


def _fail(error: Exception, code: int | None = None) -> int:
    print(f"autovid: {error}", file=sys.stderr)
    if code is not None:
        return code
    if isinstance(error, TargetError) or (isinstance(error, ApiError) and error.status < 500):
        return EXIT_BAD_INPUT
    if isinstance(error, BotoClientError) and error.response.get("Error", {}).get("Code") in NOT_FOUND_CODES:
        return EXIT_BAD_INPUT
    return EXIT_FAILED
