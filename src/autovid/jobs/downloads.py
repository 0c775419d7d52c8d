"""Download links for delivered MP4s.

A presigned URL stops working when the credentials that signed it expire, and a Lambda's role
credentials last hours, not the URL's full lifetime. So every answer that shows a link signs a
fresh one. ``urlExpiresAt`` is the expiry written into the signature; on AWS the link can stop
working earlier, when the signing role session ends, so clients read the job again for a new one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from autovid.aws.storage import presigned_get_url
from autovid.core.clock import iso, utc_now
from autovid.core.s3_uri import split_s3_uri


@dataclass(frozen=True)
class DownloadLink:
    url: str
    expires_at: str  # ISO-8601


def download_link(s3_uri: str, expires_in: int) -> DownloadLink:
    """A presigned GET URL for the object at ``s3_uri``, valid for ``expires_in`` seconds."""
    bucket, key = split_s3_uri(s3_uri)
    return DownloadLink(
        url=presigned_get_url(bucket, key, expires_in),
        expires_at=iso(utc_now() + timedelta(seconds=expires_in)),
    )
