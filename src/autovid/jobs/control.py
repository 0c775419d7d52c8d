"""Cancelling a job (POST /jobs/{jobId}/cancel) and deleting a finished one (DELETE /jobs/{jobId}).

A cancel is the status change ``submitted | processing | retrying -> cancelled`` (nothing leaves
``cancelled``), then the clean-up: the execution is stopped (error ``JobCancelled``), the work
files are removed and so is the output, should UploadOutput have delivered it before the change.
The steps close the other side of that race: a step finds the job cancelled and writes nothing,
RenderVideo and UploadOutput remove what they wrote once they see it cancelled, and a queued
job's MarkProcessing finds it cancelled and ends the execution quietly. The clean-up is repeated
by every cancel of a cancelled job, so a cancel retried after a 503 finishes it.

A caller may cancel or delete only the jobs of its own listing scope (its API key); anything else
is not found.
"""

from __future__ import annotations

import logging
from typing import Any

from autovid.aws import storage
from autovid.aws.executions import stop_execution
from autovid.aws.jobs import ConditionFailed, JobsTable
from autovid.core.config import Limits, Settings
from autovid.core.errors import (
    AutoVidError,
    InvalidTransitionError,
    JobNotFoundError,
    JobStatusConflictError,
)
from autovid.core.s3_uri import split_s3_uri
from autovid.jobs.destinations import destination_of, work_prefix
from autovid.jobs.read_model import status_answer
from autovid.jobs.records import CANCELLABLE_STATUSES, TERMINAL_STATUSES, JobResponse, JobStatus
from autovid.jobs.transitions import JobStatusManager
from autovid.spec import parse_spec

log = logging.getLogger(__name__)

CANCEL_ERROR = "JobCancelled"


def _own_record(jobs: JobStatusManager, job_id: str, scope: str) -> dict[str, Any]:
    record = jobs.get(job_id)
    owner = record.get("ownerScope")
    if owner is not None and owner != scope:
        raise JobNotFoundError(f"job {job_id} not found")
    return record


def cancel_job(job_id: str, *, scope: str, settings: Settings, limits: Limits) -> JobResponse:
    """Cancel the job and answer its status body; cancelling a cancelled job answers it again.
    Raises JobNotFoundError, or JobStatusConflictError for a completed or failed job."""
    jobs = JobStatusManager(JobsTable(settings.jobs_table))
    record = _own_record(jobs, job_id, scope)
    if record["status"] != JobStatus.CANCELLED:
        if JobStatus(record["status"]) not in CANCELLABLE_STATUSES:
            raise _not_cancellable(job_id, record["status"])
        try:
            record = jobs.mark_cancelled(job_id)
        except InvalidTransitionError as refused:  # it changed since the read
            if refused.current != JobStatus.CANCELLED:
                raise _not_cancellable(job_id, refused.current or "unknown") from None
            record = jobs.get(job_id)
    _stop_and_clean(record, settings, limits)
    return status_answer(record, settings)


def _not_cancellable(job_id: str, status: str) -> JobStatusConflictError:
    return JobStatusConflictError(
        job_id, status, f"job {job_id} is {status}: only a submitted, processing or retrying job can be cancelled"
    )


def _stop_and_clean(record: dict[str, Any], settings: Settings, limits: Limits) -> None:
    job_id = record["jobId"]
    execution_arn = record.get("executionArn")
    if execution_arn:
        stop_execution(execution_arn, error=CANCEL_ERROR, cause=f"job {job_id} was cancelled")
    storage.delete_prefix(settings.bucket_name, work_prefix(job_id))
    for bucket, key in _output_locations(record, settings, limits):
        storage.delete_object(bucket, key)


def _output_locations(record: dict[str, Any], settings: Settings, limits: Limits) -> set[tuple[str, str]]:
    """Where the job's MP4 is, or would be, delivered: the recorded output and the spec's destination."""
    locations = set()
    s3_uri = (record.get("output") or {}).get("s3Uri")
    if s3_uri:
        locations.add(split_s3_uri(s3_uri))
    try:
        spec = parse_spec(record["spec"], limits)
    except (AutoVidError, KeyError):  # a record the current rules refuse: its recorded output is enough
        log.warning("stored spec invalid: only the recorded output is removed", extra={"jobId": record["jobId"]})
    else:
        locations.add(destination_of(spec, record["jobId"], settings.bucket_name))
    return locations


def delete_job(job_id: str, *, scope: str, settings: Settings, limits: Limits) -> None:
    """Remove a finished job's output objects, leftover work files and record. Raises
    JobNotFoundError, or JobStatusConflictError while the job is still running."""
    table = JobsTable(settings.jobs_table)
    record = _own_record(JobStatusManager(table), job_id, scope)
    if JobStatus(record["status"]) not in TERMINAL_STATUSES:
        raise _still_running(job_id, record["status"])
    for bucket, key in _output_locations(record, settings, limits):
        storage.delete_object(bucket, key)
    storage.delete_prefix(settings.bucket_name, work_prefix(job_id))
    finished = sorted(s.value for s in TERMINAL_STATUSES)
    try:
        table.delete(
            job_id,
            condition_expression="attribute_not_exists(jobId) OR #status IN ("
            + ", ".join(f":s{i}" for i in range(len(finished)))
            + ")",
            names={"#status": "status"},
            values={f":s{i}": status for i, status in enumerate(finished)},
        )
    except ConditionFailed as refused:  # a redrive took the failed job back meanwhile
        raise _still_running(job_id, (refused.current or {}).get("status", "unknown")) from None


def _still_running(job_id: str, status: str) -> JobStatusConflictError:
    return JobStatusConflictError(
        job_id, status, f"job {job_id} is {status}: only a completed, failed or cancelled job can be deleted"
    )
