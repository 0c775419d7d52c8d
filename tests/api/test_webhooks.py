"""Webhook signing and delivery against a real local HTTP receiver."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from autovid.core.config import Limits
from autovid.webhooks.delivery import WebhookRequest, WebhookSender
from autovid.webhooks.protocol import DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, signature, verify_signature

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
    import socket

    connects: list[Any] = []
    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: connects.append(a))
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
    from autovid.core.config import Settings
    from autovid.jobs.transitions import JobStatusManager

    return JobStatusManager(JobsTable(Settings().jobs_table))


def stored_ended_job(jobs: Any, url: str, status: str = "completed") -> dict:
    from support import minimal_spec

    from autovid.jobs.records import new_job_record
    from autovid.spec import parse_spec

    spec = minimal_spec()
    spec["notifications"] = {
        "webhook": {"url": url, "method": "POST", "headers": {"X-Token": "t"}, "metadata": {"sheetId": "s-1"}}
    }
    record = new_job_record(parse_spec(spec, Limits()), ttl_seconds=3600)
    jobs.table.create(record)
    before = dict(record)
    record = jobs.transition(record["jobId"], _status("processing"), reason="workflow started")
    if status == "completed":
        from autovid.jobs.records import JobOutput

        ended = jobs.mark_completed(
            record["jobId"],
            JobOutput(s3Uri=f"s3://auto-vid-s3-bucket-test-123456789012/outputs/{record['jobId']}/o.mp4"),
        )
    else:
        from autovid.jobs.records import JobError

        ended = jobs.mark_failed(
            record["jobId"], JobError(type="InvalidAssetError", message="bad", state="ValidateJob")
        )
    return {"before": record, "after": ended, "submitted": before}


def _status(name: str) -> Any:
    from autovid.jobs.records import JobStatus

    return JobStatus(name)


def images(new: dict, old: dict | None) -> tuple[dict, dict | None]:
    from autovid.aws.jobs import to_attribute_values

    return to_attribute_values(new), to_attribute_values(old) if old else None


def test_an_ended_job_is_notified_once_with_the_documented_payload(
    receiver: Receiver, jobs: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from autovid.core.config import Settings
    from autovid.jobs.notifications import notify

    monkeypatch.setenv("ALLOW_HTTP_WEBHOOKS", "true")
    monkeypatch.setenv("ALLOW_LOOPBACK_FETCH", "true")  # the receiver is on this machine
    job = stored_ended_job(jobs, receiver.url)
    new, old = images(job["after"], job["before"])

    attempts = notify(new, old, settings=Settings(), sender=sender)
    again = notify(new, old, settings=Settings(), sender=sender)  # the stream delivers it twice

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
    from autovid.core.config import Settings
    from autovid.jobs.notifications import notify

    monkeypatch.setenv("ALLOW_HTTP_WEBHOOKS", "true")
    monkeypatch.setenv("ALLOW_LOOPBACK_FETCH", "true")  # the receiver is on this machine
    receiver.script = [500, 500, 500]
    job = stored_ended_job(jobs, receiver.url, status="failed")
    new, old = images(job["after"], job["before"])

    attempts = notify(new, old, settings=Settings(), sender=lambda: sender(max_attempts=3))

    assert [a.status_code for a in attempts] == [500, 500, 500]
    body = json.loads(receiver.requests[0]["body"])
    assert body["status"] == "failed" and body["error"]["state"] == "ValidateJob"
    record = jobs.get(job["after"]["jobId"])
    assert record["status"] == "failed" and record["statusHistory"] == job["after"]["statusHistory"]
    assert [a["statusCode"] for a in record["notifications"]["attempts"]] == [500, 500, 500]


def test_only_a_change_to_an_ended_status_notifies(
    receiver: Receiver, jobs: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from autovid.core.config import Settings
    from autovid.jobs.notifications import ended_by, notify

    monkeypatch.setenv("ALLOW_HTTP_WEBHOOKS", "true")
    monkeypatch.setenv("ALLOW_LOOPBACK_FETCH", "true")  # the receiver is on this machine
    job = stored_ended_job(jobs, receiver.url)
    assert ended_by({"status": "completed"}, {"status": "processing"}) == "completed"
    assert ended_by({"status": "failed"}, None) == "failed", "a job that failed at submit (no old image)"
    assert ended_by({"status": "completed"}, {"status": "completed"}) is None, "e.g. an attempt was recorded"
    assert ended_by({"status": "retrying"}, {"status": "failed"}) is None
    later = dict(job["after"], notifications={"attempts": [{"statusCode": 500}]})
    new, old = images(later, job["after"])
    assert notify(new, old, settings=Settings(), sender=sender) == []
    assert receiver.requests == []


def test_the_verify_webhook_command(tmp_path: Any, capsys: pytest.CaptureFixture) -> None:
    from autovid_cli import main as cli

    body = tmp_path / "body.json"
    body.write_bytes(b'{"jobId":"j1","status":"completed"}')
    header = signature(SECRET, body.read_bytes(), int(time.time()))
    assert cli.main(["verify-webhook", str(body), "--signature", header, "--secret", SECRET]) == 0
    assert "valid" in capsys.readouterr().out
    assert cli.main(["verify-webhook", str(body), "--signature", header, "--secret", "wrong"]) == 1
    old = signature(SECRET, body.read_bytes(), int(time.time()) - 3600)
    assert cli.main(["verify-webhook", str(body), "--signature", old, "--secret", SECRET]) == 1
    assert cli.main(["verify-webhook", str(tmp_path / "missing"), "--signature", header, "--secret", SECRET]) == 2


def test_the_verify_webhook_help_names_the_service_tolerance() -> None:
    """The command's arguments are declared without importing the webhook module (fast start-up),
    so its help spells the default out: it must be the service's."""
    from autovid.webhooks.protocol import DEFAULT_TOLERANCE_SECONDS
    from autovid_cli import main as cli

    help_text = cli.build_parser()._subparsers._group_actions[0].choices["verify-webhook"].format_help()
    assert f"default: the service's, {DEFAULT_TOLERANCE_SECONDS})" in " ".join(help_text.split())


def test_a_receiver_that_drips_its_answer_cannot_hold_an_attempt() -> None:
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    stop = threading.Event()

    def drip() -> None:
        connection, _ = listener.accept()
        connection.recv(65536)
        for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"y" * 100:
            if stop.is_set():
                break
            connection.sendall(bytes([byte]))
            time.sleep(0.2)
        connection.close()

    threading.Thread(target=drip, daemon=True).start()
    started = time.monotonic()
    try:
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/hook"
        attempts = sender(timeout_seconds=1.0, max_attempts=1).deliver(request(url), lambda a: None)
    finally:
        stop.set()
        listener.close()
    assert time.monotonic() - started < 4, "the timeout bounds the whole attempt, not each byte"
    assert attempts[0].status_code is None and "did not answer within" in attempts[0].error


def test_no_retry_starts_that_could_outlive_the_invocation(receiver: Receiver) -> None:
    receiver.script = [503, 503, 503]
    give_up_at = time.monotonic() + 0.5  # less than one more attempt's timeout
    attempts = sender(timeout_seconds=2.0, give_up_at=give_up_at).deliver(request(receiver.url), lambda a: None)
    assert [a.status_code for a in attempts] == [503]


def test_a_request_that_cannot_be_sent_is_recorded_not_raised(receiver: Receiver) -> None:
    seen: list[Any] = []
    attempts = sender().deliver(request(receiver.url, headers={"X-Bad": "a\r\nInjected: yes"}), seen.append)
    assert len(attempts) == 1 and attempts == seen
    assert attempts[0].status_code is None and "could not be sent" in attempts[0].error
    assert receiver.requests == []


def test_the_users_lowercase_user_agent_is_sent_once(receiver: Receiver) -> None:
    sender().deliver(request(receiver.url, headers={"user-agent": "my-hook/2"}), lambda a: None)
    (got,) = receiver.requests
    assert [v for k, v in got["headers"].items() if k.lower() == "user-agent"] == ["my-hook/2"]


@pytest.mark.parametrize("header", ["t=1,v1=\u00e9\u00e9", "garbage", "", "t=abc,v1=00", "v1=" + "0" * 64])
def test_a_hostile_signature_header_is_invalid_not_an_error(header: str) -> None:
    assert verify_signature(SECRET, header, b"{}") is False


@pytest.fixture(scope="module")
def tls_receiver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, list[bytes]]]:
    """An HTTPS receiver on 127.0.0.1 with a certificate for `hooks.test` (and its CA file)."""
    import ssl
    import subprocess

    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=hooks.test",
         "-addext", "subjectAltName=DNS:hooks.test", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    bodies: list[bytes] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            bodies.append(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"{server.server_address[1]}", str(cert), bodies
    server.shutdown()
    server.server_close()


def test_https_delivery_verifies_the_name_on_the_pinned_address(tls_receiver: tuple[str, str, list[bytes]]) -> None:
    port, ca_file, bodies = tls_receiver
    resolver = lambda host, port: ["127.0.0.1"]  # noqa: E731 - the test's DNS
    good = sender(resolver=resolver, ca_certs=ca_file)
    attempts = good.deliver(request(f"https://hooks.test:{port}/hook"), lambda a: None)
    assert [a.status_code for a in attempts] == [200] and len(bodies) == 1

    wrong_name = sender(resolver=lambda host, port: ["127.0.0.1"], ca_certs=ca_file)
    attempts = wrong_name.deliver(request(f"https://other.test:{port}/hook"), lambda a: None)
    assert len(attempts) == 1, "a certificate for another name is not retried"
    assert attempts[0].status_code is None and "TLS verification failed" in attempts[0].error
    assert len(bodies) == 1, "nothing was sent to a host that could not prove its name"
