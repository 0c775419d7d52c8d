"""What GET /jobs/{jobId} answers: the record, with a freshly signed download URL
(:mod:`autovid.jobs.downloads`, valid for ``S3_PRESIGNED_URL_EXPIRATION`` from the read).

On AWS the answer also links the job's execution in the Step Functions console (``consoleUrl``);
against a local endpoint (``AWS_ENDPOINT_URL`` set) there is no console to link.
"""

from __future__ import annotations

from autovid.aws.jobs import JobsTable
from autovid.core.config import Settings
from autovid.jobs.downloads import download_link
from autovid.jobs.records import JobResponse, JobStatus
from autovid.jobs.transitions import JobStatusManager


def read_job(job_id: str, settings: Settings) -> JobResponse:
    """Raises JobNotFoundError for an unknown id."""
    return status_answer(JobStatusManager(JobsTable(settings.jobs_table)).get(job_id), settings)


def status_answer(record: dict, settings: Settings) -> JobResponse:
    """The status body of a job record (GET /jobs/{jobId}, and the answer of a cancel)."""
    response = JobResponse.from_record(record, with_history=True)
    if response.status is JobStatus.COMPLETED and response.output.s3Uri:
        link = download_link(response.output.s3Uri, settings.presigned_url_expiration)
        response.output.url, response.output.urlExpiresAt = link.url, link.expires_at
    if response.executionArn and not settings.aws_endpoint_url:
        response.consoleUrl = execution_console_url(response.executionArn)
    return response


_CONSOLE_HOSTS = {
    "aws": "console.aws.amazon.com",
    "aws-cn": "console.amazonaws.cn",
    "aws-us-gov": "console.amazonaws-us-gov.com",
}


def execution_console_url(execution_arn: str) -> str | None:
    """The execution's page in the Step Functions console, from its ARN's partition and region."""
    parts = execution_arn.split(":")
    if len(parts) < 8 or parts[2] != "states" or parts[5] != "execution":
        return None
    partition, region = parts[1], parts[3]
    host = _CONSOLE_HOSTS.get(partition, _CONSOLE_HOSTS["aws"])
    return f"https://{region}.{host}/states/home?region={region}#/v2/executions/details/{execution_arn}"
