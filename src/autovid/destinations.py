"""Where a job's MP4 may be delivered: checked at submit (a 400) and again by ValidateJob."""

from __future__ import annotations

from autovid.errors import ForbiddenDestinationError
from autovid.spec import JobSpec, split_s3_uri

OUTPUT_PREFIX = "outputs/"


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
