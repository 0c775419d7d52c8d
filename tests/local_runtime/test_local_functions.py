"""Lambdas in worker processes: environment, context, error payloads, timeouts, module loading."""

from __future__ import annotations

import json
import os
import sys
from concurrent.futures import ThreadPoolExecutor

from autovid.core.errors import TransientError


def _invoke(lambda_client, function_name: str, payload: dict) -> tuple[dict, str | None]:
    response = lambda_client.invoke(FunctionName=function_name, Payload=json.dumps(payload).encode())
    return json.loads(response["Payload"].read()), response.get("FunctionError")


def test_concurrent_functions_each_see_their_own_environment(runtime):
    lambda_client = runtime.client("lambda")
    calls = [("EnvProbeA", "alpha"), ("EnvProbeB", "bravo")] * 8

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        results = list(
            pool.map(lambda call: (_invoke(lambda_client, runtime.ref(call[0]), {"pause": 0.1}), call), calls)
        )

    for (payload, function_error), (logical_id, expected) in results:
        assert function_error is None
        assert payload["probe"] == payload["getenv"] == payload["scratch"] == expected
        assert payload["functionName"] == runtime.ref(logical_id)
        assert payload["endpoint"] == runtime.aws_endpoint_url
    assert "PROBE_VALUE" not in os.environ
    assert "SCRATCH" not in os.environ


def test_the_host_environment_does_not_leak_into_handlers(runtime, monkeypatch):
    monkeypatch.setenv("DYNAMODB_JOBS_TABLE", "a-table-on-the-host")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "https://s3.example.com")
    monkeypatch.setenv("AWS_PROFILE", "production")
    looked = ["DYNAMODB_JOBS_TABLE", "AWS_ENDPOINT_URL_S3", "AWS_PROFILE", "PATH", "AWS_REGION"]
    seen = runtime.invoke("EnvProbeA", {"pause": 0, "look": looked}).json()["looked"]
    assert seen["DYNAMODB_JOBS_TABLE"] is None and seen["AWS_ENDPOINT_URL_S3"] is None and seen["AWS_PROFILE"] is None
    assert seen["PATH"] == os.environ["PATH"], "what the OS and ffmpeg need is kept"
    assert seen["AWS_REGION"] == runtime.pseudo.region


def test_processes_a_handler_starts_get_its_environment(runtime):
    payloads = [runtime.invoke(name, {"pause": 0, "subprocess": True}).json() for name in ("EnvProbeA", "EnvProbeB")]
    assert [p["inSubprocess"] for p in payloads] == ["alpha", "bravo"]


def test_template_environment_is_resolved(runtime):
    payload = runtime.invoke("WorkerFunction", {"jobId": "env"}).json()
    assert payload["table"] == runtime.ref("JobsTable")

    result = runtime.invoke("EnvProbeA", {"pause": 0})
    assert result.json()["probe"] == "alpha"
    assert result.json()["inWorkerThread"] == "alpha", "threads a handler starts see its environment"

    function = runtime.functions.by_logical_id("WorkerFunction")
    variables = function.spec.environment
    assert variables["TABLE_NAME"] == runtime.ref("JobsTable")  # from Globals
    assert variables["STAGE"] == "test"
    assert variables["BUCKET_NAME"] == runtime.ref("ArtifactsBucket")
    assert variables["QUEUE_URL"] == f"{runtime.aws_endpoint_url}/123456789012/sam-app-JobsQueue"
    assert variables["QUEUE_ARN"] == "arn:aws:sqs:us-east-1:123456789012:sam-app-JobsQueue"
    assert variables["DESCRIPTION"] == "sam-app in us-east-1 (test)"
    assert variables["TAGGED"] == "job-test-123456789012"
    assert variables["EXTRAS"] == "off"
    assert function.spec.timeout_seconds == 10 and function.spec.memory_mb == 256


def test_direct_invoke_reports_function_error_in_aws_shape(runtime):
    runtime.inject_fault("WorkerFunction", lambda: TransientError("try later"), times=1)

    payload, function_error = _invoke(runtime.client("lambda"), runtime.ref("WorkerFunction"), {"jobId": "e"})

    assert function_error == "Unhandled"
    assert payload["errorType"] == "TransientError"
    assert payload["errorMessage"] == "try later"
    assert isinstance(payload["stackTrace"], list) and payload["requestId"]


def test_handler_exception_stack_trace_shows_handler_frames(runtime):
    result = runtime.invoke("WorkerFunction", {})  # no jobId is fine; TABLE_NAME is set

    assert not result.is_function_error
    broken = runtime.invoke("EnvProbeA", {"pause": "not a number"})
    assert broken.error_type == "TypeError"
    trace = "\n".join(broken.json()["stackTrace"])
    assert "env_probe" in trace and "sam_emulator" not in trace


def test_context_is_lambda_shaped(runtime):
    payload = runtime.invoke("WorkerFunction", {"jobId": "ctx"}).json()

    assert payload["worked"] == f"worker:{runtime.ref('WorkerFunction')}"
    assert 9000 < payload["remainingMs"] <= 10000  # Timeout: 10


def test_timeout_is_reported_like_lambda(runtime):
    result = runtime.invoke("SlowProbe", {"pause": 1.5})

    assert result.error_type == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in result.json()["errorMessage"]


def test_sibling_modules_and_layers_import_in_the_worker_only(runtime):
    payload = runtime.invoke("WorkerFunction", {"jobId": "imports"}).json()

    assert payload["worked"].startswith("worker:"), "helpers.py next to app.py"
    assert payload["eventType"] == "dict", "the layer's package, like /opt/python"
    assert "helpers" not in sys.modules and "fixture_shared" not in sys.modules, "nothing in the runtime's process"


def test_unknown_function_fault_is_rejected(runtime):
    from sam_emulator.errors import UnknownFunctionError

    try:
        runtime.inject_fault("NoSuchFunction", lambda: TransientError("x"))
    except UnknownFunctionError as error:
        assert "NoSuchFunction" in str(error)
    else:
        raise AssertionError("expected UnknownFunctionError")
