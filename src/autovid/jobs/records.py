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


TERMINAL_STATUSES = frozenset({JobStatus.COMPLETED, JobStatus.FAILED})


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
        spec = record.get("spec") or {}
        response = cls.model_validate({**record, "jobInfo": spec.get("jobInfo") or {}})
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


def new_job_record(spec: JobSpec, *, ttl_seconds: int, now: datetime | None = None) -> dict[str, Any]:
    """The record written by submit: status ``submitted``, the full spec, metadata and a TTL."""
    now = now or utc_now()
    stamp = iso(now)
    return {
        "jobId": str(uuid.uuid4()),
        "status": JobStatus.SUBMITTED.value,
        "spec": spec.to_json_dict(),
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
    }
