"""Job notifications: the spec's webhook, called when the job reaches ``completed``, ``failed`` or
``cancelled`` (events ``job.completed``, ``job.failed``, ``job.cancelled``).

The jobs table's stream feeds NotifyWebhook, so every way a job can end is covered: the steps,
the status-sync and reconcile functions, a submit whose queue was down. A stream record is a
notification only when it changes the status to a terminal one (a later write to an ended job,
such as a recorded delivery attempt, is not). The payload is built from the record as that change
left it (with a freshly signed download link), so a job redriven meanwhile still reports the end
that happened. Each delivery has an id (``<jobId>:<status>:<updatedAt>``, the
``X-AutoVid-Delivery`` header): a stream record seen twice is delivered once, while a job that
fails, is redriven and fails again is notified twice. Every attempt is appended to the job's
``notifications.attempts``; a webhook that fails never changes the job's status.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any

from autovid.aws.jobs import JobsTable, from_item
from autovid.aws.secrets import secret_value
from autovid.core.config import Settings, WebhookSettings
from autovid.core.errors import AutoVidError
from autovid.jobs.downloads import download_link
from autovid.jobs.records import TERMINAL_STATUSES, JobResponse, JobStatus
from autovid.jobs.transitions import JobStatusManager
from autovid.webhooks.delivery import Attempt, WebhookRequest, WebhookSender

log = logging.getLogger(__name__)

FINISHING_SECONDS = 5  # kept back from the invocation's time to record the last attempt
PAYLOAD_FIELDS = (
    "jobId",
    "status",
    "submittedAt",
    "updatedAt",
    "completedAt",
    "processingTime",
    "output",
    "jobInfo",
    "error",
    "metadata",
)


def ended_by(new_image: dict[str, Any], old_image: dict[str, Any] | None) -> str | None:
    """The terminal status a stream record's change brought the job to, or None."""
    new = new_image.get("status")
    old = (old_image or {}).get("status")
    return new if new in TERMINAL_STATUSES and new != old else None


def webhook_of(record: dict[str, Any]) -> dict[str, Any] | None:
    return ((record.get("spec") or {}).get("notifications") or {}).get("webhook")


def payload(record: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """The notification body: the job as the reference's schema documents it. ``metadata`` is the
    webhook's own ``metadata`` from the spec, echoed back."""
    body = JobResponse.from_record(record, with_history=False).body()
    output = body["output"]
    if body["status"] == JobStatus.COMPLETED.value and output.get("s3Uri"):
        link = download_link(output["s3Uri"], settings.presigned_url_expiration)
        output["url"], output["urlExpiresAt"] = link.url, link.expires_at
    body["metadata"] = (webhook_of(record) or {}).get("metadata") or {}
    return {field: body.get(field) for field in PAYLOAD_FIELDS}


def notify(
    new_item: dict[str, Any],
    old_item: dict[str, Any] | None,
    *,
    settings: Settings,
    sender: Callable[[], WebhookSender],
) -> list[Attempt]:
    """Deliver the notification a stream record calls for (raw DynamoDB images); the attempts."""
    record = from_item(new_item)
    status = ended_by(record, from_item(old_item) if old_item else None)
    webhook = webhook_of(record)
    if status is None or webhook is None:
        return []
    job_id = record["jobId"]
    delivery_id = f"{job_id}:{status}:{record.get('updatedAt')}"
    jobs = JobStatusManager(JobsTable(settings.jobs_table))
    current = jobs.get(job_id)
    earlier = (current.get("notifications") or {}).get("attempts") or []
    if any(a.get("deliveryId") == delivery_id and _delivered(a) for a in earlier):
        log.info("already delivered", extra={"jobId": job_id, "deliveryId": delivery_id})
        return []
    request = WebhookRequest(
        url=webhook["url"],
        method=webhook.get("method") or "POST",
        headers=webhook.get("headers") or {},
        body=json.dumps(payload(record, settings), separators=(",", ":")).encode(),
        event=f"job.{status}",
        delivery_id=delivery_id,
    )

    def record_attempt(attempt: Attempt) -> None:
        try:
            jobs.record_notification_attempt(job_id, {**attempt.as_record(), "deliveryId": delivery_id})
        except AutoVidError:  # the request went out: failing here would have the stream send it again
            log.exception("could not record a webhook attempt", extra={"jobId": job_id, "deliveryId": delivery_id})

    attempts = sender().deliver(request, on_attempt=record_attempt)
    outcome = "delivered" if attempts and attempts[-1].delivered else "not delivered"
    log.info(f"webhook {outcome}", extra={"jobId": job_id, "attempts": len(attempts), "event": request.event})
    return attempts


def webhook_sender(webhook: WebhookSettings, remaining_seconds: float) -> WebhookSender:
    """A sender configured by ``webhook`` whose attempts all end within ``remaining_seconds``
    (less a margin to record the last one): an attempt cut off by the end of the invocation would
    go unrecorded."""
    return WebhookSender(
        secret_value(webhook.secret_arn),
        timeout_seconds=webhook.timeout_seconds,
        max_attempts=webhook.max_attempts,
        allow_loopback=webhook.allow_loopback,
        give_up_at=time.monotonic() + remaining_seconds - FINISHING_SECONDS,
    )


def _delivered(attempt: dict[str, Any]) -> bool:
    code = attempt.get("statusCode")
    return isinstance(code, int) and 200 <= code < 300
