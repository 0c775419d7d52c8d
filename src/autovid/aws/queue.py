"""The job queue (SQS)."""

from __future__ import annotations

import json

from botocore.exceptions import BotoCoreError, ClientError

from autovid.aws.clients import client
from autovid.aws.errors import raise_for_client_error
from autovid.errors import UpstreamUnavailableError


def send_job(queue_url: str, job_id: str) -> str:
    """Send ``{"jobId": ...}``; returns the SQS message id."""
    try:
        response = client("sqs").send_message(QueueUrl=queue_url, MessageBody=json.dumps({"jobId": job_id}))
    except ClientError as exc:
        raise_for_client_error(exc, "SQS SendMessage")
    except BotoCoreError as exc:
        raise UpstreamUnavailableError(f"SQS SendMessage failed: {exc}") from exc
    return response["MessageId"]
