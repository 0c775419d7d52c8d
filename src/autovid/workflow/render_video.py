"""RenderVideo: synthesize speech, render the MP4 and put it under ``work/{jobId}/``."""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from autovid.aws import storage
from autovid.core.errors import AutoVidError
from autovid.jobs.destinations import work_prefix
from autovid.jobs.transitions import JobStatusManager
from autovid.render.engine import render
from autovid.render.fetch import AssetFetcher
from autovid.workflow.runner import RENDER, StepInput, StepRunner, stored_spec
from autovid.workflow.validate_job import RenderPlanSummary, expected_digests

log = logging.getLogger(__name__)


class RenderStepInput(StepInput):
    """RenderVideo's input: ValidateJob's plan rides along, so the render uses the bytes it checked.

    Absent (an execution started by an older definition, or a hand-made event), nothing is pinned.
    """

    plan: RenderPlanSummary | None = None


class RenderOutput(BaseModel):
    bucket: str
    key: str
    duration: float
    size: int
    videoCopied: bool


class ProgressReporter:
    """Writes render progress to the job record at most once per ``interval`` seconds."""

    def __init__(
        self,
        jobs: JobStatusManager,
        job_id: str,
        execution_arn: str,
        interval: float = 1.0,
        redrive_count: int | None = None,
    ):
        self.jobs, self.job_id, self.execution_arn, self.interval = jobs, job_id, execution_arn, interval
        self.redrive_count = redrive_count
        self.last_write = 0.0

    def __call__(self, percent: int) -> None:
        now = time.monotonic()
        if percent < 100 and now - self.last_write < self.interval:
            return
        self.last_write = now
        try:
            self.jobs.record_progress(
                self.job_id, self.execution_arn, state=RENDER, percent=percent, redrive_count=self.redrive_count
            )
        except AutoVidError:
            # Progress is for display; a failed write must not fail or retry the render.
            log.warning("could not record render progress", exc_info=True, extra={"jobId": self.job_id})


def render_job(record: dict[str, Any], runner: StepRunner, plan: RenderPlanSummary | None = None) -> RenderOutput:
    config = runner.config
    spec = stored_spec(record, config.limits)
    job_id = record["jobId"]
    progress = ProgressReporter(
        runner.jobs, job_id, runner.input.execution_arn, redrive_count=runner.input.redrive_count
    )
    workdir = Path(tempfile.mkdtemp(prefix="autovid-render-"))
    pinned = expected_digests(spec, plan) if plan else {}
    fetcher = AssetFetcher(
        workdir,
        settings=config.render,
        max_bytes=config.limits.max_asset_bytes,
        expected_digests=pinned,
        stream_s3=True,  # the video is read from S3 as ffmpeg goes, not copied into /tmp
        max_stream_bytes=config.limits.max_video_bytes,
    )
    # ValidateJob measured the video's length on the bytes pinned here: it is not measured again.
    measured = plan.videoDuration if plan and spec.assets.video.source in pinned else None
    try:
        with fetcher:
            result = render(spec, workdir, progress, fetcher=fetcher, video_duration=measured)
        key = f"{work_prefix(job_id)}{spec.output.filename}"
        storage.upload_file(result.output_path, runner.settings.bucket_name, key)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    runner.check_not_cancelled(lambda: storage.delete_object(runner.settings.bucket_name, key))
    return RenderOutput(
        bucket=runner.settings.bucket_name,
        key=key,
        duration=round(result.duration, 3),
        size=result.size_bytes,
        videoCopied=result.video_copied,
    )
