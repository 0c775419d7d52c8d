"""UploadOutput: deliver the MP4 to its destination and presign a download URL."""

from __future__ import annotations

from typing import Any

from autovid.aws import storage
from autovid.core.s3_uri import s3_uri
from autovid.jobs.destinations import destination_of
from autovid.jobs.downloads import download_link
from autovid.jobs.records import JobOutput
from autovid.workflow.render_video import RenderOutput
from autovid.workflow.runner import StepInput, StepRunner, stored_spec


class UploadStepInput(StepInput):
    """UploadOutput's input: where RenderVideo left the MP4."""

    rendered: RenderOutput


def upload_output(record: dict[str, Any], rendered: RenderOutput, runner: StepRunner) -> JobOutput:
    config = runner.config
    spec = stored_spec(record, config.limits)
    bucket, key = destination_of(spec, record["jobId"], config.settings.bucket_name)
    storage.copy_object(rendered.bucket, rendered.key, bucket, key)
    # A job cancelled during the copy delivers nothing (a cancel after this check removes it itself).
    runner.check_not_cancelled(lambda: storage.delete_object(bucket, key))
    link = download_link(s3_uri(bucket, key), config.settings.presigned_url_expiration)
    return JobOutput(
        url=link.url,
        urlExpiresAt=link.expires_at,
        s3Uri=s3_uri(bucket, key),
        duration=rendered.duration,
        size=rendered.size,  # a copy keeps the bytes
    )
