"""Typed error taxonomy shared by the API, the render engine and the workflow steps.

Permanent versus transient is decided by type, never by message text:

* ``PermanentError``: retrying cannot help (bad input, missing asset, invalid voice).
* ``TransientError``: a retry may succeed (timeouts, throttling, 5xx, connection resets).

Step Functions matches ``ErrorEquals`` on the exception class name, so the workflow's step
runner re-raises every failure as ``TransientError`` or ``PermanentError``, keeping the specific
class in the message and on the job record.
"""

from __future__ import annotations

from dataclasses import dataclass


class AutoVidError(Exception):
    """Base class for every error the service raises on purpose."""

    def __init__(self, message: str, *, field: str | None = None, asset_id: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.asset_id = asset_id


# --- permanent -------------------------------------------------------------------------


class PermanentError(AutoVidError):
    """Retrying will not help."""


class InvalidAssetError(PermanentError):
    """The asset is not decodable media, or breaks a media limit."""


class AssetNotFoundError(PermanentError):
    """The asset does not exist (HTTP 404, S3 NoSuchKey)."""


class AssetTooLargeError(PermanentError):
    """The asset is larger than the configured size cap."""


class ForbiddenSourceError(PermanentError):
    """The source URL points at an address or bucket we refuse to fetch from."""


class ForbiddenDestinationError(PermanentError):
    """The output destination is somewhere the service may not write."""


class InvalidVoiceError(PermanentError):
    """The TTS voice, engine or language combination is not supported."""


class AssetAccessDeniedError(PermanentError):
    """The source refused us the asset (HTTP 401/403, S3 AccessDenied)."""


class AssetFetchError(PermanentError):
    """The source answered with a client error other than not-found or access-denied."""


class InvalidTtsRequestError(PermanentError):
    """The TTS provider rejected the text itself (invalid SSML, text too long)."""


class AssetChangedError(PermanentError):
    """The asset's bytes differ from the ones the validate step checked."""


class RenderFailedError(PermanentError):
    """ffmpeg could not produce the output from inputs that probed as valid."""


class InvalidSpecError(PermanentError):
    """The job spec is invalid; ``errors`` lists every field error."""

    def __init__(self, errors: list[FieldError]):
        self.errors = errors
        summary = "; ".join(str(e) for e in errors[:5])
        more = f" (+{len(errors) - 5} more)" if len(errors) > 5 else ""
        super().__init__(f"invalid job spec: {summary}{more}")


# --- transient -------------------------------------------------------------------------


class TransientError(AutoVidError):
    """A retry may succeed."""


class DownloadTimeoutError(TransientError):
    """A fetch timed out or the connection was reset."""


class UpstreamUnavailableError(TransientError):
    """A dependency answered 5xx, throttled us, or S3 said SlowDown."""


class QueueUnavailableError(TransientError):
    """The job was recorded but could not be queued; it was marked failed."""


# --- job records -----------------------------------------------------------------------


class JobNotFoundError(AutoVidError):
    """No job record with that id."""


class InvalidTransitionError(AutoVidError):
    """A status change the transition table does not allow (the record is unchanged)."""

    def __init__(self, job_id: str, current: str | None, new: str):
        self.job_id = job_id
        self.current = current
        self.new = new
        super().__init__(f"job {job_id}: transition {current} -> {new} is not allowed")


class JobAlreadyExistsError(AutoVidError):
    """A record with that id already exists."""


class JobStatusConflictError(AutoVidError):
    """The job's status does not allow the request (409): cancelling a finished job, deleting a
    running one."""

    def __init__(self, job_id: str, status: str, message: str):
        self.job_id = job_id
        self.status = status
        super().__init__(message)


class InvalidQueryError(AutoVidError):
    """Query string parameters refused (400); ``errors`` names each parameter and why."""

    def __init__(self, errors: list[FieldError]):
        self.errors = errors
        super().__init__("invalid query: " + "; ".join(str(e) for e in errors))


# --- idempotent submit ---------------------------------------------------------------------


class IdempotencyKeyReusedError(AutoVidError):
    """The Idempotency-Key was used with a different request body (422)."""


class IdempotencyKeyInUseError(AutoVidError):
    """A request with the same Idempotency-Key is still being processed (409)."""


@dataclass(frozen=True)
class FieldError:
    """One validation problem: a field path and the reason."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}
