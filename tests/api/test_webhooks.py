"""Webhook signing and delivery against a real local HTTP receiver."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from autovid.webhooks import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    WebhookRequest,
    WebhookSender,
    signature,
    verify_signature,
)

SECRET = "test-secret-0123456789"


class Receiver:
    """A local endpoint answering a scripted list of statuses ("hang" waits past the timeout)."""

    def __init__(self) -> None:
        self.script: list[int | str] = []
        self.requests: list[dict[str, Any]] = []
        self.release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.requests.append(
                    {"method": self.command, "path": self.path, "headers": dict(self.headers), "body": body}
                )
                step = receiver.script.pop(0) if receiver.script else 200
                if step == "hang":
                    receiver.release.wait(5)
                    return
                self.send_response(int(step))
                if 300 <= int(step) < 400:
                    self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_POST = do_PUT = _handle  # noqa: N815 - http.server's naming

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/auto-vid?x=1"

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


def sender(**options: Any) -> WebhookSender:
    settings = {"allow_loopback": True, "sleep": lambda seconds: None, "timeout_seconds": 2.0, **options}
    return WebhookSender(SECRET, **settings)


def request(url: str, method: str = "POST", headers: dict[str, str] | None = None) -> WebhookRequest:
    body = json.dumps({"jobId": "j1", "status": "completed"}).encode()
    return WebhookRequest(url, method, headers or {}, body, "job.completed", "j1:completed:2026-11-28T12:00:00.000Z")


def test_a_signature_verifies_and_a_tampered_or_stale_one_does_not() -> None:
    body = b'{"jobId":"j1"}'
    now = 1_800_000_000
    header = signature(SECRET, body, now)
    assert header.startswith(f"t={now},v1=") and len(header.split("v1=")[1]) == 64
    assert verify_signature(SECRET, header, body, now=now + 10)
    assert not verify_signature(SECRET, header, body + b" ", now=now), "another body"
    assert not verify_signature("other-secret", header, body, now=now), "another secret"
    assert not verify_signature(SECRET, header, body, now=now + 301), "replayed after the tolerance"
    assert not verify_signature(SECRET, "v1=abc", body, now=now), "no timestamp"
    rotated = f"{header},v1={'0' * 64}"
    assert verify_signature(SECRET, rotated, body, now=now), "any v1 may match (secret rotation)"


def test_a_delivery_is_signed_with_the_users_method_and_headers(receiver: Receiver) -> None:
    seen: list[Any] = []
    attempts = sender().deliver(
        request(receiver.url, "PUT", {"X-Custom": "yes", SIGNATURE_HEADER: "forged", "Content-Type": "text/plain"}),
        seen.append,
    )

    assert [a.status_code for a in attempts] == [200] and attempts == seen
    (got,) = receiver.requests
    assert (got["method"], got["path"]) == ("PUT", "/hooks/auto-vid?x=1")
    headers = {k.lower(): v for k, v in got["headers"].items()}
    assert headers["x-custom"] == "yes"
    assert headers["content-type"] == "application/json", "the service's headers win"
    assert headers[EVENT_HEADER.lower()] == "job.completed"
    assert headers[DELIVERY_HEADER.lower()] == "j1:completed:2026-11-28T12:00:00.000Z"
    assert verify_signature(SECRET, headers[SIGNATURE_HEADER.lower()], got["body"])
    assert json.loads(got["body"]) == {"jobId": "j1", "status": "completed"}


def test_5xx_timeouts_and_refused_connections_are_retried_4xx_never(receiver: Receiver) -> None:
    receiver.script = [503, "hang", 500, 200]
    delays: list[float] = []
    attempts = sender(timeout_seconds=0.3, sleep=delays.append).deliver(request(receiver.url), lambda a: None)
    assert [a.status_code for a in attempts] == [503, None, 500, 200]
    assert "did not answer within" in attempts[1].error
    assert len(delays) == 3 and all(0 <= d <= 1.0 * 2**i for i, d in enumerate(delays)), "exponential, jittered"

    receiver.script = [404]
    attempts = sender().deliver(request(receiver.url), lambda a: None)
    assert [(a.status_code, a.error) for a in attempts] == [(404, "HTTP 404: not retried")]

    closed = f"http://127.0.0.1:{_free_port()}/hook"
    attempts = sender(max_attempts=3).deliver(request(closed), lambda a: None)
    assert len(attempts) == 3 and all(a.status_code is None and "cannot connect" in a.error for a in attempts)


def test_a_redirect_is_not_followed(receiver: Receiver) -> None:
    receiver.script = [302]
    attempts = sender().deliver(request(receiver.url), lambda a: None)
    assert [(a.status_code, a.error) for a in attempts] == [(302, "HTTP 302: redirects are not followed")]
    assert len(receiver.requests) == 1


def test_a_hanging_endpoint_costs_at_most_the_attempts_times_the_timeout(receiver: Receiver) -> None:
    receiver.script = ["hang"] * 3
    started = time.monotonic()
    attempts = sender(timeout_seconds=0.2, max_attempts=3).deliver(request(receiver.url), lambda a: None)
    assert [a.status_code for a in attempts] == [None, None, None]
    assert time.monotonic() - started < 5, "bounded by the per-attempt timeout, not by the endpoint"


@pytest.mark.parametrize(
    ("url", "answer", "reason"),
    [
        ("http://169.254.169.254/latest/meta-data/", None, "link-local"),
        ("https://internal.example/hook", ["10.0.0.1"], "private"),
        ("https://[::1]/hook", None, "loopback"),
        ("https://rebind.example/hook", ["93.184.216.34", "127.0.0.1"], "loopback"),
    ],
)
def test_internal_addresses_are_refused_before_any_connection(
    url: str, answer: list[str] | None, reason: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import urllib3.util.connection

    connects: list[Any] = []
    monkeypatch.setattr(urllib3.util.connection, "create_connection", lambda *a, **k: connects.append(a))
    resolver = (lambda host, port: answer) if answer else None
    attempts = WebhookSender(SECRET, resolver=resolver, sleep=lambda s: None).deliver(request(url), lambda a: None)
    assert len(attempts) == 1, "a refused address is not retried"
    assert attempts[0].status_code is None and reason in attempts[0].error
    assert connects == [], "no request left for the target"


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- notifications of ended jobs (the stream handler's domain) --------------------------------


@pytest.fixture
def jobs(aws: dict) -> Any:
    from autovid.aws.jobs import JobsTable
    from autovid.config import Settings
    from autovid.status import JobStatusManager

    return JobStatusManager(JobsTable(Settings.from_env().jobs_table))


def stored_ended_job(jobs: Any, url: str, status: str = "completed") -> dict:
    from support import minimal_spec

    from autovid.records import new_job_record
    from autovid.spec import parse_spec

    spec = minimal_spec()
    spec["notifications"] = {
        "webhook": {"url": url, "method": "POST", "headers": {"X-Token": "t"}, "metadata": {"sheetId": "s-1"}}
    }
    record = new_job_record(parse_spec(spec), ttl_seconds=3600)
    jobs.table.create(record)
    before = dict(record)
    record = jobs.transition(record["jobId"], _status("processing"), reason="workflow started")
    if status == "completed":
        from autovid.records import JobOutput

        ended = jobs.mark_completed(
            record["jobId"],
            JobOutput(s3Uri=f"s3://auto-vid-s3-bucket-test-123456789012/outputs/{record['jobId']}/o.mp4"),
        )
    else:
        from autovid.records import JobError

        ended = jobs.mark_failed(
            record["jobId"], JobError(type="InvalidAssetError", message="bad", state="ValidateJob")
        )
    return {"before": record, "after": ended, "submitted": before}


def _status(name: str) -> Any:
    from autovid.records import JobStatus

    return JobStatus(name)


def images(new: dict, old: dict | None) -> tuple[dict, dict | None]:
    from autovid.aws.jobs import to_attribute_values

    return to_attribute_values(new), to_attribute_values(old) if old else None


def test_an_ended_job_is_notified_once_with_the_documented_payload(
    receiver: Receiver, jobs: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from autovid.config import Settings
    from autovid.notify import notify

    monkeypatch.setenv("ALLOW_HTTP_WEBHOOKS", "true")
    job = stored_ended_job(jobs, receiver.url)
    new, old = images(job["after"], job["before"])

    attempts = notify(new, old, settings=Settings.from_env(), sender=sender)
    again = notify(new, old, settings=Settings.from_env(), sender=sender)  # the stream delivers it twice

    assert [a.status_code for a in attempts] == [200] and again == []
    (got,) = receiver.requests
    body = json.loads(got["body"])
    assert list(body) == [
        "jobId", "status", "submittedAt", "updatedAt", "completedAt", "processingTime", "output", "jobInfo", "error",
        "metadata",
    ]  # fmt: skip
    job_id = job["after"]["jobId"]
    assert (body["jobId"], body["status"]) == (job_id, "completed")
    assert body["submittedAt"] == job["submitted"]["submittedAt"] and body["updatedAt"] == job["after"]["updatedAt"]
    assert body["completedAt"] and body["processingTime"] is not None
    assert body["output"]["s3Uri"].endswith("/o.mp4") and "X-Amz-Signature=" in body["output"]["url"]
    assert body["metadata"] == {"sheetId": "s-1"} and body["error"] is None
    headers = {k.lower(): v for k, v in got["headers"].items()}
    assert headers["x-token"] == "t" and verify_signature(SECRET, headers["x-autovid-signature"], got["body"])
    record = jobs.get(job_id)
    assert record["status"] == "completed"
    (attempt,) = record["notifications"]["attempts"]
    assert attempt["statusCode"] == 200 and attempt["event"] == "job.completed" and attempt["error"] is None
    assert attempt["deliveryId"] == f"{job_id}:completed:{job['after']['updatedAt']}"


def test_a_failing_webhook_is_recorded_and_never_changes_the_status(
    receiver: Receiver, jobs: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from autovid.config import Settings
    from autovid.notify import notify

    monkeypatch.setenv("ALLOW_HTTP_WEBHOOKS", "true")
    receiver.script = [500, 500, 500]
    job = stored_ended_job(jobs, receiver.url, status="failed")
    new, old = images(job["after"], job["before"])

    attempts = notify(new, old, settings=Settings.from_env(), sender=lambda: sender(max_attempts=3))

    assert [a.status_code for a in attempts] == [500, 500, 500]
    body = json.loads(receiver.requests[0]["body"])
    assert body["status"] == "failed" and body["error"]["state"] == "ValidateJob"
    record = jobs.get(job["after"]["jobId"])
    assert record["status"] == "failed" and record["statusHistory"] == job["after"]["statusHistory"]
    assert [a["statusCode"] for a in record["notifications"]["attempts"]] == [500, 500, 500]


def test_only_a_change_to_an_ended_status_notifies(
    receiver: Receiver, jobs: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from autovid.config import Settings
    from autovid.notify import ended_by, notify

    monkeypatch.setenv("ALLOW_HTTP_WEBHOOKS", "true")
    job = stored_ended_job(jobs, receiver.url)
    assert ended_by({"status": "completed"}, {"status": "processing"}) == "completed"
    assert ended_by({"status": "failed"}, None) == "failed", "a job that failed at submit (no old image)"
    assert ended_by({"status": "completed"}, {"status": "completed"}) is None, "e.g. an attempt was recorded"
    assert ended_by({"status": "retrying"}, {"status": "failed"}) is None
    later = dict(job["after"], notifications={"attempts": [{"statusCode": 500}]})
    new, old = images(later, job["after"])
    assert notify(new, old, settings=Settings.from_env(), sender=sender) == []
    assert receiver.requests == []


def test_the_verify_webhook_command(tmp_path: Any, capsys: pytest.CaptureFixture) -> None:
    from autovid_local import cli

    body = tmp_path / "body.json"
    body.write_bytes(b'{"jobId":"j1","status":"completed"}')
    header = signature(SECRET, body.read_bytes(), int(time.time()))
    assert cli.main(["verify-webhook", str(body), "--signature", header, "--secret", SECRET]) == 0
    assert "valid" in capsys.readouterr().out
    assert cli.main(["verify-webhook", str(body), "--signature", header, "--secret", "wrong"]) == 1
    old = signature(SECRET, body.read_bytes(), int(time.time()) - 3600)
    assert cli.main(["verify-webhook", str(body), "--signature", old, "--secret", SECRET]) == 1
    assert cli.main(["verify-webhook", str(tmp_path / "missing"), "--signature", header, "--secret", SECRET]) == 2
