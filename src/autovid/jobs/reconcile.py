"""Reconcile: find jobs whose execution ended without their record saying so.

Step Functions delivers "Execution Status Change" events on a best-effort basis, so the
status-sync function can miss one. On a schedule, this looks at every job that has been
``processing`` or ``retrying`` for a while (the table's sparse ``ActiveJobsIndex`` holds only
those), asks Step Functions how its execution ended, and
applies what a status event would have (through the same :func:`autovid.jobs.execution_sync.sync_job_status`).
Running executions are left alone, however long they take. A cancelled job leaves the index at
its cancel, so its stopped execution is never taken for a lost failure.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from pydantic import BaseModel, Field

from autovid.aws.executions import describe_execution, epoch_millis
from autovid.aws.jobs import JobsTable
from autovid.core.clock import iso, utc_now
from autovid.core.errors import AutoVidError, InvalidTransitionError, JobNotFoundError
from autovid.jobs.execution_sync import ENDED_UNSUCCESSFULLY, ExecutionStatusChange, sync_job_status
from autovid.jobs.records import JobError, JobStatus
from autovid.jobs.transitions import ClaimFor, JobStatusManager

log = logging.getLogger(__name__)

STALE_STATUSES = (JobStatus.PROCESSING, JobStatus.RETRYING)


class ReconcileReport(BaseModel):
    checked: int = 0
    running: int = 0
    markedFailed: list[str] = Field(default_factory=list)
    left: dict[str, str] = Field(default_factory=dict)  # job id -> why it was not changed


def reconcile_jobs(table: JobsTable, *, older_than: timedelta, now: datetime | None = None) -> ReconcileReport:
    """Check the jobs unchanged for ``older_than``; returns what was found and done."""
    cutoff = iso((now or utc_now()) - older_than)
    jobs = JobStatusManager(table)
    report = ReconcileReport()
    for status in STALE_STATUSES:
        for job_id in table.active_ids(status.value, updated_before=cutoff):
            report.checked += 1
            try:
                _reconcile_one(jobs, table, job_id, report)
            except AutoVidError as exc:  # one job's trouble must not stop the sweep
                log.warning("could not reconcile job %s: %s", job_id, exc)
                report.left[job_id] = f"{type(exc).__name__}: {exc.message}"
    return report


def _reconcile_one(jobs: JobStatusManager, table: JobsTable, job_id: str, report: ReconcileReport) -> None:
    try:
        record = jobs.get(job_id)
    except JobNotFoundError:
        return  # expired (TTL) since the index was read
    if record["status"] not in {s.value for s in STALE_STATUSES}:
        return  # it moved on since the index was read
    execution_arn = record.get("executionArn")
    if not execution_arn:
        report.left[job_id] = f"{record['status']} without an execution"
        return
    execution = describe_execution(execution_arn)
    if execution is None:
        error = JobError(type="ExecutionNotFound", message="the workflow execution no longer exists", state=None)
        try:
            jobs.mark_failed(job_id, error, guards=[ClaimFor(execution_arn)])
        except InvalidTransitionError as exc:
            report.left[job_id] = exc.message
            return
        report.markedFailed.append(job_id)
        return
    status = execution["status"]
    if status == "RUNNING" or status == "PENDING_REDRIVE":
        report.running += 1
        return
    if status not in ENDED_UNSUCCESSFULLY:
        now_status = jobs.get(job_id)["status"]
        if now_status not in {s.value for s in STALE_STATUSES}:
            return  # it completed while we looked
        # The owning execution succeeded, so FinalizeJob completed the job; seeing this means
        # something is wrong that a status change must not paper over.
        log.error("job %s is %s but its execution %s", job_id, now_status, status)
        report.left[job_id] = f"{now_status}, but its execution {status}"
        return
    change = ExecutionStatusChange.model_validate(
        {
            "executionArn": execution_arn,
            "status": status,
            "input": execution.get("input"),
            "error": execution.get("error"),
            "cause": execution.get("cause"),
            "stopDate": epoch_millis(execution.get("stopDate")),
            "redriveCount": execution.get("redriveCount", 0),
        }
    )
    outcome = sync_job_status(change, table, current=True)
    if outcome.startswith("ignored"):
        report.left[job_id] = outcome
    else:
        report.markedFailed.append(job_id)
