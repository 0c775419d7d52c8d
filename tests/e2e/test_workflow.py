"""The whole workflow on the local runtime: REST API, DynamoDB, SQS, the Pipe, the state
machine, the four steps and S3, with the project's own template.yaml."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import urllib.error
import urllib.request
import uuid

import numpy as np
import pytest
from e2e.conftest import VIDEO_SECONDS, Stack, wait_for_marker
from render.media import band_level, decode
from support import REFERENCE_DIR

from autovid.aws.jobs import to_attribute_values
from autovid.core.config import Limits
from autovid.core.errors import TransientError
from autovid.jobs.records import new_job_record
from autovid.render.probe import probe
from autovid.spec import parse_spec
from autovid_cli.targets import wait_for_job
from sam_emulator.testing import execution_history, wait_until


def history_of(job: dict) -> list[str]:
    return [entry["status"] for entry in job["statusHistory"]]


def s3_location(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def keys_under(stack: Stack, prefix: str) -> list[str]:
    listing = stack.runtime.client("s3").list_objects_v2(Bucket=stack.bucket, Prefix=prefix)
    return [item["Key"] for item in listing.get("Contents", [])]


def states_entered(stack: Stack, execution_arn: str) -> list[str]:
    return [
        event["stateEnteredEventDetails"]["name"]
        for event in execution_history(stack.runtime, execution_arn)
        if event["type"].endswith("StateEntered")
    ]


def test_a_job_completes_over_http(stack: Stack, tmp_path) -> None:
    job = stack.run(stack.spec())

    assert job["status"] == "completed", job["error"]
    assert history_of(job) == ["submitted", "processing", "completed"]
    assert job["completedAt"] and job["processingTime"] > 0
    output = job["output"]
    bucket, key = s3_location(output["s3Uri"])
    assert (bucket, key) == (stack.bucket, f"outputs/{job['jobId']}/e2e.mp4")

    stored = tmp_path / "stored.mp4"
    stack.runtime.client("s3").download_file(bucket, key, str(stored))
    assert stored.stat().st_size == output["size"]
    info = probe(stored)
    assert abs(info.duration - VIDEO_SECONDS) <= 1 / 25
    assert abs(output["duration"] - VIDEO_SECONDS) <= 1 / 25

    with urllib.request.urlopen(output["url"]) as response:  # the presigned URL
        assert response.read() == stored.read_bytes()

    audio = decode(stored)
    music_alone = band_level(audio, 0.0, 0.25, 330.0)
    assert music_alone > 0.01, "the music plays"
    assert band_level(audio, 3.05, 3.45, 1500.0) > 10 * band_level(audio, 2.4, 2.9, 1500.0), "the beep at 3 s"

    assert keys_under(stack, f"work/{job['jobId']}/") == [], "work files are removed"
    assert job["executionArn"]
    assert states_entered(stack, job["executionArn"])[-4:] == [
        "ValidateJob",
        "RenderVideo",
        "UploadOutput",
        "FinalizeJob",
    ]
    # ValidateJob's plan names the speech provider the render used (the stack's TtsProvider).
    final = json.loads(
        stack.runtime.client("stepfunctions").describe_execution(executionArn=job["executionArn"])["output"]
    )
    assert [event["provider"] for event in final["validation"]["plan"]["speech"]] == ["espeak-ng"]
    # ...and fingerprints the bytes it probed, which RenderVideo then insists on: the downloaded
    # audio by SHA-256, the streamed video by its S3 ETag.
    clip_bucket, clip_key = s3_location(stack.media["clip"])
    clip_etag = stack.runtime.client("s3").head_object(Bucket=clip_bucket, Key=clip_key)["ETag"]
    assert final["validation"]["plan"]["assetDigests"] == {
        "clip": f"etag:{clip_etag}",
        **{name: "sha256:" + hashlib.sha256(stack.files[name].read_bytes()).hexdigest() for name in ("music", "beep")},
    }


def test_a_transient_render_failure_is_retried(stack: Stack) -> None:
    stack.runtime.inject_fault("RenderVideoFunction", lambda: TransientError("render node went away"), times=2)
    try:
        job = stack.run(stack.spec())
    finally:
        stack.runtime.clear_faults()
    assert job["status"] == "completed", job["error"]
    assert history_of(job) == ["submitted", "processing", "retrying", "processing", "completed"]
    retry = job["statusHistory"][2]
    assert retry["reason"] == "RenderVideo attempt 2 ended without a result"
    entered = states_entered(stack, job["executionArn"])
    assert entered.count("ValidateJob") == 1
    failures = [e for e in execution_history(stack.runtime, job["executionArn"]) if e["type"] == "TaskFailed"]
    assert [f["taskFailedEventDetails"]["error"] for f in failures] == ["TransientError", "TransientError"]


def test_a_transient_error_inside_the_render_is_recorded_and_retried(stack: Stack) -> None:
    """The step's own bookkeeping: each TransientError marks retrying with the attempt and reason."""
    with stack.doubles.on("render", failCalls=2, failMessage="music host down", hold="after"):
        current = stack.api.submit(stack.spec())
        assert wait_for_marker(stack.doubles, "render.held"), "the third render call finished rendering"
        during = stack.api.status(current["jobId"])  # seen while the render step runs
        stack.doubles.release("render")
        job = wait_for_job(stack.api, current["jobId"], poll_seconds=0.1, timeout=60)
        calls = stack.doubles.calls("render")

    assert job["status"] == "completed", job["error"]
    assert history_of(job) == [
        "submitted", "processing", "retrying", "processing", "retrying", "processing", "completed"
    ]  # fmt: skip
    reasons = [entry["reason"] for entry in job["statusHistory"]]
    assert reasons[2] == "UpstreamUnavailableError: music host down (call 1)"
    assert reasons[3] == "RenderVideo attempt 2"
    assert reasons[4] == "UpstreamUnavailableError: music host down (call 2)"
    assert reasons[5] == "RenderVideo attempt 3"
    assert len(calls) == 3
    assert during["status"] == "processing"
    assert during["progress"]["state"] == "RenderVideo" and during["progress"]["percent"] == 100
    assert job["progress"] is None, "a finished job shows no progress"
    assert states_entered(stack, job["executionArn"]).count("ValidateJob") == 1


def test_retries_that_run_out_fail_the_job_at_the_failing_step(stack: Stack) -> None:
    """1 attempt + 3 retries, all failing: the execution fails at RenderVideo and the job is failed."""
    job = stack.run_with_render_failing()
    assert job["status"] == "failed"
    assert job["error"] == {"type": "TransientError", "message": "render node went away", "state": "RenderVideo"}
    assert history_of(job) == ["submitted", "processing", "failed"]
    failures = [e for e in execution_history(stack.runtime, job["executionArn"]) if e["type"] == "TaskFailed"]
    assert len(failures) == 4
    description = stack.runtime.client("stepfunctions").describe_execution(executionArn=job["executionArn"])
    assert description["status"] == "FAILED"
    assert states_entered(stack, job["executionArn"])[-1] == "RenderVideo", "a redrive would resume here"
    assert keys_under(stack, f"outputs/{job['jobId']}/") == []


def test_status_sync_is_retried_then_kept_in_its_dead_letter_queue_and_reconciled(stack: Stack) -> None:
    """A crash no step records: only SyncJobStatus can mark the job failed. Its failures are retried
    (asynchronous invoke), an event it never manages to apply waits in its queue, and ReconcileJobs
    still fails the job."""
    runtime, sqs = stack.runtime, stack.runtime.client("sqs")
    dead_letters = runtime.ref("StatusSyncDeadLetterQueue")
    try:
        runtime.inject_fault("RenderVideoFunction", lambda: MemoryError("render ran out of memory"), times=1)
        runtime.inject_fault("SyncJobStatusFunction", lambda: ConnectionError("DynamoDB unreachable"), times=1)
        job = stack.run(stack.spec())
        assert job["status"] == "failed", "the second attempt of the sync recorded it"
        assert job["error"]["state"] == "RenderVideo" and job["error"]["type"] == "MemoryError"

        runtime.inject_fault("RenderVideoFunction", lambda: MemoryError("render ran out of memory"), times=1)
        runtime.inject_fault("SyncJobStatusFunction", lambda: ConnectionError("DynamoDB unreachable"), times=3)
        stuck = stack.api.submit(stack.spec())
        message = wait_until(
            lambda: sqs.receive_message(QueueUrl=dead_letters, WaitTimeSeconds=0).get("Messages"),
            timeout=30,
            what="the status event in the dead-letter queue",
        )[0]
    finally:
        runtime.clear_faults()
    record = json.loads(message["Body"])
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    event = record["requestPayload"]
    assert event["detail-type"] == "Step Functions Execution Status Change"
    assert event["detail"]["status"] == "FAILED"
    assert json.loads(event["detail"]["input"]) in ({"jobId": stuck["jobId"]}, [{"jobId": stuck["jobId"]}])
    assert stack.api.status(stuck["jobId"])["status"] == "processing", "visible in the queue, not lost"

    # The scheduled ReconcileJobs finds it anyway (run here at once instead of after 15 min).
    report = runtime.invoke("ReconcileJobsFunction", {"olderThanSeconds": 0}).json()
    assert stuck["jobId"] in report["markedFailed"]
    final = stack.api.status(stuck["jobId"])
    assert final["status"] == "failed"
    assert final["error"]["state"] == "RenderVideo" and final["error"]["type"] == "MemoryError"


def test_a_missing_asset_fails_the_job_naming_asset_and_state(stack: Stack) -> None:
    spec = stack.spec()
    spec["assets"]["audio"][1]["source"] = f"s3://{stack.bucket}/assets/e2e/not-there.wav"
    job = stack.run(spec)
    assert job["status"] == "failed"
    assert history_of(job) == ["submitted", "processing", "failed"]
    error = job["error"]
    assert error["type"] == "AssetNotFoundError"
    assert error["state"] == "ValidateJob"
    assert "beep" in error["message"] and "not-there.wav" in error["message"]
    assert keys_under(stack, f"outputs/{job['jobId']}/") == []
    assert keys_under(stack, f"work/{job['jobId']}/") == []


def test_an_asset_replaced_after_validation_fails_the_render_naming_it(stack: Stack) -> None:
    """The render uses the bytes ValidateJob probed, or none: a file swapped in between is refused."""
    s3 = stack.runtime.client("s3")
    key = f"assets/e2e/replaced-{uuid.uuid4().hex}.mp3"
    s3.upload_file(str(stack.files["music"]), stack.bucket, key)
    spec = stack.spec()
    spec["assets"]["audio"][0]["source"] = f"s3://{stack.bucket}/{key}"
    with stack.doubles.on("render", hold="before"):
        current = stack.api.submit(spec)
        assert wait_for_marker(stack.doubles, "render.held"), "the render step started"
        s3.upload_file(str(stack.files["beep"]), stack.bucket, key)  # validated, then replaced
        stack.doubles.release("render")
        job = wait_for_job(stack.api, current["jobId"], poll_seconds=0.1, timeout=60)
        renders = [call["audio0"] for call in stack.doubles.calls("render")]

    assert renders == [f"s3://{stack.bucket}/{key}"], "a permanent error: RenderVideo ran once"
    assert job["status"] == "failed"
    assert history_of(job) == ["submitted", "processing", "failed"]
    error = job["error"]
    assert (error["type"], error["state"]) == ("AssetChangedError", "RenderVideo")
    assert error["message"].startswith("asset 'music' (assets.audio[0].source): ")
    assert key in error["message"] and "changed after the job was validated" in error["message"]
    assert keys_under(stack, f"outputs/{job['jobId']}/") == []
    assert keys_under(stack, f"work/{job['jobId']}/") == []
    failures = [e for e in execution_history(stack.runtime, job["executionArn"]) if e["type"] == "TaskFailed"]
    assert [f["taskFailedEventDetails"]["error"] for f in failures] == ["PermanentError"]


def test_the_video_is_streamed_not_copied_into_the_work_folder(stack: Stack) -> None:
    """While ffmpeg renders, the render's folder holds the audio and the output, never the video."""
    clip = hashlib.sha256(stack.files["clip"].read_bytes()).hexdigest()
    with stack.doubles.on("ffmpeg"):
        job = stack.run(stack.spec())
        seen = stack.doubles.calls("ffmpeg")

    assert job["status"] == "completed", job["error"]
    (main,) = seen
    assert main["inputs"][0].startswith("http://127.0.0.1:"), "ffmpeg reads the video from the loopback stream"
    assert clip not in main["files"].values(), f"the video is in the work folder: {main['files']}"
    assert any(name.endswith(".mp3") for name in main["files"]), "the music is downloaded"


def _changed_clip(stack: Stack, key: str) -> dict[str, str]:
    return {"bucket": stack.bucket, "key": key, "body": (stack.files["clip"].read_bytes() + b"\0").hex()}


def test_a_video_replaced_during_the_render_fails_it_with_asset_changed(stack: Stack) -> None:
    """The stream reads only the version ValidateJob probed: replaced once the render has started
    (after the render's own probe), the next read answers 412 and the job fails, naming the video."""
    key = f"assets/e2e/replaced-{uuid.uuid4().hex}.mp4"
    stack.runtime.client("s3").upload_file(str(stack.files["clip"]), stack.bucket, key)
    spec = stack.spec()
    spec["assets"]["video"]["source"] = f"s3://{stack.bucket}/{key}"
    with stack.doubles.on("ffmpeg", replace=_changed_clip(stack, key)):
        job = stack.run(spec)
        runs = stack.doubles.calls("ffmpeg")

    assert len(runs) == 1, "a permanent error: RenderVideo ran once"
    assert job["status"] == "failed"
    error = job["error"]
    assert (error["type"], error["state"]) == ("AssetChangedError", "RenderVideo")
    assert error["message"].startswith("asset 'clip' (assets.video.source): ")
    assert key in error["message"] and "changed after the job was validated" in error["message"]
    assert keys_under(stack, f"outputs/{job['jobId']}/") == []
    assert keys_under(stack, f"work/{job['jobId']}/") == []


def test_a_video_replaced_between_validation_and_render_is_refused_before_any_read(stack: Stack) -> None:
    """RenderVideo opens the stream only on the ETag ValidateJob pinned: a video replaced in between
    fails at the first request (412), before anything is rendered."""
    key = f"assets/e2e/swapped-{uuid.uuid4().hex}.mp4"
    stack.runtime.client("s3").upload_file(str(stack.files["clip"]), stack.bucket, key)
    spec = stack.spec()
    spec["assets"]["video"]["source"] = f"s3://{stack.bucket}/{key}"
    with stack.doubles.on("render", replace=_changed_clip(stack, key)), stack.doubles.on("ffmpeg", skip=True):
        job = stack.run(spec)
        ffmpeg_runs = stack.doubles.calls("ffmpeg")

    assert job["status"] == "failed"
    error = job["error"]
    assert (error["type"], error["state"]) == ("AssetChangedError", "RenderVideo")
    assert error["message"].startswith("asset 'clip' (assets.video.source): ")
    assert ffmpeg_runs == [], "nothing was rendered"


def test_a_duplicate_delivery_renders_once(stack: Stack) -> None:
    sqs = stack.runtime.client("sqs")
    queue_url = stack.runtime.ref("JobQueue")
    job = stack.api.submit(stack.spec())
    sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps({"jobId": job["jobId"]}))  # a second delivery

    final = wait_until(
        lambda: (j := stack.api.status(job["jobId"]))["status"] in ("completed", "failed") and j,
        timeout=60,
        what="the job to finish",
    )
    assert final["status"] == "completed", final["error"]
    sfn = stack.runtime.client("stepfunctions")
    machine = stack.runtime.ref("VideoJobStateMachine")

    def both_finished() -> list[dict] | None:
        mine = [
            e
            for e in sfn.list_executions(stateMachineArn=machine)["executions"]
            if job["jobId"] in sfn.describe_execution(executionArn=e["executionArn"])["input"]
        ]
        return mine if len(mine) == 2 and all(e["status"] != "RUNNING" for e in mine) else None

    executions = wait_until(both_finished, timeout=30, what="both executions to finish")
    paths = {e["executionArn"]: states_entered(stack, e["executionArn"]) for e in executions}
    assert sorted(p[-1] for p in paths.values()) == ["AlreadyHandled", "FinalizeJob"]
    assert sum(p.count("RenderVideo") for p in paths.values()) == 1, "rendered once"
    assert all(e["status"] == "SUCCEEDED" for e in executions)
    assert history_of(final) == ["submitted", "processing", "completed"]


def test_a_resent_mark_processing_write_that_had_succeeded_does_not_strand_the_job(stack: Stack) -> None:
    """MarkProcessing's Retry re-sends a write DynamoDB had applied (an error after the write):
    its condition then fails, ReadClaim finds this run owns the job, and the workflow goes on."""
    runtime, name = stack.runtime, f"resent-{uuid.uuid4().hex[:12]}"
    machine = runtime.ref("VideoJobStateMachine")
    execution_arn = machine.replace(":stateMachine:", ":execution:") + f":{name}"
    record = new_job_record(parse_spec(stack.spec(), Limits()), ttl_seconds=3600)
    record["status"], record["executionArn"] = "processing", execution_arn  # the first write's effect
    record["statusHistory"].append({"status": "processing", "at": record["submittedAt"], "reason": "workflow started"})
    runtime.client("dynamodb").put_item(TableName=runtime.ref("JobsTable"), Item=to_attribute_values(record))

    sfn = runtime.client("stepfunctions")
    sfn.start_execution(stateMachineArn=machine, name=name, input=json.dumps({"jobId": record["jobId"]}))
    job = wait_for_job(stack.api, record["jobId"], poll_seconds=0.1, timeout=60)

    assert job["status"] == "completed", job["error"]
    assert history_of(job) == ["submitted", "processing", "completed"]
    entered = states_entered(stack, execution_arn)
    assert entered[entered.index("MarkProcessing") + 1 :][:3] == ["ReadClaim", "CheckClaim", "ValidateJob"]


def test_a_failed_job_goes_back_only_to_a_redrive_of_its_own_run(stack: Stack) -> None:
    """A run finding its own job failed at MarkProcessing is either that run's redrive (it failed
    before ValidateJob) or stale. CheckClaim sends it on, and ValidateJob tells which from
    $$.Execution.RedriveCount: here the run was not redriven, so the job stays as it was."""
    runtime, name = stack.runtime, f"stale-{uuid.uuid4().hex[:12]}"
    machine = runtime.ref("VideoJobStateMachine")
    execution_arn = machine.replace(":stateMachine:", ":execution:") + f":{name}"
    record = new_job_record(parse_spec(stack.spec(), Limits()), ttl_seconds=3600)
    record["status"], record["executionArn"] = "failed", execution_arn
    record["error"] = {"type": "ExecutionFailed", "message": "MarkProcessing failed", "state": "MarkProcessing"}
    record["statusHistory"].append({"status": "failed", "at": record["submittedAt"], "reason": "MarkProcessing failed"})
    runtime.client("dynamodb").put_item(TableName=runtime.ref("JobsTable"), Item=to_attribute_values(record))

    sfn = runtime.client("stepfunctions")
    sfn.start_execution(stateMachineArn=machine, name=name, input=json.dumps({"jobId": record["jobId"]}))
    wait_until(lambda: sfn.describe_execution(executionArn=execution_arn)["status"] != "RUNNING", timeout=30)

    assert sfn.describe_execution(executionArn=execution_arn)["status"] == "FAILED"
    entered = states_entered(stack, execution_arn)
    assert entered[entered.index("MarkProcessing") :] == ["MarkProcessing", "ReadClaim", "CheckClaim", "ValidateJob"]
    failures = [e for e in execution_history(runtime, execution_arn) if e["type"] == "TaskFailed"]
    assert [f["taskFailedEventDetails"]["error"] for f in failures] == [
        "DynamoDB.ConditionalCheckFailedException",  # MarkProcessing, caught
        "PermanentError",  # ValidateJob, not retried
    ]
    assert "StaleRunError" in failures[-1]["taskFailedEventDetails"]["cause"]
    job = stack.api.status(record["jobId"])
    assert (job["status"], job["error"]["state"]) == ("failed", "MarkProcessing")
    assert history_of(job) == ["submitted", "failed"]


needs_corpus = pytest.mark.skipif(not REFERENCE_DIR.is_dir(), reason="reference corpus not present")


@needs_corpus
def test_cli_submit_wait_runs_a_reference_spec(stack: Stack, tmp_path) -> None:
    """samples/local/00_api_demo_video.spec.json, with its local paths, and the missing music
    track substituted as the corpus's README says."""
    corpus = tmp_path / "auto-vid"
    (corpus / "media" / "inputs").mkdir(parents=True)
    (corpus / "media" / "assets" / "music").mkdir(parents=True)
    (corpus / "media" / "inputs" / "api_demo_video.mp4").write_bytes(
        (REFERENCE_DIR / "media" / "inputs" / "api_demo_video.mp4").read_bytes()
    )
    from render.media import make_tone

    make_tone(corpus / "media" / "assets" / "music" / "Alternate - Vibe Tracks.mp3", 220.0, 8.0)
    spec_path = REFERENCE_DIR / "samples" / "local" / "00_api_demo_video.spec.json"
    env = {**stack.runtime.client_environment(), "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-m", "autovid_cli", "submit", str(spec_path), "--wait", "--json",
         "--api", stack.runtime.api_url, "--bucket", stack.bucket],
        cwd=corpus, env=env, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    job = json.loads(result.stdout.strip().splitlines()[-1])
    assert job["status"] == "completed"
    assert job["metadata"]["projectId"] == "api_demo"
    downloaded = corpus / "media" / "outputs" / "samples" / "api_demo_video.mp4"
    assert downloaded.is_file(), "the local output.destination is kept on the client side"
    original = probe(corpus / "media" / "inputs" / "api_demo_video.mp4")
    assert abs(probe(downloaded).duration - original.duration) <= 1 / 24
    audio = decode(downloaded)
    assert np.abs(audio).max() > 0.01, "the mix is audible"


def test_cli_reports_bad_input_with_exit_code_2(stack: Stack, tmp_path) -> None:
    spec = stack.spec()
    spec["timeline"][1]["data"]["assetId"] = "sfx_x"
    path = tmp_path / "bad.spec.json"
    path.write_text(json.dumps(spec))
    env = {**stack.runtime.client_environment(), "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-m", "autovid_cli", "submit", str(path), "--api", stack.runtime.api_url],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert "timeline[1].data.assetId: unknown audio asset 'sfx_x'" in result.stderr


def test_cli_status_prints_the_job_and_exits_by_its_outcome(stack: Stack) -> None:
    completed = stack.run(stack.spec())
    broken = stack.spec()
    broken["assets"]["audio"][1]["source"] = f"s3://{stack.bucket}/assets/e2e/not-there.wav"
    failed = stack.run(broken)
    env = {**stack.runtime.client_environment(), "PATH": "/usr/bin:/bin"}

    def status(job_id: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "autovid_cli", "status", job_id, "--api", stack.runtime.api_url, "--json"],
            env=env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip

    done = status(completed["jobId"])
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] == "completed"
    gone_wrong = status(failed["jobId"])
    assert gone_wrong.returncode == 1
    assert json.loads(gone_wrong.stdout)["error"]["state"] == "ValidateJob"
    unknown = status("00000000-0000-4000-8000-000000000000")
    assert unknown.returncode == 2 and json.loads(unknown.stdout)["error"]
    readable = subprocess.run(
        [sys.executable, "-m", "autovid_cli", "status", completed["jobId"], "--api", stack.runtime.api_url],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert readable.returncode == 0
    assert f"execution {completed['executionArn']}" in readable.stderr
    assert f"autovid history {completed['jobId']}" in readable.stderr, "locally: where to inspect the run"


def test_an_idempotency_key_makes_a_retried_submit_one_job_over_http(stack: Stack) -> None:
    def post(spec: dict) -> tuple[int, dict, dict]:
        request = urllib.request.Request(
            f"{stack.runtime.api_url.rstrip('/')}/jobs",
            data=json.dumps(spec).encode(),
            headers={"Content-Type": "application/json", "Idempotency-Key": "e2e-retry-1"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, dict(response.headers), json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), json.loads(error.read())

    spec = stack.spec()
    first_status, first_headers, first = post(spec)
    again_status, again_headers, again = post(spec)
    assert (first_status, again_status) == (202, 202)
    assert first["jobId"] == again["jobId"]
    assert (first_headers["Idempotent-Replayed"], again_headers["Idempotent-Replayed"]) == ("false", "true")
    other = stack.spec(jobInfo={"projectId": "e2e", "title": "another"})
    status, _, refused = post(other)
    assert status == 422 and refused["details"][0]["field"] == "Idempotency-Key"
    done = wait_for_job(stack.api, first["jobId"], poll_seconds=0.1, timeout=60)
    assert done["status"] == "completed"
    table = stack.runtime.ref("JobsTable")
    records = [
        item["jobId"]["S"]
        for item in stack.runtime.client("dynamodb").scan(TableName=table)["Items"]
        if item["jobId"]["S"] == first["jobId"]
    ]
    assert records == [first["jobId"]]
    executions = stack.runtime.client("stepfunctions").list_executions(
        stateMachineArn=stack.runtime.ref("VideoJobStateMachine")
    )["executions"]
    described = [
        stack.runtime.client("stepfunctions").describe_execution(executionArn=e["executionArn"])["input"]
        for e in executions
    ]
    assert sum(first["jobId"] in text for text in described) == 1, "one execution for the job"
