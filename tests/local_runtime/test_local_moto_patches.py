"""Smoke tests for the moto patches: each failure names the patch a moto upgrade broke."""

from __future__ import annotations

import inspect
import json
import re
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from autovid.core.errors import TransientError
from sam_emulator.dynamodb.patches import dynamodb_patches
from sam_emulator.errors import MotoPatchError
from sam_emulator.stepfunctions.patches import ScaledClock, all_patches
from sam_emulator.testing import TEST_WAIT_SCALE, run_execution, wait_until


@pytest.mark.parametrize("patch", all_patches() + dynamodb_patches(), ids=lambda patch: patch.name)
def test_patched_moto_internal_still_has_the_expected_shape(patch):
    try:
        patch.check()
    except MotoPatchError as error:
        pytest.fail(f"{error} - see the patch's module")


def test_in_process_lambda_invoke(runtime):
    response = runtime.client("lambda").invoke(
        FunctionName=runtime.get_att("WorkerFunction", "Arn"), Payload=json.dumps({"jobId": "p"}).encode()
    )
    payload = json.loads(response["Payload"].read())

    assert payload.get("worked"), f"moto patch 'in-process-lambda-invoke' did not run the handler: {payload}"


def test_unnamed_start_execution(runtime):
    sfn = runtime.client("stepfunctions")
    arns = {sfn.start_execution(stateMachineArn=runtime.ref("PipeTarget"))["executionArn"] for _ in range(2)}

    assert len(arns) == 2 and not any(arn.endswith(":None") for arn in arns), (
        f"moto patch 'unnamed-start-execution' no longer names executions: {arns}"
    )


def test_execution_listener(runtime):
    seen = []
    runtime.execution_observers.append(seen.append)
    try:
        description = run_execution(runtime, "PipeTarget", {"jobId": "observed"})
        wait_until(
            lambda: len([c for c in seen if c.execution_arn == description["executionArn"]]) == 2,
            timeout=5,
            what="moto patch 'execution-listener' to report start and end",
        )
    finally:
        runtime.execution_observers.remove(seen.append)

    statuses = [change.status for change in seen if change.execution_arn == description["executionArn"]]
    assert statuses == ["RUNNING", "SUCCEEDED"], f"moto patch 'execution-listener' reported {statuses}"


def test_scaled_retry_wait(runtime):
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl

    clock = retrier_decl.time
    assert isinstance(clock, ScaledClock), "moto patch 'scaled-retry-wait' is not installed"
    clock.requested.clear()
    runtime.inject_fault("WorkerFunction", lambda: TransientError("flaky"), times=2)

    description = run_execution(runtime, "JobWorkflow", {"jobId": f"scaled-{time.time_ns()}"})

    assert description["status"] == "SUCCEEDED"
    # IntervalSeconds 1, BackoffRate 2: the retrier asked for 1 s and 2 s, and slept 1% of that.
    assert list(clock.requested) == [1.0, 2.0], "moto patch 'scaled-retry-wait' did not see the Retry waits"
    assert clock.scale == TEST_WAIT_SCALE


def fan_out(runtime, count: int = 6) -> dict:
    items = [{"fn": "a" if i % 2 == 0 else "b", "pause": 0.5} for i in range(count)]
    return run_execution(runtime, "FanOutWorkflow", {"items": items}, timeout=20)


def test_aws_entered_time(runtime):
    description = fan_out(runtime, count=2)
    entered = description["output"]["entered"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", entered), (
        f"moto patch 'aws-entered-time' did not write Step Functions' format: {entered}"
    )


def test_scaled_wait_state_and_task_states_run_handlers_in_process(runtime):
    # A 30 s Wait: without 'scaled-wait-state' the execution would not finish within the timeout.
    description = fan_out(runtime)
    assert description["status"] == "SUCCEEDED", "moto patch 'scaled-wait-state' did not shorten the Wait"
    results = description["output"]["results"]
    assert [r["probe"] for r in results] == ["alpha", "bravo"] * 3, (
        "moto patch 'in-process-lambda-invoke' did not run Task states' handlers, each in its environment"
    )
    assert {r["functionName"] for r in results} == {runtime.ref("EnvProbeA"), runtime.ref("EnvProbeB")}


def most_at_once(calls: list[dict]) -> int:
    """The largest number of handler calls that were running at the same moment."""
    edges = sorted([(c["startedAt"], 1) for c in calls] + [(c["endedAt"], -1) for c in calls])
    running = peak = 0
    for _, step in edges:
        running += step
        peak = max(peak, running)
    return peak


def test_map_iterations_and_several_executions_run_concurrently(runtime):
    with ThreadPoolExecutor(max_workers=4) as pool:
        descriptions = list(pool.map(lambda _: fan_out(runtime), range(4)))
    assert all(d["status"] == "SUCCEEDED" for d in descriptions)
    assert all([r["probe"] for r in d["output"]["results"]] == ["alpha", "bravo"] * 3 for d in descriptions)
    assert all(most_at_once(d["output"]["results"]) > 1 for d in descriptions), "Map iterations overlap"
    assert most_at_once([r for d in descriptions for r in d["output"]["results"]]) > 6, "executions overlap"


def test_a_repeated_named_start_is_announced_once(runtime):
    seen = []
    runtime.execution_observers.append(seen.append)
    sfn = runtime.client("stepfunctions")
    name, payload = f"same-{time.time_ns()}", json.dumps({"items": []})
    try:
        first = sfn.start_execution(stateMachineArn=runtime.ref("FanOutWorkflow"), name=name, input=payload)
        try:
            again = sfn.start_execution(stateMachineArn=runtime.ref("FanOutWorkflow"), name=name, input=payload)
            assert again["executionArn"] == first["executionArn"], "AWS returns the running execution"
        except sfn.exceptions.ExecutionAlreadyExists:
            pass
        wait_until(
            lambda: any(c.status == "SUCCEEDED" and c.execution_arn == first["executionArn"] for c in seen),
            what="the execution to end",
        )
    finally:
        runtime.execution_observers.remove(seen.append)
    starts = [c for c in seen if c.execution_arn == first["executionArn"] and c.status == "RUNNING"]
    assert len(starts) == 1, "moto patch 'unnamed-start-execution' announced a repeated start twice"


def test_an_execution_that_ends_before_its_start_returns_is_reported_in_order():
    from types import SimpleNamespace

    from sam_emulator.stepfunctions.patches import MotoPatches

    reported: list[tuple[str, str]] = []
    listener = SimpleNamespace(
        execution_started=lambda e: reported.append(("started", e.exec_arn)),
        execution_finished=lambda e: reported.append(("finished", e.exec_arn)),
    )
    patches = MotoPatches(dispatch_lambda=lambda *_: None, execution_listener=listener)
    terminated = patches._build_terminated(lambda communication: None)
    quick = SimpleNamespace(exec_arn="arn:quick")

    def start_that_finishes_at_once(backend, machine, name, execution_input, trace_header):
        terminated(SimpleNamespace(execution=quick))  # the worker thread won the race
        return quick

    patches._build_start_execution(start_that_finishes_at_once)(None, "arn:machine", "quick", "{}", None)
    assert reported == [("started", "arn:quick"), ("finished", "arn:quick")]

    slow = SimpleNamespace(exec_arn="arn:slow")
    start = patches._build_start_execution(lambda *args: slow)
    start(None, "arn:machine", "slow", "{}", None)
    start(None, "arn:machine", "slow", "{}", None)  # the same name and input while running
    terminated(SimpleNamespace(execution=slow))
    assert reported[2:] == [("started", "arn:slow"), ("finished", "arn:slow")]


def test_the_redrive_patch_fails_loudly_once_moto_implements_redrive(monkeypatch):
    from moto.stepfunctions.responses import StepFunctionResponse

    patch = next(p for p in all_patches() if p.name == "redrive-execution")
    patch.check()  # moto 5.2.5 has no RedriveExecution: the patch adds it
    monkeypatch.setattr(StepFunctionResponse, "redrive_execution", lambda self: None, raising=False)
    with pytest.raises(MotoPatchError, match="redrive-execution.*moto implements it"):
        patch.check()


def test_redrive_execution(runtime):
    """The whole redrive path through moto's HTTP front end (details in test_local_redrive.py)."""
    sfn = runtime.client("stepfunctions")
    runtime.inject_fault("FlakyStepFunction", lambda: TransientError("B down"), times=1)
    failed = run_execution(runtime, "RedriveWorkflow", {"runId": "patch-smoke"})
    assert failed["status"] == "FAILED", failed
    try:
        sfn.redrive_execution(executionArn=failed["executionArn"])
    except Exception as error:  # noqa: BLE001 - reported as the patch that broke
        pytest.fail(f"moto patch 'redrive-execution' failed: {error!r}")
    description = wait_until(
        lambda: (d := sfn.describe_execution(executionArn=failed["executionArn"]))["status"] != "RUNNING" and d,
        what="the redriven execution",
    )
    assert (description["status"], description.get("redriveCount")) == ("SUCCEEDED", 1), (
        f"moto patches 'redrive-*' no longer resume executions: {description}"
    )


def test_stop_wins_over_a_late_task_failure(runtime):
    import threading

    sfn = runtime.client("stepfunctions")
    entered, release = threading.Event(), threading.Event()

    def blocked() -> Exception:
        entered.set()
        release.wait(10)
        return TransientError("failed after the stop")

    runtime.inject_fault("StepFunction", blocked, times=1)
    arn = sfn.start_execution(stateMachineArn=runtime.ref("RedriveWorkflow"), input='{"runId": "s"}')["executionArn"]
    assert entered.wait(10)
    sfn.stop_execution(executionArn=arn)
    release.set()
    description = wait_until(
        lambda: (d := sfn.describe_execution(executionArn=arn))["status"] != "RUNNING" and d, what="the stop"
    )
    assert description["status"] == "ABORTED", f"moto patch 'stop-wins' did not keep the stop: {description}"


def _installed(name: str):
    [patch] = [p for p in all_patches() if p.name == name]
    patch.apply()
    return patch


def test_a_definition_is_parsed_once_and_every_execution_gets_its_own_program():
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser, ASLParserException

    definition = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}})
    before = inspect.getattr_static(AmazonStateLanguageParser, "parse")
    patch = _installed("parsed-definition-cache")
    try:
        first_program, first_tree = AmazonStateLanguageParser.parse(definition)
        second_program, second_tree = AmazonStateLanguageParser.parse(definition)
        for _ in range(2):  # a definition that does not parse is refused every time
            with pytest.raises(ASLParserException):
                AmazonStateLanguageParser.parse('{"StartAt": ')
    finally:
        patch.undo()
    assert second_tree is first_tree
    assert second_program is not first_program
    assert type(second_program) is type(first_program)
    assert inspect.getattr_static(AmazonStateLanguageParser, "parse") is before, "undone: put back as it was"


def test_task_clients_are_made_once_per_service_and_endpoint():
    from moto.stepfunctions.parser.asl.utils import boto_client
    from moto.stepfunctions.parser.asl.utils.boto_client import boto_client_for

    before = boto_client.boto3
    patch = _installed("shared-task-clients")
    try:
        first, again = boto_client_for("us-east-1", "lambda"), boto_client_for("us-east-1", "lambda")
        other_service, other_region = boto_client_for("us-east-1", "sqs"), boto_client_for("eu-west-1", "lambda")
    finally:
        patch.undo()
    assert again is first
    assert len({id(first), id(other_service), id(other_region)}) == 3
    assert boto_client.boto3 is before, "undone: put back as it was"
