"""Status bookkeeping around the workflow steps, and the status-sync function."""

from __future__ import annotations

import json
from typing import Any

import pytest
from support import minimal_spec

from autovid.aws.jobs import JobsTable
from autovid.core.clock import parse_iso
from autovid.core.config import Config, Limits, Settings
from autovid.core.errors import (
    AssetNotFoundError,
    DownloadTimeoutError,
    InvalidTransitionError,
    PermanentError,
    TransientError,
    UpstreamUnavailableError,
)
from autovid.jobs import execution_sync as sync
from autovid.jobs.destinations import destination_of
from autovid.jobs.records import JobError, JobOutput, JobStatus, new_job_record
from autovid.jobs.transitions import JobStatusManager
from autovid.spec import parse_spec
from autovid.workflow.render_video import ProgressReporter
from autovid.workflow.runner import FINALIZE, RENDER, UPLOAD, VALIDATE, StepInput, StepRunner

ARN = "arn:aws:states:us-east-1:123456789012:execution:VideoJob:run-1"
OTHER_ARN = "arn:aws:states:us-east-1:123456789012:execution:VideoJob:run-2"


@pytest.fixture
def jobs(aws: dict) -> JobStatusManager:
    return JobStatusManager(JobsTable(Settings().jobs_table))


def stored_job(jobs: JobStatusManager, status: JobStatus, owner: str | None = ARN) -> str:
    record = new_job_record(parse_spec(minimal_spec(), Limits()), ttl_seconds=3600)
    record["status"] = status.value
    if owner:
        record["executionArn"] = owner
    jobs.table.create(record)
    return record["jobId"]


def step(
    job_id: str, retry_count: int = 0, arn: str = ARN, redrive_count: int | None = None, legacy: bool = False
) -> StepInput:
    """A step's input as the state machine sends it, with ``$$.Execution`` (RedriveCount is
    omitted when None); ``legacy``: as a definition from before steps received ``$$.Execution``."""
    execution = {"Id": arn, "Name": arn.rsplit(":", 1)[1], "StartTime": "2026-11-28T12:00:00Z"}
    if redrive_count is not None:
        execution["RedriveCount"] = redrive_count
    payload = {"jobId": job_id, "executionArn": arn, "retryCount": retry_count, "execution": execution}
    if legacy:
        del payload["execution"]
    return StepInput.model_validate(payload)


def history(jobs: JobStatusManager, job_id: str) -> list[str]:
    return [h["status"] for h in jobs.get(job_id)["statusHistory"]][1:]


def test_a_successful_step_returns_its_result_and_shows_progress(jobs: JobStatusManager) -> None:
    job_id = stored_job(jobs, JobStatus.PROCESSING)
    assert StepRunner(VALIDATE, step(job_id), Config.from_env()).run(lambda record: record["jobId"]) == job_id
    record = jobs.get(job_id)
    assert record["status"] == "processing" and history(jobs, job_id) == []
    assert record["progress"]["state"] == VALIDATE


def test_transient_failure_with_retries_left_marks_retrying(jobs: JobStatusManager) -> None:
    job_id = stored_job(jobs, JobStatus.PROCESSING)

    def flaky(_record: dict) -> None:
        raise DownloadTimeoutError("asset 'music' timed out", asset_id="music")

    with pytest.raises(TransientError) as caught:
        StepRunner(RENDER, step(job_id, retry_count=0), Config.from_env()).run(flaky)
    assert type(caught.value) is TransientError, "the state machine's Retry matches the exact name"
    assert str(caught.value) == "DownloadTimeoutError: asset 'music' timed out"
    record = jobs.get(job_id)
    assert record["status"] == "retrying"
    assert record["attempts"] == 1
    assert record["lastError"] == {
        "type": "DownloadTimeoutError",
        "message": "asset 'music' timed out",
        "state": RENDER,
    }


def test_the_next_attempt_resumes_processing(jobs: JobStatusManager) -> None:
    job_id = stored_job(jobs, JobStatus.RETRYING)
    StepRunner(RENDER, step(job_id, retry_count=1), Config.from_env()).run(lambda record: None)
    assert history(jobs, job_id) == ["processing"]
    assert jobs.get(job_id)["statusHistory"][-1]["reason"] == "RenderVideo attempt 2"


def test_an_attempt_that_died_silently_is_recorded_as_a_retry(jobs: JobStatusManager) -> None:
    job_id = stored_job(jobs, JobStatus.PROCESSING)
    StepRunner(RENDER, step(job_id, retry_count=2), Config.from_env()).run(lambda record: None)
    assert history(jobs, job_id) == ["retrying", "processing"]
    assert jobs.get(job_id)["statusHistory"][-2]["reason"] == "RenderVideo attempt 2 ended without a result"


def test_every_transient_failure_marks_retrying_and_leaves_the_verdict_to_step_functions(
    jobs: JobStatusManager,
) -> None:
    job_id = stored_job(jobs, JobStatus.RETRYING)

    def flaky(_record: dict) -> None:
        raise DownloadTimeoutError("still down")

    with pytest.raises(TransientError):
        StepRunner(RENDER, step(job_id, retry_count=3), Config.from_env()).run(flaky)
    record = jobs.get(job_id)
    assert history(jobs, job_id) == ["processing", "retrying"]
    assert record["attempts"] == 4
    assert record["lastError"] == {"type": "DownloadTimeoutError", "message": "still down", "state": RENDER}


def test_a_permanent_failure_marks_failed_naming_the_state(jobs: JobStatusManager) -> None:
    job_id = stored_job(jobs, JobStatus.PROCESSING)

    def missing(_record: dict) -> None:
        raise AssetNotFoundError("asset 'music': s3://bucket/assets/music.mp3 does not exist", asset_id="music")

    with pytest.raises(PermanentError) as caught:
        StepRunner(VALIDATE, step(job_id), Config.from_env()).run(missing)
    assert type(caught.value) is PermanentError
    record = jobs.get(job_id)
    assert record["status"] == "failed"
    assert record["error"]["type"] == "AssetNotFoundError"
    assert record["error"]["state"] == VALIDATE
    assert "music" in record["error"]["message"]


def test_a_bug_marks_failed_without_leaking_details(jobs: JobStatusManager) -> None:
    job_id = stored_job(jobs, JobStatus.PROCESSING)

    def buggy(_record: dict) -> None:
        raise KeyError("secret-internal-key")

    with pytest.raises(KeyError):
        StepRunner(RENDER, step(job_id), Config.from_env()).run(buggy)
    error = jobs.get(job_id)["error"]
    assert error == {"type": "InternalError", "message": "RenderVideo failed unexpectedly (KeyError)", "state": RENDER}


def test_a_redriven_step_goes_through_retrying(jobs: JobStatusManager) -> None:
    job_id = stored_job(jobs, JobStatus.FAILED)
    StepRunner(RENDER, step(job_id, redrive_count=1), Config.from_env()).run(lambda record: None)
    record = jobs.get(job_id)
    assert history(jobs, job_id) == ["retrying", "processing"]
    assert (record["statusHistory"][-2]["reason"], record["statusHistory"][-2]["redriveCount"]) == ("redrive", 1)
    assert record["redriveCount"] == 1


@pytest.mark.parametrize("redrive_count", [None, 0])
def test_a_late_step_of_a_stopped_run_cannot_reopen_its_failed_job(
    jobs: JobStatusManager, redrive_count: int | None
) -> None:
    """StopExecution (or a Lambda error Step Functions already acted on) does not stop an
    invocation that is starting: when it runs, the job is failed and the run was not redriven."""
    job_id = stored_job(jobs, JobStatus.PROCESSING)
    jobs.mark_failed(job_id, JobError(type="ExecutionAborted", message="the workflow was stopped", state=RENDER))
    before = jobs.get(job_id)
    with pytest.raises(PermanentError, match="StaleRunError: .* was not redriven since"):
        StepRunner(RENDER, step(job_id, retry_count=1, redrive_count=redrive_count), Config.from_env()).run(
            lambda record: pytest.fail("a stale run must not render")
        )
    assert jobs.get(job_id) == before, "nothing recorded: the job stays failed, with its error"


def test_a_step_of_a_run_from_before_a_redrive_changes_nothing(jobs: JobStatusManager) -> None:
    """StopExecution, then a redrive, while the first run's Lambda still runs: whatever that
    Lambda does later, the redriven run keeps the job."""
    job_id = stored_job(jobs, JobStatus.FAILED)
    StepRunner(RENDER, step(job_id, redrive_count=1), Config.from_env()).run(
        lambda record: None
    )  # redrive 1 took it back
    before = jobs.get(job_id)

    def fails(error: Exception):
        def work(_record: dict) -> None:
            raise error

        return work

    old_run = StepRunner(RENDER, step(job_id, redrive_count=0), Config.from_env())
    old_run._claim = lambda: before  # it had claimed the job before the stop
    with pytest.raises(PermanentError):
        old_run.run(fails(AssetNotFoundError("gone")))
    with pytest.raises(TransientError):
        old_run.run(fails(DownloadTimeoutError("reset")))
    assert jobs.get(job_id) == before, "the old run's failures are not recorded"
    with pytest.raises(PermanentError, match="StaleRunError: .* this step is of run 0"):
        StepRunner(UPLOAD, step(job_id, redrive_count=0), Config.from_env()).run(
            lambda record: pytest.fail("must not run")
        )
    assert jobs.get(job_id) == before
    StepRunner(UPLOAD, step(job_id, redrive_count=1), Config.from_env()).run(
        lambda record: None
    )  # the redriven run goes on
    assert jobs.get(job_id)["status"] == "processing"


def test_an_execution_from_before_steps_received_the_context_can_still_be_redriven(jobs: JobStatusManager) -> None:
    """A redrive keeps the definition the execution started with: its steps get no $$.Execution."""
    job_id = stored_job(jobs, JobStatus.FAILED)
    StepRunner(RENDER, step(job_id, legacy=True), Config.from_env()).run(lambda record: None)
    record = jobs.get(job_id)
    assert history(jobs, job_id) == ["retrying", "processing"]
    assert (record["statusHistory"][-2]["reason"], record["redriveCount"]) == ("redrive", 1)
    assert record["statusHistory"][-2]["redriveCount"] == 1


def test_each_redrive_takes_the_job_back_once(jobs: JobStatusManager) -> None:
    job_id = stored_job(jobs, JobStatus.FAILED)

    def still_broken(_record: dict) -> None:
        raise AssetNotFoundError("the asset is still missing")

    StepRunner(RENDER, step(job_id, redrive_count=1), Config.from_env()).run(lambda record: None)
    with pytest.raises(PermanentError):
        StepRunner(UPLOAD, step(job_id, redrive_count=1), Config.from_env()).run(still_broken)
    assert jobs.get(job_id)["status"] == "failed"
    with pytest.raises(PermanentError, match="StaleRunError"):
        StepRunner(UPLOAD, step(job_id, redrive_count=1), Config.from_env()).run(
            lambda record: None
        )  # redrive 1's late step
    StepRunner(UPLOAD, step(job_id, redrive_count=2), Config.from_env()).run(lambda record: None)
    record = jobs.get(job_id)
    assert history(jobs, job_id) == ["retrying", "processing", "failed", "retrying", "processing"]
    retries = [(h["reason"], h.get("redriveCount")) for h in record["statusHistory"] if h["status"] == "retrying"]
    assert retries == [("redrive", 1), ("redrive", 2)]
    assert record["redriveCount"] == 2


def test_a_late_transient_failure_cannot_reopen_a_failed_job(jobs: JobStatusManager) -> None:
    # The execution was stopped while the step ran; status sync already marked the job failed.
    job_id = stored_job(jobs, JobStatus.PROCESSING)

    def aborted_then_flaky(_record: dict) -> None:
        jobs.mark_failed(job_id, JobError(type="ExecutionAborted", message="the workflow was stopped", state=RENDER))
        raise DownloadTimeoutError("connection reset")

    with pytest.raises(TransientError):
        StepRunner(RENDER, step(job_id), Config.from_env()).run(aborted_then_flaky)
    record = jobs.get(job_id)
    assert record["status"] == "failed"
    assert history(jobs, job_id) == ["failed"]
    assert record["error"]["type"] == "ExecutionAborted"


def test_a_step_of_another_execution_cannot_fail_the_job(jobs: JobStatusManager) -> None:
    job_id = stored_job(jobs, JobStatus.PROCESSING)

    def taken_over_then_broken(_record: dict) -> None:
        jobs.table.update(
            job_id,
            update_expression="SET #owner = :other",
            condition_expression="attribute_exists(jobId)",
            names={"#owner": "executionArn"},
            values={":other": OTHER_ARN},
        )
        raise AssetNotFoundError("gone")

    with pytest.raises(PermanentError):
        StepRunner(RENDER, step(job_id), Config.from_env()).run(taken_over_then_broken)
    assert jobs.get(job_id)["status"] == "processing"


def test_a_new_attempt_clears_the_previous_attempts_error(jobs: JobStatusManager) -> None:
    job_id = stored_job(jobs, JobStatus.PROCESSING)

    def flaky(_record: dict) -> None:
        raise DownloadTimeoutError("attempt 1 failed")

    with pytest.raises(TransientError):
        StepRunner(RENDER, step(job_id, retry_count=0), Config.from_env()).run(flaky)
    assert jobs.get(job_id)["lastError"]["message"] == "attempt 1 failed"
    StepRunner(RENDER, step(job_id, retry_count=1), Config.from_env()).run(lambda record: None)
    assert jobs.get(job_id)["lastError"] is None


def test_a_job_owned_by_another_execution_is_not_touched(jobs: JobStatusManager) -> None:
    job_id = stored_job(jobs, JobStatus.PROCESSING, owner=OTHER_ARN)
    before = jobs.get(job_id)
    with pytest.raises(PermanentError, match="JobOwnedElsewhereError"):
        StepRunner(RENDER, step(job_id), Config.from_env()).run(lambda record: pytest.fail("must not run"))
    assert jobs.get(job_id) == before


def test_a_completed_job_is_final(jobs: JobStatusManager) -> None:
    job_id = stored_job(jobs, JobStatus.COMPLETED)
    before = jobs.get(job_id)
    assert (
        StepRunner(FINALIZE, step(job_id, retry_count=1), Config.from_env()).run(lambda record: record["status"])
        == "completed"
    )
    with pytest.raises(PermanentError, match="already completed"):
        StepRunner(RENDER, step(job_id), Config.from_env()).run(lambda record: pytest.fail("must not run"))
    assert jobs.get(job_id) == before


def test_progress_is_written_at_most_once_a_second(jobs: JobStatusManager, monkeypatch: pytest.MonkeyPatch) -> None:
    job_id = stored_job(jobs, JobStatus.PROCESSING)
    clock = iter([10.0, 10.2, 10.5, 11.3, 11.4, 11.5])
    monkeypatch.setattr("autovid.workflow.render_video.time.monotonic", lambda: next(clock))
    writes: list[int | None] = []
    monkeypatch.setattr(jobs, "record_progress", lambda *a, percent, **k: writes.append(percent))
    report = ProgressReporter(jobs, job_id, ARN)
    for percent in (5, 20, 40, 60, 80, 100):
        report(percent)
    assert writes == [5, 60, 100]


def test_progress_is_not_written_for_another_execution(jobs: JobStatusManager) -> None:
    job_id = stored_job(jobs, JobStatus.PROCESSING, owner=OTHER_ARN)
    assert jobs.record_progress(job_id, ARN, state=RENDER, percent=50) is False
    assert "progress" not in jobs.get(job_id)


def test_progress_is_not_written_for_a_run_from_before_a_redrive(jobs: JobStatusManager) -> None:
    job_id = stored_job(jobs, JobStatus.FAILED)
    StepRunner(RENDER, step(job_id, redrive_count=1), Config.from_env()).run(lambda record: None)
    shown = jobs.get(job_id)["progress"]
    ProgressReporter(jobs, job_id, ARN, redrive_count=0)(50)  # the stopped run's render, still going
    assert jobs.get(job_id)["progress"] == shown
    ProgressReporter(jobs, job_id, ARN, redrive_count=1)(50)
    assert jobs.get(job_id)["progress"]["percent"] == 50


@pytest.mark.parametrize(
    ("destination", "expected"),
    [
        (None, ("managed", "outputs/JOB/out.mp4")),
        ("s3://dest-bucket/videos/", ("dest-bucket", "videos/out.mp4")),
        ("s3://dest-bucket/videos", ("dest-bucket", "videos/out.mp4")),
        ("s3://dest-bucket", ("dest-bucket", "out.mp4")),
    ],
)
def test_destination(destination: str | None, expected: tuple[str, str]) -> None:
    raw = minimal_spec()
    if destination:
        raw["output"]["destination"] = destination
    assert destination_of(parse_spec(raw, Limits()), "JOB", "managed") == expected


# --- status sync ---------------------------------------------------------------------------


def change(status: str, job_id: str, arn: str = ARN, **extra: Any) -> sync.ExecutionStatusChange:
    return sync.ExecutionStatusChange.model_validate(
        {"executionArn": arn, "status": status, "input": json.dumps({"jobId": job_id}), **extra}
    )


@pytest.fixture
def failed_at(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sync, "last_entered_state", lambda arn: RENDER)


@pytest.fixture
def live_execution(monkeypatch: pytest.MonkeyPatch) -> dict:
    """What DescribeExecution answers for the job's execution (tests change it)."""
    live = {"status": "RUNNING", "redriveCount": 1}
    monkeypatch.setattr(sync, "describe_execution", lambda arn: dict(live))
    return live


def test_sync_records_a_timeout_no_step_saw(jobs: JobStatusManager, failed_at: None) -> None:
    job_id = stored_job(jobs, JobStatus.PROCESSING)
    outcome = sync.sync_job_status(change("TIMED_OUT", job_id), jobs.table)
    assert outcome == f"job {job_id} marked failed at {RENDER}"
    assert jobs.get(job_id)["error"] == {"type": "States.Timeout", "message": "the workflow timed out", "state": RENDER}


def test_sync_takes_the_message_from_a_lambda_error_cause(jobs: JobStatusManager, failed_at: None) -> None:
    job_id = stored_job(jobs, JobStatus.RETRYING)
    cause = json.dumps({"errorType": "TransientError", "errorMessage": "UpstreamUnavailableError: S3 is down"})
    sync.sync_job_status(change("FAILED", job_id, error="TransientError", cause=cause), jobs.table)
    error = jobs.get(job_id)["error"]
    assert error == {"type": "TransientError", "message": "UpstreamUnavailableError: S3 is down", "state": RENDER}


def test_sync_leaves_recorded_and_foreign_jobs_alone(jobs: JobStatusManager, failed_at: None) -> None:
    failed = stored_job(jobs, JobStatus.FAILED)
    before = jobs.get(failed)
    assert sync.sync_job_status(change("FAILED", failed), jobs.table).startswith("ignored")
    assert jobs.get(failed) == before
    foreign = stored_job(jobs, JobStatus.PROCESSING, owner=OTHER_ARN)
    assert sync.sync_job_status(change("FAILED", foreign), jobs.table).startswith("ignored")
    assert jobs.get(foreign)["status"] == "processing"


def test_sync_does_not_blame_an_earlier_attempts_error_for_a_timeout(jobs: JobStatusManager, failed_at: None) -> None:
    job_id = stored_job(jobs, JobStatus.PROCESSING)

    def flaky(_record: dict) -> None:
        raise DownloadTimeoutError("attempt 1: connection reset")

    with pytest.raises(TransientError):
        StepRunner(RENDER, step(job_id, retry_count=0), Config.from_env()).run(flaky)
    # Attempt 2 starts, then its Lambda times out: Step Functions does not retry States.Timeout.
    StepRunner(RENDER, step(job_id, retry_count=1), Config.from_env()).run(lambda record: None)
    cause = json.dumps({"errorMessage": "Task timed out after 900.00 seconds"})
    sync.sync_job_status(change("FAILED", job_id, error="Sandbox.Timedout", cause=cause), jobs.table)
    assert jobs.get(job_id)["error"] == {
        "type": "Sandbox.Timedout",
        "message": "Task timed out after 900.00 seconds",
        "state": RENDER,
    }


def test_sync_marks_a_job_that_never_started_failed(jobs: JobStatusManager, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sync, "last_entered_state", lambda arn: "MarkProcessing")
    job_id = stored_job(jobs, JobStatus.SUBMITTED, owner=None)
    sync.sync_job_status(change("FAILED", job_id, error="DynamoDB.AmazonDynamoDBException"), jobs.table)
    assert jobs.get(job_id)["error"]["state"] == "MarkProcessing"


def test_sync_marks_failed_with_the_steps_last_error_when_retries_run_out(
    jobs: JobStatusManager, failed_at: None
) -> None:
    job_id = stored_job(jobs, JobStatus.PROCESSING)

    def flaky(_record: dict) -> None:
        raise DownloadTimeoutError("asset 'music': connection reset", asset_id="music")

    with pytest.raises(TransientError):
        StepRunner(RENDER, step(job_id, retry_count=3), Config.from_env()).run(flaky)
    cause = json.dumps({"errorType": "TransientError", "errorMessage": "DownloadTimeoutError: ..."})
    sync.sync_job_status(change("FAILED", job_id, error="TransientError", cause=cause), jobs.table)
    record = jobs.get(job_id)
    assert history(jobs, job_id)[-2:] == ["retrying", "failed"]
    assert record["error"] == {
        "type": "DownloadTimeoutError",
        "message": "asset 'music': connection reset",
        "state": RENDER,
    }


def test_sync_ignores_news_older_than_the_job(jobs: JobStatusManager, failed_at: None) -> None:
    """A late FAILED event must not undo a redrive that already brought the job back."""
    job_id = stored_job(jobs, JobStatus.RETRYING)
    StepRunner(RENDER, step(job_id, retry_count=1), Config.from_env()).run(
        lambda r: None
    )  # the redriven step is running
    stopped_before = int(parse_iso(jobs.get(job_id)["statusHistory"][0]["at"]).timestamp() * 1000)
    outcome = sync.sync_job_status(change("FAILED", job_id, stopDate=stopped_before), jobs.table)
    assert outcome.startswith("ignored")
    assert jobs.get(job_id)["status"] == "processing"


def test_sync_ignores_a_failure_from_before_a_redrive(jobs: JobStatusManager, failed_at: None) -> None:
    job_id = stored_job(jobs, JobStatus.FAILED)
    StepRunner(RENDER, step(job_id, redrive_count=1), Config.from_env()).run(
        lambda r: None
    )  # redrive 1: the step runs again
    outcome = sync.sync_job_status(change("FAILED", job_id, redriveCount=0), jobs.table)
    assert outcome == f"ignored: job {job_id} was redriven after this run stopped"
    assert jobs.get(job_id)["status"] == "processing"


def test_a_late_event_cannot_fail_a_redrive_that_found_the_job_still_retrying(
    jobs: JobStatusManager, failed_at: None
) -> None:
    """Retries ran out with the job `retrying`; the FAILED event is late (EventBridge retrying,
    or waiting in the dead-letter queue) and the operator redrives first."""
    job_id = stored_job(jobs, JobStatus.RETRYING)
    stopped_at = int(parse_iso(jobs.get(job_id)["updatedAt"]).timestamp() * 1000)
    StepRunner(RENDER, step(job_id, redrive_count=1), Config.from_env()).run(
        lambda r: None
    )  # the redriven step claims the job
    assert jobs.get(job_id)["redriveCount"] == 1, "the redrive is counted although the job was not failed"
    outcome = sync.sync_job_status(change("FAILED", job_id, stopDate=stopped_at, redriveCount=0), jobs.table)
    assert outcome.startswith("ignored")
    assert jobs.get(job_id)["status"] == "processing"


def test_sync_fails_a_job_whose_stopped_step_recorded_a_retry_afterwards(
    jobs: JobStatusManager, failed_at: None
) -> None:
    """StopExecution does not stop the running Lambda; its late TransientError must not leave the
    job `retrying` with no execution behind it."""
    job_id = stored_job(jobs, JobStatus.PROCESSING)
    stopped_at = int(parse_iso(jobs.get(job_id)["updatedAt"]).timestamp() * 1000)

    def flaky(_record: dict) -> None:
        raise DownloadTimeoutError("connection reset")

    with pytest.raises(TransientError):
        StepRunner(RENDER, step(job_id), Config.from_env()).run(flaky)  # after the stop, before the event arrives
    assert jobs.get(job_id)["status"] == "retrying"
    sync.sync_job_status(change("ABORTED", job_id, stopDate=stopped_at, redriveCount=0), jobs.table)
    record = jobs.get(job_id)
    assert record["status"] == "failed"
    assert record["error"] == {"type": "ExecutionAborted", "message": "the workflow was stopped", "state": RENDER}


def test_sync_ignores_executions_that_did_not_fail(jobs: JobStatusManager) -> None:
    job_id = stored_job(jobs, JobStatus.PROCESSING)
    assert sync.sync_job_status(change("RUNNING", job_id), jobs.table).startswith("ignored")
    assert sync.sync_job_status(change("SUCCEEDED", job_id), jobs.table).startswith("ignored")
    assert jobs.get(job_id)["status"] == "processing"


def test_a_failed_progress_write_does_not_fail_the_render(
    jobs: JobStatusManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    def throttled(*args: object, **kwargs: object) -> bool:
        raise UpstreamUnavailableError("DynamoDB UpdateItem failed (ProvisionedThroughputExceededException)")

    monkeypatch.setattr(jobs, "record_progress", throttled)
    ProgressReporter(jobs, "job", ARN)(50)  # logs and carries on


def test_sync_marks_a_redriven_job_retrying_before_its_step_runs(
    jobs: JobStatusManager, failed_at: None, live_execution: dict
) -> None:
    job_id = stored_job(jobs, JobStatus.FAILED)
    outcome = sync.sync_job_status(change("RUNNING", job_id, redriveCount=1), jobs.table)
    assert outcome == f"job {job_id} marked retrying: redrive 1"
    record = jobs.get(job_id)
    assert (record["status"], record["redriveCount"]) == ("retrying", 1)
    assert {k: record["statusHistory"][-1][k] for k in ("status", "reason", "redriveCount")} == {
        "status": "retrying",
        "reason": "redrive",
        "redriveCount": 1,
    }
    StepRunner(RENDER, step(job_id, redrive_count=1), Config.from_env()).run(
        lambda r: None
    )  # the redriven step then runs
    assert [h["status"] for h in jobs.get(job_id)["statusHistory"]][-2:] == ["retrying", "processing"]
    assert [h["status"] for h in jobs.get(job_id)["statusHistory"]].count("retrying") == 1, "recorded once"


def test_sync_leaves_a_redrive_the_step_already_recorded(
    jobs: JobStatusManager, failed_at: None, live_execution: dict
) -> None:
    job_id = stored_job(jobs, JobStatus.FAILED)
    StepRunner(RENDER, step(job_id, redrive_count=1), Config.from_env()).run(lambda r: None)  # the step was first
    before = jobs.get(job_id)
    assert sync.sync_job_status(change("RUNNING", job_id, redriveCount=1), jobs.table).startswith("ignored")
    assert jobs.get(job_id) == before


def test_sync_ignores_an_ordinary_start(jobs: JobStatusManager, failed_at: None, live_execution: dict) -> None:
    job_id = stored_job(jobs, JobStatus.PROCESSING)
    before = jobs.get(job_id)
    for redrive_count in (0, None):
        extra = {} if redrive_count is None else {"redriveCount": redrive_count}
        assert sync.sync_job_status(change("RUNNING", job_id, **extra), jobs.table).startswith("ignored: RUNNING")
    assert jobs.get(job_id) == before


def test_a_redriven_step_goes_on_when_status_sync_recorded_the_redrive_since_its_read(
    jobs: JobStatusManager, failed_at: None, live_execution: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The step reads `failed`; the redrive's RUNNING event is applied before the step's own write."""
    job_id = stored_job(jobs, JobStatus.FAILED)
    original = JobStatusManager.mark_redriven

    def sync_first(self: JobStatusManager, *args: Any, **kwargs: Any) -> dict:
        monkeypatch.setattr(JobStatusManager, "mark_redriven", original)  # the sync function's own write
        sync.sync_job_status(change("RUNNING", job_id, redriveCount=1), self.table)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(JobStatusManager, "mark_redriven", sync_first)
    StepRunner(RENDER, step(job_id, redrive_count=1), Config.from_env()).run(lambda r: None)
    record = jobs.get(job_id)
    assert (record["status"], record["redriveCount"]) == ("processing", 1)
    assert [h["status"] for h in record["statusHistory"]].count("retrying") == 1


def test_a_step_of_a_run_redriven_again_since_its_read_stops(
    jobs: JobStatusManager, failed_at: None, live_execution: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    live_execution["redriveCount"] = 2
    job_id = stored_job(jobs, JobStatus.FAILED)
    original = JobStatusManager.mark_redriven

    def redriven_twice_meanwhile(self: JobStatusManager, *args: Any, **kwargs: Any) -> dict:
        monkeypatch.setattr(JobStatusManager, "mark_redriven", original)
        sync.sync_job_status(change("RUNNING", job_id, redriveCount=2), self.table)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(JobStatusManager, "mark_redriven", redriven_twice_meanwhile)
    with pytest.raises(PermanentError):
        StepRunner(RENDER, step(job_id, redrive_count=1), Config.from_env()).run(lambda r: None)
    assert jobs.get(job_id)["redriveCount"] == 2


def test_a_late_running_event_does_not_reopen_a_redrive_that_failed_again(
    jobs: JobStatusManager, failed_at: None, live_execution: dict
) -> None:
    """Out of order: redrive 1 failed again (FAILED applied or not) before its RUNNING event."""
    job_id = stored_job(jobs, JobStatus.FAILED)
    live_execution.update(status="FAILED")
    before = jobs.get(job_id)
    outcome = sync.sync_job_status(change("RUNNING", job_id, redriveCount=1), jobs.table)
    assert outcome == f"ignored: redrive 1 of {ARN} is no longer running"
    assert jobs.get(job_id) == before
    live_execution.update(status="RUNNING", redriveCount=2)  # running, but a later redrive
    assert sync.sync_job_status(change("RUNNING", job_id, redriveCount=1), jobs.table).startswith("ignored")
    assert jobs.get(job_id) == before


def test_a_redrive_write_refused_for_another_reason_fails_the_step(
    jobs: JobStatusManager, failed_at: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The job moved to another execution between the step's read and its write."""
    job_id = stored_job(jobs, JobStatus.FAILED)
    original = JobStatusManager.mark_redriven

    def taken_over(self: JobStatusManager, *args: Any, **kwargs: Any) -> dict:
        self.table.update(
            job_id,
            update_expression="SET executionArn = :other",
            condition_expression="attribute_exists(jobId)",
            names={},
            values={":other": OTHER_ARN},
        )
        return original(self, *args, **kwargs)

    monkeypatch.setattr(JobStatusManager, "mark_redriven", taken_over)
    with pytest.raises(InvalidTransitionError):
        StepRunner(RENDER, step(job_id, redrive_count=1), Config.from_env()).run(lambda r: None)
    assert jobs.get(job_id)["status"] == "failed"


@pytest.mark.parametrize("state", [VALIDATE, RENDER, UPLOAD, FINALIZE])
@pytest.mark.parametrize("retry_count", [0, 1])
def test_a_step_of_a_cancelled_job_writes_nothing(jobs: JobStatusManager, state: str, retry_count: int) -> None:
    job_id = stored_job(jobs, JobStatus.PROCESSING)
    jobs.mark_cancelled(job_id)
    before = jobs.get(job_id)
    ran = []
    with pytest.raises(PermanentError, match="JobCancelledError"):
        StepRunner(state, step(job_id, retry_count=retry_count), Config.from_env()).run(ran.append)
    assert ran == [] and jobs.get(job_id) == before


def test_a_job_cancelled_while_a_step_worked_keeps_nothing_it_wrote(jobs: JobStatusManager) -> None:
    job_id = stored_job(jobs, JobStatus.PROCESSING)
    runner = StepRunner(UPLOAD, step(job_id), Config.from_env())
    removed = []

    def deliver(_record: dict) -> None:
        runner.check_not_cancelled(lambda: removed.append("first"))  # not cancelled: kept
        jobs.mark_cancelled(job_id)  # the cancel arrives while the copy runs
        runner.check_not_cancelled(lambda: removed.append("second"))

    with pytest.raises(PermanentError, match="JobCancelledError"):
        runner.run(deliver)
    assert removed == ["second"]
    record = jobs.get(job_id)
    assert record["status"] == "cancelled" and history(jobs, job_id) == ["cancelled"]
    with pytest.raises(InvalidTransitionError):
        jobs.mark_completed(job_id, JobOutput(s3Uri="s3://b/outputs/x.mp4"))
