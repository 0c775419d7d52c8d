"""ReconcileJobs: jobs whose execution ended without a status event are found and failed."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError
from support import minimal_spec

from autovid.aws.jobs import JobsTable
from autovid.core.clock import iso, utc_now
from autovid.core.config import Limits, Settings
from autovid.jobs import execution_sync as sync
from autovid.jobs import reconcile
from autovid.jobs.records import JobStatus, new_job_record
from autovid.jobs.transitions import ACTIVE_STATUS_ATTRIBUTE, ACTIVE_STATUSES, JobStatusManager
from autovid.spec import parse_spec

ARN = "arn:aws:states:us-east-1:123456789012:execution:VideoJob:"
LONG_AGO = timedelta(minutes=20)


@pytest.fixture
def jobs(aws: dict) -> JobStatusManager:
    return JobStatusManager(JobsTable(Settings().jobs_table))


@pytest.fixture
def executions(monkeypatch: pytest.MonkeyPatch) -> dict[str, dict[str, Any] | None]:
    """DescribeExecution answers by ARN (absent: ExecutionDoesNotExist)."""
    known: dict[str, dict[str, Any] | None] = {}
    monkeypatch.setattr(reconcile, "describe_execution", lambda arn: known.get(arn))
    monkeypatch.setattr(sync, "last_entered_state", lambda arn: "RenderVideo")
    return known


def stored_job(jobs: JobStatusManager, status: JobStatus, *, age: timedelta = LONG_AGO, run: str = "r") -> str:
    record = new_job_record(parse_spec(minimal_spec(), Limits()), ttl_seconds=3600, now=utc_now() - age)
    record["status"] = status.value
    if status in ACTIVE_STATUSES:  # as every status change through autovid.jobs.transitions sets it
        record[ACTIVE_STATUS_ATTRIBUTE] = status.value
    record["executionArn"] = ARN + run
    jobs.table.create(record)
    return record["jobId"]


def ended(status: str, job_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "status": status,
        "input": json.dumps([{"jobId": job_id}]),
        "stopDate": datetime.now(UTC) - timedelta(minutes=15),
        "redriveCount": 0,
        **extra,
    }


def run(jobs: JobStatusManager) -> reconcile.ReconcileReport:
    return reconcile.reconcile_jobs(jobs.table, older_than=timedelta(minutes=15))


def test_a_job_whose_execution_failed_unrecorded_is_marked_failed(jobs, executions) -> None:
    job_id = stored_job(jobs, JobStatus.PROCESSING, run="lost-event")
    cause = json.dumps({"errorType": "MemoryError", "errorMessage": "render ran out of memory"})
    executions[ARN + "lost-event"] = ended("FAILED", job_id, error="MemoryError", cause=cause)
    report = run(jobs)
    assert report.markedFailed == [job_id] and report.checked == 1
    record = jobs.get(job_id)
    assert record["status"] == "failed"
    assert record["error"] == {"type": "MemoryError", "message": "render ran out of memory", "state": "RenderVideo"}


def test_timed_out_and_aborted_executions_fail_their_retrying_jobs(jobs, executions) -> None:
    timed_out = stored_job(jobs, JobStatus.RETRYING, run="t")
    aborted = stored_job(jobs, JobStatus.PROCESSING, run="a")
    executions[ARN + "t"] = ended("TIMED_OUT", timed_out)
    executions[ARN + "a"] = ended("ABORTED", aborted)
    assert sorted(run(jobs).markedFailed) == sorted([timed_out, aborted])
    assert jobs.get(timed_out)["error"]["type"] == "States.Timeout"
    assert jobs.get(aborted)["error"]["type"] == "ExecutionAborted"


def test_running_executions_and_recent_jobs_are_left_alone(jobs, executions) -> None:
    long_render = stored_job(jobs, JobStatus.PROCESSING, run="long")
    executions[ARN + "long"] = {"status": "RUNNING", "input": "{}"}
    recent = stored_job(jobs, JobStatus.PROCESSING, age=timedelta(minutes=2), run="recent")
    executions[ARN + "recent"] = ended("FAILED", recent)
    report = run(jobs)
    assert report.checked == 1 and report.running == 1 and report.markedFailed == []
    assert jobs.get(long_render)["status"] == "processing"
    assert jobs.get(recent)["status"] == "processing", "the status event may still be on its way"


def test_terminal_and_submitted_jobs_are_never_checked(jobs, executions) -> None:
    for status in (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.SUBMITTED):
        job_id = stored_job(jobs, status, run=status.value)
        executions[ARN + status.value] = ended("FAILED", job_id)
    assert run(jobs).checked == 0


def test_an_execution_that_no_longer_exists_fails_the_job(jobs, executions) -> None:
    job_id = stored_job(jobs, JobStatus.PROCESSING, run="expired")
    assert run(jobs).markedFailed == [job_id]
    assert jobs.get(job_id)["error"]["type"] == "ExecutionNotFound"


def test_a_succeeded_execution_with_an_unfinished_job_is_reported_not_hidden(jobs, executions) -> None:
    job_id = stored_job(jobs, JobStatus.PROCESSING, run="odd")
    executions[ARN + "odd"] = ended("SUCCEEDED", job_id)
    report = run(jobs)
    assert report.left == {job_id: "processing, but its execution SUCCEEDED"}
    assert jobs.get(job_id)["status"] == "processing"


def test_a_job_redriven_since_is_left_to_its_new_run(jobs, executions) -> None:
    job_id = stored_job(jobs, JobStatus.RETRYING, run="redriven")
    jobs.table.update(
        job_id,
        update_expression="SET #count = :one",
        condition_expression="attribute_exists(jobId)",
        names={"#count": "redriveCount"},
        values={":one": 1},
    )
    executions[ARN + "redriven"] = ended("FAILED", job_id, redriveCount=0)
    report = run(jobs)
    assert job_id in report.left and jobs.get(job_id)["status"] == "retrying"


def test_the_cut_off_is_the_last_change_not_submission(jobs, executions) -> None:
    job_id = stored_job(jobs, JobStatus.PROCESSING, run="busy")
    executions[ARN + "busy"] = ended("FAILED", job_id)
    jobs.table.update(
        job_id,
        update_expression="SET #updatedAt = :now",
        condition_expression="attribute_exists(jobId)",
        names={"#updatedAt": "updatedAt"},
        values={":now": iso(utc_now())},
    )
    assert run(jobs).checked == 0


def test_the_sample_events_work_with_the_handlers(aws: dict) -> None:
    from support import EVENTS_DIR, FakeLambdaContext, load_handler_module

    sync_handler = load_handler_module("sync_job_status").handler
    outcome = sync_handler(json.loads((EVENTS_DIR / "sync_job_status.json").read_text()), FakeLambdaContext())
    assert outcome == {"outcome": "ignored: job 0b7a1f4e-8c55-4e0f-9a37-5d2c1b0e9f88 not found"}

    reconcile_handler = load_handler_module("reconcile_jobs").handler
    report = reconcile_handler(json.loads((EVENTS_DIR / "reconcile_jobs.json").read_text()), FakeLambdaContext())
    assert report == {"checked": 0, "running": 0, "markedFailed": [], "left": {}}
    with pytest.raises(ValidationError, match="olderThanSeconds"):
        reconcile_handler({"olderThanSeconds": -1}, FakeLambdaContext())


def test_one_jobs_trouble_does_not_stop_the_sweep(jobs, executions, monkeypatch) -> None:
    from autovid.core.errors import UpstreamUnavailableError

    throttled = stored_job(jobs, JobStatus.PROCESSING, age=timedelta(hours=2), run="throttled")
    fine = stored_job(jobs, JobStatus.PROCESSING, run="fine")
    executions[ARN + "fine"] = ended("FAILED", fine)
    answers = dict(executions)

    def describe(arn: str):
        if arn == ARN + "throttled":
            raise UpstreamUnavailableError("Step Functions DescribeExecution failed: ThrottlingException")
        return answers.get(arn)

    monkeypatch.setattr(reconcile, "describe_execution", describe)
    expired = "00000000-0000-4000-8000-000000000000"  # gone (TTL) between the query and the read
    listed = jobs.table.active_ids
    monkeypatch.setattr(jobs.table, "active_ids", lambda status, **kw: [expired, *listed(status, **kw)])

    report = run(jobs)
    assert report.markedFailed == [fine]
    assert report.left == {
        throttled: "UpstreamUnavailableError: Step Functions DescribeExecution failed: ThrottlingException"
    }
    assert jobs.get(throttled)["status"] == "processing"
