"""What GET /jobs/{jobId} answers: the record, with a freshly signed download URL.

A presigned URL stops working when the credentials that signed it expire, and a Lambda's role
credentials last hours, not the URL's full lifetime. Signing again at every read gives every
answer a fresh link. ``urlExpiresAt`` is the expiry written into the signature
(``S3_PRESIGNED_URL_EXPIRATION`` from the read); in AWS the link can stop working earlier, when
the signing role session ends, so clients should read the job again for a new one.

On AWS the answer also links the job's execution in the Step Functions console (``consoleUrl``);
against a local endpoint (``AWS_ENDPOINT_URL`` set) there is no console to link.
"""

from __future__ import annotations

from datetime import timedelta

from autovid.aws.jobs import JobsTable
from autovid.aws.storage import presigned_get_url
from autovid.config import Settings
from autovid.records import JobResponse, JobStatus, iso, utc_now
from autovid.spec import split_s3_uri
from autovid.status import JobStatusManager


def job_status(job_id: str, settings: Settings) -> JobResponse:
    """Raises JobNotFoundError for an unknown id."""
    record = JobStatusManager(JobsTable(settings.jobs_table)).get(job_id)
    response = JobResponse.from_record(record, with_history=True)
    if response.status is JobStatus.COMPLETED and response.output.s3Uri:
        bucket, key = split_s3_uri(response.output.s3Uri)
        expires_in = settings.presigned_url_expiration
        response.output.url = presigned_get_url(bucket, key, expires_in)
        response.output.urlExpiresAt = iso(utc_now() + timedelta(seconds=expires_in))
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
