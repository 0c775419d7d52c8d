"""What GET /jobs/{jobId} answers: the record, with a freshly signed download URL.

A presigned URL stops working when the credentials that signed it expire, and a Lambda's role
credentials last hours, not the URL's full lifetime. Signing again at every read gives every
answer a fresh link. ``urlExpiresAt`` is the expiry written into the signature
(``S3_PRESIGNED_URL_EXPIRATION`` from the read); in AWS the link can stop working earlier, when
the signing role session ends, so clients should read the job again for a new one.
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
    return response
