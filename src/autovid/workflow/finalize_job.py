"""FinalizeJob: mark the job completed and remove its work files."""

from __future__ import annotations

from typing import Any

from autovid.aws import storage
from autovid.jobs.destinations import work_prefix
from autovid.jobs.records import JobOutput, JobStatus
from autovid.workflow.runner import StepInput, StepRunner


class FinalizeStepInput(StepInput):
    """FinalizeJob's input: what UploadOutput delivered."""

    output: JobOutput


def finalize_job(record: dict[str, Any], output: JobOutput, runner: StepRunner) -> dict[str, Any]:
    job_id = record["jobId"]
    if record["status"] != JobStatus.COMPLETED.value:
        record = runner.jobs.mark_completed(job_id, output)
    storage.delete_prefix(runner.settings.bucket_name, work_prefix(job_id))
    return record
