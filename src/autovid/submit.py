"""Accepting a job: validate, record it as ``submitted``, queue ``{jobId}``."""

from __future__ import annotations

import logging
from typing import Any

from autovid.aws.jobs import JobsTable
from autovid.aws.queue import send_job
from autovid.config import Limits, Settings
from autovid.errors import AutoVidError, QueueUnavailableError
from autovid.records import JobError, JobResponse, new_job_record
from autovid.spec import parse_spec
from autovid.status import JobStatusManager

log = logging.getLogger(__name__)


def submit_job(raw_spec: Any, *, settings: Settings, limits: Limits | None = None) -> JobResponse:
    """Raises InvalidSpecError (400) or QueueUnavailableError (503, the job is marked failed)."""
    spec = parse_spec(raw_spec, limits)
    record = new_job_record(spec, ttl_seconds=settings.jobs_ttl_seconds)
    table = JobsTable(settings.jobs_table)
    table.create(record)
    try:
        send_job(settings.job_queue_url, record["jobId"])
    except AutoVidError as exc:
        # Nothing will ever pick the job up, so it must not stay `submitted`.
        error = JobError(
            type="QueueUnavailable", message="the job could not be queued; submit it again", state="Submit"
        )
        try:
            JobStatusManager(table).mark_failed(record["jobId"], error)
        except AutoVidError:
            log.exception("could not mark the unqueued job failed", extra={"jobId": record["jobId"]})
        raise QueueUnavailableError(f"job {record['jobId']} could not be queued: {exc}") from exc
    return JobResponse.from_record(record, with_history=False)
