"""Contract tests: the ASL, the template and the code agree with each other."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from cfnlint.decode import decode_str
from support import REPO_ROOT

from autovid.core.config import Limits, RenderSettings, Settings, WebhookSettings
from autovid.jobs.records import JobStatus
from autovid.jobs.transitions import ClaimFor, transition_update
from autovid.workflow.finalize_job import FinalizeStepInput
from autovid.workflow.render_video import RenderStepInput
from autovid.workflow.runner import FINALIZE, RENDER, UPLOAD, VALIDATE, StepInput
from autovid.workflow.upload_output import UploadStepInput

ASL_PATH = REPO_ROOT / "statemachine" / "video_job.asl.json"
# Each step's input model, as its handler parses it, and its sample event for `sam local invoke -e`.
STEP_INPUTS = {
    VALIDATE: (StepInput, "validate_job.json"),
    RENDER: (RenderStepInput, "render_video.json"),
    UPLOAD: (UploadStepInput, "upload_output.json"),
    FINALIZE: (FinalizeStepInput, "finalize_job.json"),
}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    decoded, matches = decode_str((REPO_ROOT / "template.yaml").read_text())
    assert not matches, matches
    return decoded


@pytest.fixture(scope="module")
def asl() -> dict[str, Any]:
    return json.loads(ASL_PATH.read_text())


def state_machine(template: dict[str, Any]) -> dict[str, Any]:
    machines = [r for r in template["Resources"].values() if r["Type"] == "AWS::Serverless::StateMachine"]
    assert len(machines) == 1
    return machines[0]["Properties"]


def test_every_asl_placeholder_resolves_to_a_template_resource(template: dict, asl: dict) -> None:
    substitutions = state_machine(template)["DefinitionSubstitutions"]
    placeholders = set(re.findall(r"\$\{(\w+)\}", ASL_PATH.read_text()))
    assert placeholders == set(substitutions)
    for name, value in substitutions.items():
        target = value.get("Fn::GetAtt", [value.get("Ref")])[0]
        assert target in template["Resources"], f"{name} -> {target} is not in the template"
        if name.endswith("FunctionArn"):
            assert template["Resources"][target]["Type"] == "AWS::Serverless::Function"
            assert value == {"Fn::GetAtt": [target, "Arn"]}


def test_every_lambda_task_invokes_a_function_of_the_template(template: dict, asl: dict) -> None:
    substitutions = state_machine(template)["DefinitionSubstitutions"]
    tasks = {name: s for name, s in asl["States"].items() if s.get("Resource") == "arn:aws:states:::lambda:invoke"}
    assert set(tasks) == {VALIDATE, RENDER, UPLOAD, FINALIZE}
    for name, state in tasks.items():
        placeholder = re.fullmatch(r"\$\{(\w+)\}", state["Parameters"]["FunctionName"])
        assert placeholder, name
        function = substitutions[placeholder[1]]["Fn::GetAtt"][0]
        assert function == f"{name}Function"


@pytest.mark.parametrize("step", list(STEP_INPUTS))
def test_each_step_gets_exactly_what_its_handler_reads(asl: dict, step: str) -> None:
    model, event_file = STEP_INPUTS[step]
    payload = asl["States"][step]["Parameters"]["Payload"]
    sent = {key.removesuffix(".$") for key in payload}
    fields = {field.alias or name: field for name, field in model.model_fields.items()}
    assert sent == set(fields), f"{step}: the ASL sends {sorted(sent)}, the handler reads {sorted(fields)}"
    # Every path the payload reads was written by an earlier state (its ResultPath), or is the job id.
    written = {"$.jobId"} | {s["ResultPath"] for s in asl["States"].values() if s.get("ResultPath")}
    for key, path in payload.items():
        if key.endswith(".$") and path.startswith("$.") and not path.startswith("$$."):
            assert any(path == w or path.startswith(w + ".") for w in written), f"{step}.{key}: nothing writes {path}"

    sample = json.loads((REPO_ROOT / "events" / event_file).read_text())
    assert set(sample) == sent, f"events/{event_file} is not the shape the state machine sends"
    parsed = model.model_validate(sample)
    assert parsed.job_id == sample["jobId"]


def test_every_lambda_task_retries_service_errors_and_transient_errors(asl: dict) -> None:
    for name in (VALIDATE, RENDER, UPLOAD, FINALIZE):
        state = asl["States"][name]
        service, transient = state["Retry"]
        assert set(service["ErrorEquals"]) == {
            "Lambda.ServiceException",
            "Lambda.AWSLambdaException",
            "Lambda.SdkClientException",
            "Lambda.TooManyRequestsException",
        }
        assert (service["IntervalSeconds"], service["BackoffRate"], service["MaxAttempts"]) == (2, 2.0, 6)
        assert service["JitterStrategy"] == "FULL"
        assert transient["ErrorEquals"] == ["TransientError"]
        assert transient["MaxAttempts"] == 3
        assert "Catch" not in state, f"{name}: a failing step must fail the execution, so a redrive re-runs it"
        assert state["Parameters"]["Payload"]["retryCount.$"] == "$$.State.RetryCount"


def test_mark_processing_uses_the_status_modules_rules(asl: dict) -> None:
    state = asl["States"]["MarkProcessing"]
    parameters = state["Parameters"]
    expected = transition_update(JobStatus.PROCESSING, at="<at>", reason="workflow started", guards=[ClaimFor("<arn>")])
    assert parameters["UpdateExpression"] == expected.update_expression
    assert parameters["ConditionExpression"] == expected.condition_expression
    assert parameters["ExpressionAttributeNames"] == expected.names
    bound = {"$$.State.EnteredTime": "<at>", "$$.Execution.Id": "<arn>"}

    def plain(value: dict) -> Any:
        ((kind, inner),) = value.items()
        if kind == "S":
            return inner
        if kind == "S.$":
            return bound[inner]
        if kind == "L":
            return [plain(v) for v in inner]
        if kind == "M":
            return {k: plain(v) for k, v in inner.items()}
        raise AssertionError(kind)

    values = {k: plain(v) for k, v in parameters["ExpressionAttributeValues"].items()}
    assert values == expected.values
    assert state["Catch"][0]["ErrorEquals"] == ["DynamoDB.ConditionalCheckFailedException"]
    # A failed condition is re-read: this run's own claim goes on, anything else is a duplicate.
    read = asl["States"][state["Catch"][0]["Next"]]
    assert read["Resource"] == "arn:aws:states:::dynamodb:getItem" and read["Parameters"]["ConsistentRead"] is True
    check = asl["States"][read["Next"]]
    assert check["Type"] == "Choice"
    assert {rule["Next"] for rule in check["Choices"]} == {"AlreadyHandled", state["Next"]}
    assert asl["States"][check["Default"]]["Type"] == "Succeed"


def test_the_pipe_feeds_the_state_machine_from_the_job_queue(template: dict) -> None:
    pipes = [r["Properties"] for r in template["Resources"].values() if r["Type"] == "AWS::Pipes::Pipe"]
    assert len(pipes) == 1
    pipe = pipes[0]
    assert pipe["Source"] == {"Fn::GetAtt": ["JobQueue", "Arn"]}
    assert pipe["SourceParameters"]["SqsQueueParameters"]["BatchSize"] == 1
    assert pipe["Target"] == {"Ref": "VideoJobStateMachine"}
    target = pipe["TargetParameters"]
    assert target["StepFunctionStateMachineParameters"]["InvocationType"] == "FIRE_AND_FORGET"
    assert target["InputTemplate"] == '{"jobId": "<$.body.jobId>"}'


def _settings_names() -> set[str]:
    """Every environment variable the code reads (all configuration goes through autovid.core.config)."""
    models = (Settings, Limits, RenderSettings, WebhookSettings)
    return {field.alias for model in models for field in model.model_fields.values()}


def test_every_variable_a_handler_reads_is_set_or_has_a_default(template: dict) -> None:
    known = _settings_names()
    global_vars = template["Globals"]["Function"]["Environment"]["Variables"]
    for name, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        variables = {**global_vars, **resource["Properties"].get("Environment", {}).get("Variables", {})}
        for required in ("DYNAMODB_JOBS_TABLE", "S3_BUCKET_NAME", "SQS_JOB_QUEUE_URL"):
            assert required in variables, f"{name} does not get {required}"
        for variable in variables:
            assert variable in known or variable.startswith("POWERTOOLS_"), f"{name}: unknown variable {variable}"
    # Where the job lives has no usable default; everything else falls back to a documented one
    # (CORS off; AWS_ENDPOINT_URL empty means AWS itself).
    optional = {"CORS_ALLOW_ORIGIN", "AWS_ENDPOINT_URL", "ALLOWED_OUTPUT_BUCKETS"}
    locations = [f.alias for f in Settings.model_fields.values() if f.default == "" and f.alias not in optional]
    assert sorted(locations) == ["DYNAMODB_JOBS_TABLE", "IDEMPOTENCY_TABLE_NAME", "S3_BUCKET_NAME", "SQS_JOB_QUEUE_URL"]
    submit = template["Resources"]["SubmitJobFunction"]["Properties"]["Environment"]["Variables"]
    assert submit["IDEMPOTENCY_TABLE_NAME"] == {"Ref": "IdempotencyTable"}, "submit needs its idempotency table"


def test_validate_and_render_see_the_same_render_settings(template: dict) -> None:
    # ValidateJob's plan promises what RenderVideo will do, so both read the same configuration.
    global_vars = template["Globals"]["Function"]["Environment"]["Variables"]

    def environment(function: str) -> dict:
        own = template["Resources"][function]["Properties"].get("Environment", {}).get("Variables", {})
        return {**global_vars, **own}

    shared = {field.alias for model in (RenderSettings, Limits) for field in model.model_fields.values()}
    validate, render = environment("ValidateJobFunction"), environment("RenderVideoFunction")
    for name in sorted(shared):
        assert validate.get(name) == render.get(name), f"{name} differs between ValidateJob and RenderVideo"


def test_step_functions_have_room_for_their_work(template: dict) -> None:
    render = template["Resources"]["RenderVideoFunction"]["Properties"]
    assert render["Timeout"] == 900 and render["MemorySize"] >= 3008
    assert render["EphemeralStorage"]["Size"] >= 10240
    # Both download every asset: a slow download must end in a typed DownloadTimeoutError (retried),
    # not in the Lambda being killed, and the assets must fit on disk.
    fetch_timeout = RenderSettings().fetch_total_timeout_seconds
    for step in (VALIDATE, RENDER):
        function = template["Resources"][f"{step}Function"]["Properties"]
        assert function["Timeout"] >= fetch_timeout + 120, step
        assert function["EphemeralStorage"]["Size"] * 1024 * 1024 >= 4 * Limits().max_asset_bytes, step
    asl = json.loads(ASL_PATH.read_text())
    for step in (VALIDATE, RENDER, UPLOAD, FINALIZE):
        function = template["Resources"][f"{step}Function"]["Properties"]
        assert asl["States"][step]["TimeoutSeconds"] > function["Timeout"], step


def test_status_events_that_cannot_be_applied_are_kept(template: dict) -> None:
    sync = template["Resources"]["SyncJobStatusFunction"]["Properties"]
    dead_letters = {"Fn::GetAtt": ["StatusSyncDeadLetterQueue", "Arn"]}
    on_failure = sync["EventInvokeConfig"]["DestinationConfig"]["OnFailure"]
    assert on_failure == {"Type": "SQS", "Destination": dead_letters}, "the function kept failing"
    rule = sync["Events"]["ExecutionStatusChange"]["Properties"]
    assert rule["DeadLetterConfig"] == {"Arn": dead_letters}, "EventBridge could not deliver"
    assert rule["RetryPolicy"]["MaximumEventAgeInSeconds"] == 86400
    statement = template["Resources"]["StatusSyncDeadLetterQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    rule_arn = {"Fn::GetAtt": ["SyncJobStatusFunctionExecutionStatusChange", "Arn"]}
    assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": rule_arn}}


def test_the_status_sync_rule_takes_unsuccessful_ends_and_redrive_starts_only(template: dict[str, Any]) -> None:
    from sam_emulator.event_sources.rules import ExecutionStatusChange, matches, status_change_event

    function = template["Resources"]["SyncJobStatusFunction"]["Properties"]
    pattern = json.loads(json.dumps(function["Events"]["ExecutionStatusChange"]["Properties"]["Pattern"]))
    assert pattern["detail"]["stateMachineArn"] == [{"Ref": "VideoJobStateMachine"}]
    machine = "arn:aws:states:us-east-1:123456789012:stateMachine:jobs"
    pattern["detail"]["stateMachineArn"] = [machine]

    def event(status: str, redrive_count: int, state_machine: str = machine) -> dict[str, Any]:
        change = ExecutionStatusChange(
            execution_arn=f"{machine}:run", state_machine_arn=state_machine, name="run", status=status,
            input="{}", redrive_count=redrive_count,
        )  # fmt: skip
        return status_change_event(change, region="us-east-1", account="123456789012")

    taken = {(s, n) for s in ("RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED") for n in (0, 1, 2)}
    taken = {(s, n) for s, n in taken if matches(pattern, event(s, n))}
    assert taken == {(s, n) for s in ("FAILED", "TIMED_OUT", "ABORTED") for n in (0, 1, 2)} | {
        ("RUNNING", 1),
        ("RUNNING", 2),
    }
    assert not matches(pattern, event("FAILED", 0, state_machine=machine + "-other"))


def test_notify_webhook_gets_its_secret_and_the_ended_jobs_stream(template: dict) -> None:
    function = template["Resources"]["NotifyWebhookFunction"]["Properties"]
    assert function["Environment"]["Variables"]["WEBHOOK_SECRET_ARN"] == {"Ref": "WebhookSigningSecret"}
    assert WebhookSettings.model_fields["secret_arn"].alias == "WEBHOOK_SECRET_ARN"
    stream = function["Events"]["JobEnded"]["Properties"]
    assert stream["Stream"] == {"Fn::GetAtt": ["JobsTable", "StreamArn"]}
    table = template["Resources"]["JobsTable"]["Properties"]
    assert table["StreamSpecification"]["StreamViewType"] == "NEW_AND_OLD_IMAGES", "notify compares old and new"
    from sam_emulator.event_sources.rules import matches

    (only,) = stream["FilterCriteria"]["Filters"]
    pattern = json.loads(only["Pattern"])

    def record(new: str, event: str = "MODIFY") -> dict:
        return {"eventName": event, "dynamodb": {"NewImage": {"status": {"S": new}}}}

    assert matches(pattern, record("completed")) and matches(pattern, record("failed"))
    assert matches(pattern, record("cancelled")), "job.cancelled"
    assert not matches(pattern, record("processing")) and not matches(pattern, record("completed", "REMOVE"))
    assert function["Timeout"] >= 5 * 10 + 20, "five 10 s attempts and the backoff between them"


@pytest.mark.parametrize(("buckets", "expected"), [("", None), ("deliveries,archive", ["deliveries", "archive"])])
def test_the_extra_output_buckets_are_all_the_upload_step_may_write_beyond_outputs(
    buckets: str, expected: list[str] | None
) -> None:
    from sam_emulator.template.parser import Template

    resolved = Template.load(
        REPO_ROOT / "template.yaml",
        endpoint_url="http://127.0.0.1:1",
        parameter_overrides={"ExtraOutputBuckets": buckets},
    )
    upload = resolved.resolve(resolved.resources["UploadOutputFunction"].properties["Policies"])
    statements = [s for policy in upload for s in policy.get("Statement", []) if s]
    writes = [s for s in statements if "s3:PutObject" in s["Action"]]
    extra = [s for s in writes if "MediaBucket" not in str(s["Resource"]) and "outputs/*" not in str(s["Resource"])]
    if expected is None:
        assert extra == [], "no ExtraOutputBuckets: no statement beyond the managed outputs/"
    else:
        (statement,) = extra
        assert statement["Resource"] == [f"arn:aws:s3:::{bucket}/*" for bucket in expected]
    for function in ("SubmitJobFunction", "ValidateJobFunction", "UploadOutputFunction"):
        variables = resolved.resolved_properties(function)["Environment"]["Variables"]
        assert variables["ALLOWED_OUTPUT_BUCKETS"] == buckets, function
