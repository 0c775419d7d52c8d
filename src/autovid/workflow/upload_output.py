"""UploadOutput: deliver the MP4 to its destination and presign a download URL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from autovid.aws import storage
from autovid.config import Settings
from autovid.records import JobOutput, iso, utc_now
from autovid.spec import JobSpec, split_s3_uri
from autovid.workflow.render_video import RenderOutput
from autovid.workflow.runner import StepInput, stored_spec


class UploadStepInput(StepInput):
    """UploadOutput's input: where RenderVideo left the MP4."""

    rendered: RenderOutput


def destination_of(spec: JobSpec, job_id: str, managed_bucket: str) -> tuple[str, str]:
    """(bucket, key) of the delivered MP4: ``output.destination`` or ``outputs/{jobId}/``."""
    filename = spec.output.filename
    if spec.output.destination:
        bucket, prefix = split_s3_uri(spec.output.destination)
        prefix = prefix.lstrip("/")
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        return bucket, f"{prefix}{filename}"
    return managed_bucket, f"outputs/{job_id}/{filename}"


def upload_output(record: dict[str, Any], rendered: RenderOutput, settings: Settings) -> JobOutput:
    spec = stored_spec(record)
    bucket, key = destination_of(spec, record["jobId"], settings.bucket_name)
    storage.copy_object(rendered.bucket, rendered.key, bucket, key)
    expires_in = settings.presigned_url_expiration
    return JobOutput(
        url=storage.presigned_get_url(bucket, key, expires_in),
        urlExpiresAt=iso(utc_now() + timedelta(seconds=expires_in)),
        s3Uri=f"s3://{bucket}/{key}",
        duration=rendered.duration,
        size=rendered.size,  # a copy keeps the bytes
    )
