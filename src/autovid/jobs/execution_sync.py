"""Status sync: mark a job failed when its execution fails, and retrying when it is redriven.

Triggered by EventBridge "Step Functions Execution Status Change" events: FAILED, TIMED_OUT,
ABORTED, and RUNNING with a ``redriveCount`` above 0 (a redrive started: the failed job goes
``retrying`` with reason ``redrive`` at once, before the redriven step runs; whichever of the
two comes first records it, the other finds it done; a RUNNING event is applied only while
DescribeExecution still shows that redrive running). Steps record permanent failures
themselves; this records the rest: retries that ran out, task timeouts, crashes, aborts and
failures before the first step. Every change goes through the status module, so a job that is
already terminal or owned by another execution is left alone, and so is news from before a
redrive: the job's ``redriveCount`` is higher than the event's, or a run set the job
``processing`` after the execution stopped. A cancelled job stays cancelled: the ABORTED event of
the execution its cancel stopped changes nothing. A retry that a step still running after
StopExecution recorded does not stop the job from being marked failed.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field

from autovid.aws.executions import describe_execution, last_entered_state
from autovid.aws.jobs import JobsTable
from autovid.core.clock import iso, utc_now
from autovid.core.errors import InvalidTransitionError, JobNotFoundError
from autovid.jobs.records import JobError, JobStatus
from autovid.jobs.transitions import ClaimFor, Guard, JobStatusManager, NotClaimedSince

ENDED_UNSUCCESSFULLY = {"FAILED", "TIMED_OUT", "ABORTED"}


class ExecutionStatusChange(BaseModel):
    """The ``detail`` of a "Step Functions Execution Status Change" event."""

    model_config = ConfigDict(extra="ignore")

    execution_arn: str = Field(alias="executionArn")
    status: str
    input: str | None = None
    error: str | None = None
    cause: str | None = None
    stop_date: int | None = Field(default=None, alias="stopDate")  # epoch milliseconds
    redrive_count: int | None = Field(default=None, alias="redriveCount")


def job_id_of(change: ExecutionStatusChange) -> str | None:
    return job_id_from_input(change.input)


def job_id_from_input(execution_input: str | None) -> str | None:
    """The job id from an execution's input: ``{"jobId"}``, or the Pipe's batch ``[{"jobId"}]``."""
    try:
        data = json.loads(execution_input or "{}")
    except ValueError:
        return None
    if isinstance(data, list) and data:
        data = data[0]
    job_id = data.get("jobId") if isinstance(data, dict) else None
    return job_id if isinstance(job_id, str) else None


def failure_of(change: ExecutionStatusChange, state: str | None, record: dict) -> JobError:
    """The error to show on the job: the step's own last error when it failed there, else the
    execution's error and cause."""
    last = record.get("lastError")
    if isinstance(last, dict) and last.get("state") == state and change.status == "FAILED":
        return JobError.model_validate(last)
    if change.status == "TIMED_OUT":
        return JobError(type="States.Timeout", message="the workflow timed out", state=state)
    if change.status == "ABORTED":
        return JobError(type="ExecutionAborted", message="the workflow was stopped", state=state)
    message = change.cause or "the workflow failed"
    try:
        cause = json.loads(message)
        message = cause.get("errorMessage") or message
    except (ValueError, AttributeError):
        pass
    return JobError(type=change.error or "States.Failed", message=message[:1000], state=state)


def sync_job_status(change: ExecutionStatusChange, table: JobsTable, *, current: bool = False) -> str:
    """Apply the change to the job; returns what was done (for the log). ``current`` says the
    change was just read from DescribeExecution (ReconcileJobs), not an event that may be late."""
    job_id = job_id_of(change)
    if job_id is None:
        return "ignored: the execution input has no jobId"
    jobs = JobStatusManager(table)
    try:
        record = jobs.get(job_id)
    except JobNotFoundError:
        return f"ignored: job {job_id} not found"
    owner = record.get("executionArn")
    if owner and owner != change.execution_arn:
        return f"ignored: job {job_id} belongs to {owner}"
    if record.get("status") == JobStatus.CANCELLED:
        # Its execution was stopped by the cancel (ABORTED), or a step of it saw the cancel: the
        # job stays cancelled, and a redrive of that execution does not take it back.
        return f"ignored: job {job_id} was cancelled"
    if change.status == "RUNNING" and change.redrive_count:
        # Events arrive in any order: a redriven run that already failed again must not be
        # reopened by its late RUNNING event.
        live = describe_execution(change.execution_arn) or {}
        if live.get("status") != "RUNNING" or int(live.get("redriveCount") or 0) != change.redrive_count:
            return f"ignored: redrive {change.redrive_count} of {change.execution_arn} is no longer running"
        try:
            jobs.mark_redriven(job_id, execution_arn=change.execution_arn, redrive_count=change.redrive_count)
        except InvalidTransitionError as exc:
            return f"ignored: {exc.message}"
        return f"job {job_id} marked retrying: redrive {change.redrive_count}"
    if change.status not in ENDED_UNSUCCESSFULLY:
        return f"ignored: {change.status} needs no change for job {job_id}"
    if change.redrive_count is not None and int(record.get("redriveCount") or 0) > change.redrive_count:
        return f"ignored: job {job_id} was redriven after this run stopped"
    # A late event must not fail a run that took the job back after the stop (a redrive whose
    # step found the job still retrying). Only a run sets `processing`: a step still running
    # after StopExecution can only record a retry, which does not block the verdict.
    guards: list[Guard] = [ClaimFor(change.execution_arn)]
    if not current:
        stopped = datetime.fromtimestamp(change.stop_date / 1000, UTC) if change.stop_date else utc_now()
        guards.append(NotClaimedSince(iso(stopped)))
    error = failure_of(change, last_entered_state(change.execution_arn), record)
    try:
        jobs.mark_failed(job_id, error, guards=guards)
    except InvalidTransitionError as exc:
        return f"ignored: {exc.message}"
    return f"job {job_id} marked failed at {error.state}"
