"""Webhooks end to end on the local runtime: the jobs table's stream, NotifyWebhook, the signing
secret, and a real receiver on this machine."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from e2e.conftest import Stack, started_stack

from autovid.webhooks.protocol import verify_signature
from sam_emulator.testing import wait_until


class Receiver:
    """Records every request; answers 200, or hangs while ``hang`` is set."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.hang = threading.Event()
        self.release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.requests.append({"headers": {k.lower(): v for k, v in self.headers.items()}, "body": body})
                if receiver.hang.is_set():
                    receiver.release.wait(10)
                    return
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/auto-vid"

    def for_job(self, job_id: str) -> list[dict[str, Any]]:
        return [r for r in self.requests if json.loads(r["body"])["jobId"] == job_id]


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.release.set()
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    # This machine is the webhook's host: loopback allowed, http accepted, short timeouts.
    environment = {
        "ALLOW_LOOPBACK_FETCH": "true",
        "ALLOW_HTTP_WEBHOOKS": "true",
        "WEBHOOK_TIMEOUT_SECONDS": "0.5",
        "WEBHOOK_MAX_ATTEMPTS": "2",
    }
    with started_stack(tmp_path_factory.mktemp("webhook-media"), function_environment=environment) as started:
        yield started


def secret(stack: Stack) -> str:
    arn = stack.runtime.outputs()["WebhookSigningSecretArn"]
    return stack.runtime.client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"]


def with_webhook(stack: Stack, receiver: Receiver, **changes: Any) -> dict:
    webhook = {"url": receiver.url, "headers": {"X-Team": "video"}, "metadata": {"sheetId": "s-9"}}
    return stack.spec(notifications={"webhook": webhook}, **changes)


def attempts_of(stack: Stack, job_id: str) -> list[dict]:
    return (stack.api.status(job_id).get("notifications") or {}).get("attempts") or []


def test_a_completed_job_calls_its_webhook_once_signed(stack: Stack, receiver: Receiver) -> None:
    job = stack.run(with_webhook(stack, receiver))
    assert job["status"] == "completed", job["error"]

    (request,) = wait_until(lambda: receiver.for_job(job["jobId"]), timeout=30, what="the webhook")
    body = json.loads(request["body"])
    assert body["status"] == "completed" and body["submittedAt"] and body["updatedAt"] and body["completedAt"]
    assert body["metadata"] == {"sheetId": "s-9"} and body["jobInfo"]["projectId"] == "e2e"
    assert body["output"]["url"].startswith("http") and body["output"]["s3Uri"] == job["output"]["s3Uri"]
    headers = request["headers"]
    assert headers["x-team"] == "video" and headers["x-autovid-event"] == "job.completed"
    assert verify_signature(secret(stack), headers["x-autovid-signature"], request["body"])
    (attempt,) = wait_until(lambda: attempts_of(stack, job["jobId"]), timeout=30, what="the recorded attempt")
    assert (attempt["statusCode"], attempt["event"], attempt["error"]) == (204, "job.completed", None)
    assert stack.api.status(job["jobId"])["status"] == "completed"
    assert len(receiver.for_job(job["jobId"])) == 1, "recording the attempt does not notify again"


def test_a_failed_job_calls_its_webhook_with_the_error(stack: Stack, receiver: Receiver) -> None:
    spec = with_webhook(stack, receiver)
    spec["assets"]["audio"][1]["source"] = f"s3://{stack.bucket}/assets/e2e/missing.wav"
    job = stack.run(spec)
    assert job["status"] == "failed"

    (request,) = wait_until(lambda: receiver.for_job(job["jobId"]), timeout=30, what="the webhook")
    body = json.loads(request["body"])
    assert body["status"] == "failed" and body["error"]["state"] == "ValidateJob"
    assert "beep" in body["error"]["message"]
    assert request["headers"]["x-autovid-event"] == "job.failed"


def test_a_hanging_webhook_is_recorded_and_the_job_stays_completed(stack: Stack, receiver: Receiver) -> None:
    receiver.hang.set()
    try:
        job = stack.run(with_webhook(stack, receiver))
        assert job["status"] == "completed"
        attempts = wait_until(lambda: len(attempts_of(stack, job["jobId"])) == 2 and attempts_of(stack, job["jobId"]),
                              timeout=30, what="two timed-out attempts")  # fmt: skip
    finally:
        receiver.hang.clear()
        receiver.release.set()
    assert all(a["statusCode"] is None and "did not answer within" in a["error"] for a in attempts)
    record = stack.api.status(job["jobId"])
    assert record["status"] == "completed" and [h["status"] for h in record["statusHistory"]][-1] == "completed"
