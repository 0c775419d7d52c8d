"""Job records and the shapes the API answers with."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_serializer

from autovid.core.clock import iso, utc_now
from autovid.spec import JobSpec


class JobStatus(StrEnum):
    SUBMITTED = "submitted"
    PROCESSING = "processing"
    RETRYING = "retrying"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


#: A job in one of these has ended: its webhook is called, and DELETE /jobs/{jobId} may remove it.
TERMINAL_STATUSES = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED})
#: A job in one of these may still be cancelled.
CANCELLABLE_STATUSES = frozenset({JobStatus.SUBMITTED, JobStatus.PROCESSING, JobStatus.RETRYING})

#: The listing scope of a job submitted without an API key (API keys off).
NO_API_KEY_SCOPE = "-"


def listing_scope(api_key_id: str | None) -> str:
    """Whose jobs a caller lists: those submitted with the same API key (all, without keys)."""
    return api_key_id or NO_API_KEY_SCOPE


def listing_key(scope: str, submitted_at: str, job_id: str) -> str:
    """The sort key of the listing indexes: newest first within a scope, ties broken by job id."""
    return f"{scope}#{submitted_at}#{job_id}"


def is_job_id(value: str) -> bool:
    try:
        return str(uuid.UUID(value)) == value.lower()
    except ValueError:
        return False


class _Shape(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class JobOutput(_Shape):
    url: str | None = None
    urlExpiresAt: str | None = None
    s3Uri: str | None = None
    duration: float | None = None
    size: int | None = None


class JobError(_Shape):
    type: str
    message: str
    state: str | None = None


class StatusChange(_Shape):
    status: JobStatus
    at: str
    reason: str | None = None
    redriveCount: int | None = None  # on the change a redrive made (reason "redrive")

    @model_serializer(mode="wrap")
    def _without_redrive_count_when_none(self, handler: Any) -> dict[str, Any]:
        data = handler(self)
        if data.get("redriveCount") is None:
            data.pop("redriveCount", None)
        return data


class Progress(_Shape):
    state: str
    percent: int | None = None
    at: str


class JobResponse(_Shape):
    """The body of POST /jobs and GET /jobs/{jobId}."""

    jobId: str
    status: JobStatus
    submittedAt: str
    updatedAt: str
    completedAt: str | None = None
    processingTime: float | None = None
    output: JobOutput = Field(default_factory=JobOutput)
    error: JobError | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    jobInfo: dict[str, Any] = Field(default_factory=dict)
    statusHistory: list[StatusChange] | None = None
    progress: Progress | None = None
    executionArn: str | None = None
    consoleUrl: str | None = None
    notifications: dict[str, Any] | None = None

    @classmethod
    def from_record(cls, record: dict[str, Any], *, with_history: bool) -> JobResponse:
        """From a full record, or from a listing index's projection (``jobInfo`` without the spec)."""
        spec = record.get("spec") or {}
        response = cls.model_validate({**record, "jobInfo": spec.get("jobInfo") or record.get("jobInfo") or {}})
        if not with_history:
            response.statusHistory = None
        return response

    def body(self) -> dict[str, Any]:
        """The seed's shape; status answers add statusHistory, progress, executionArn,
        notifications (the webhook's delivery attempts) and, on AWS, consoleUrl."""
        data = self.model_dump(mode="json")
        if self.statusHistory is None:
            for key in ("statusHistory", "progress", "executionArn", "consoleUrl", "notifications"):
                data.pop(key)
        elif self.consoleUrl is None:
            data.pop("consoleUrl")
        return data


def new_job_record(
    spec: JobSpec, *, ttl_seconds: int, now: datetime | None = None, api_key_id: str | None = None
) -> dict[str, Any]:
    """The record written by submit: status ``submitted``, the full spec, metadata and a TTL, and
    the keys of the listing indexes (the caller's scope, ``listKey``) with ``jobInfo`` beside the spec."""
    now = now or utc_now()
    stamp = iso(now)
    job_id = str(uuid.uuid4())
    stored_spec = spec.to_json_dict()
    scope = listing_scope(api_key_id)
    listed = {"ownerScope": scope, "listKey": listing_key(scope, stamp, job_id)}
    if api_key_id:
        listed["apiKeyId"] = api_key_id
    return {
        "jobId": job_id,
        "status": JobStatus.SUBMITTED.value,
        "spec": stored_spec,
        "metadata": spec.metadata(),
        "submittedAt": stamp,
        "updatedAt": stamp,
        "completedAt": None,
        "processingTime": None,
        "output": JobOutput().model_dump(),
        "error": None,
        "statusHistory": [{"status": JobStatus.SUBMITTED.value, "at": stamp, "reason": "submitted"}],
        "notifications": {"attempts": []},
        "ttl": int((now + timedelta(seconds=ttl_seconds)).timestamp()),
        "jobInfo": stored_spec.get("jobInfo") or {},
        **listed,
    }
