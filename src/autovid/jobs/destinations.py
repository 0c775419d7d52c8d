"""Where a job's MP4 may be delivered: checked at submit (a 400) and again by ValidateJob."""

from __future__ import annotations

from autovid.core.errors import ForbiddenDestinationError
from autovid.core.s3_uri import split_s3_uri
from autovid.spec import JobSpec

OUTPUT_PREFIX = "outputs/"


def work_prefix(job_id: str) -> str:
    """Where a job's intermediate files live in the managed bucket."""
    return f"work/{job_id}/"


def check_destination(spec: JobSpec, managed_bucket: str, extra_buckets: frozenset[str] = frozenset()) -> None:
    """The functions may write under ``outputs/`` of the managed bucket, and anywhere in the
    buckets the deployment lists in ``ExtraOutputBuckets`` (its role may write only there)."""
    if spec.output.destination is None:
        return
    bucket, prefix = split_s3_uri(spec.output.destination)
    prefix = prefix.lstrip("/")
    if ".." in prefix.split("/"):
        raise ForbiddenDestinationError(f"{spec.output.destination} has a '..' segment", field="output.destination")
    if bucket in extra_buckets:
        return
    if bucket != managed_bucket or not (prefix + "/").startswith(OUTPUT_PREFIX):
        allowed = [f"s3://{managed_bucket}/{OUTPUT_PREFIX}"] + [f"s3://{b}/" for b in sorted(extra_buckets)]
        raise ForbiddenDestinationError(
            f"{spec.output.destination} is outside {', '.join(allowed)}, "
            f"the only {'place' if len(allowed) == 1 else 'places'} this deployment may write to",
            field="output.destination",
        )


def destination_of(spec: JobSpec, job_id: str, managed_bucket: str) -> tuple[str, str]:
    """(bucket, key) of the delivered MP4: ``output.destination`` or ``outputs/{jobId}/``."""
    filename = spec.output.filename
    if spec.output.destination:
        bucket, prefix = split_s3_uri(spec.output.destination)
        prefix = prefix.lstrip("/")
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        return bucket, f"{prefix}{filename}"
    return managed_bucket, f"{OUTPUT_PREFIX}{job_id}/{filename}"
