"""The job queue (SQS)."""

from __future__ import annotations

import json

from autovid.aws.clients import client
from autovid.aws.errors import aws_call


def send_job(queue_url: str, job_id: str) -> str:
    """Send ``{"jobId": ...}``; returns the SQS message id."""
    with aws_call("SQS SendMessage"):
        response = client("sqs").send_message(QueueUrl=queue_url, MessageBody=json.dumps({"jobId": job_id}))
    return response["MessageId"]
