"""The console's web app without a browser: sessions, the API-key login, the cross-site checks and
bad input, with Starlette's TestClient and a Step Functions client that records what it is asked."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from starlette.routing import Route
from starlette.testclient import TestClient

from autovid_cli.console.app import Console, create_app
from autovid_cli.runs import RunTarget

ORIGIN = "http://127.0.0.1:3001"
ARN = "arn:aws:states:us-east-1:123456789012:execution:machine:run-1"


class RecordingStepFunctions:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def start_execution(self, **request: Any) -> dict[str, Any]:
        self.calls.append(("start_execution", request))
        return {"executionArn": ARN}

    def describe_execution(self, **request: Any) -> dict[str, Any]:
        self.calls.append(("describe_execution", request))
        return {"name": "run-1", "status": "SUCCEEDED"}

    def redrive_execution(self, **request: Any) -> dict[str, Any]:
        self.calls.append(("redrive_execution", request))
        return {}

    def stop_execution(self, **request: Any) -> dict[str, Any]:
        self.calls.append(("stop_execution", request))
        return {}


def make_client(login_key: str | None = None) -> tuple[TestClient, RecordingStepFunctions]:
    sfn = RecordingStepFunctions()
    target = RunTarget(sfn, "arn:aws:states:us-east-1:123456789012:stateMachine:machine", None)
    app = create_app(Console(target, login_key=login_key))
    return TestClient(app, base_url=ORIGIN, follow_redirects=False), sfn


def token_of(html: str) -> str:
    match = re.search(r'name="csrf-token" content="([^"]+)"', html)
    assert match, "every page carries the session's token"
    return match.group(1)


def test_every_post_route_refuses_a_foreign_origin_and_a_missing_token() -> None:
    client, sfn = make_client()
    token = token_of(client.get("/executions/new").text)
    posts = [r.path for r in client.app.routes if isinstance(r, Route) and "POST" in (r.methods or set())]
    assert {"/executions/{arn}/redrive", "/executions/{arn}/stop", "/executions/new", "/submit"} <= set(posts)
    for path in posts:
        url = path.replace("{arn}", ARN)
        foreign = client.post(url, data={"csrf_token": token}, headers={"Origin": "http://evil.example"})
        assert foreign.status_code == 403 and "not this console" in foreign.text, path
        no_token = client.post(url, data={}, headers={"Origin": ORIGIN})
        assert no_token.status_code == 403 and "token" in no_token.text, path
        no_origin = client.post(url, data={"csrf_token": token})
        assert no_origin.status_code == 403 and "neither Origin nor Referer" in no_origin.text, path
    assert sfn.calls == [], "nothing reached Step Functions"


def test_a_post_from_the_console_with_its_token_is_done() -> None:
    client, sfn = make_client()
    token = token_of(client.get("/executions/new").text)
    answer = client.post(
        "/executions/new", data={"csrf_token": token, "input": '{"jobId": "j"}'}, headers={"Origin": ORIGIN}
    )
    assert answer.status_code == 303 and answer.headers["location"].startswith("/executions/arn%3Aaws")
    assert sfn.calls[-1][0] == "start_execution" and sfn.calls[-1][1]["input"] == '{"jobId": "j"}'
    referer = client.post(
        f"/executions/{ARN}/stop",
        data={"error": "E"},
        headers={"Referer": f"{ORIGIN}/executions", "X-CSRF-Token": token, "Accept": "application/json"},
    )
    assert referer.status_code == 200 and referer.json() == {"ok": True, "message": "stopped"}
    assert sfn.calls[-1] == ("stop_execution", {"executionArn": ARN, "error": "E"})


def test_a_token_of_another_session_is_refused() -> None:
    first, _ = make_client()
    token = token_of(first.get("/executions/new").text)
    other = TestClient(first.app, base_url=ORIGIN)
    answer = other.post("/executions/new", data={"csrf_token": token, "input": "{}"}, headers={"Origin": ORIGIN})
    assert answer.status_code == 403


def test_bad_input_names_the_field() -> None:
    client, sfn = make_client()
    token = token_of(client.get("/executions/new").text)
    answer = client.post("/executions/new", data={"csrf_token": token, "input": "{nope"}, headers={"Origin": ORIGIN})
    assert answer.status_code == 400 and "input: not JSON" in answer.text
    long_error = client.post(
        f"/executions/{ARN}/stop", data={"csrf_token": token, "error": "x" * 300}, headers={"Origin": ORIGIN}
    )
    assert long_error.status_code == 400 and "error: at most 256 characters" in long_error.text
    assert client.get("/executions?status=NOPE").status_code == 400
    assert "status: must be one of" in client.get("/executions?status=NOPE").text
    empty = client.post("/submit", data={"csrf_token": token, "spec": " "}, headers={"Origin": ORIGIN})
    assert empty.status_code == 400 and "spec: paste a job spec" in empty.text
    assert all(name != "start_execution" for name, _ in sfn.calls[1:])


def test_redrive_says_why_an_execution_is_not_redrivable() -> None:
    client, sfn = make_client()
    token = token_of(client.get("/executions/new").text)
    answer = client.post(
        f"/executions/{ARN}/redrive", headers={"Origin": ORIGIN, "X-CSRF-Token": token, "Accept": "application/json"}
    )
    assert answer.status_code == 409
    assert answer.json() == {"ok": False, "message": "execution run-1 succeeded: there is nothing to redrive"}
    assert "redrive_execution" not in [name for name, _ in sfn.calls]


def test_with_an_api_key_nothing_is_shown_before_the_login() -> None:
    client, _ = make_client(login_key="s3cret")
    assert client.get("/executions").status_code == 303
    assert client.get("/executions").headers["location"] == "/login?next=%2Fexecutions"
    assert client.get("/static/console.css").status_code == 200
    login = client.get("/login")
    token = token_of(login.text)
    assert 'for="api_key"' in login.text, "the field has a label"

    wrong = client.post("/login", data={"csrf_token": token, "api_key": "guess"}, headers={"Origin": ORIGIN})
    assert wrong.status_code == 403 and "api_key: not the key" in wrong.text
    assert client.get("/jobs").status_code == 303

    right = client.post(
        "/login", data={"csrf_token": token, "api_key": "s3cret", "next": "//evil.example/"}, headers={"Origin": ORIGIN}
    )
    assert right.status_code == 303 and right.headers["location"] == "/", "no redirect off the console"
    assert client.get("/executions/new").status_code == 200
    assert token_of(client.get("/executions/new").text) != token, "a new session after the login"


@pytest.mark.parametrize("host", ["evil.example", "rebound.example:3001"])
def test_a_foreign_host_header_is_refused(host: str) -> None:
    client, _ = make_client()
    assert client.get("/executions/new", headers={"Host": host}).status_code == 400


def test_a_jobs_duration_is_its_processing_time_or_the_time_it_has_taken() -> None:
    from autovid_cli.console.app import job_seconds

    assert job_seconds({"processingTime": 12.5, "status": "completed"}) == 12.5
    failed = {"status": "failed", "submittedAt": "2026-01-01T00:00:00.000Z", "updatedAt": "2026-01-01T00:01:30.000Z"}
    assert job_seconds(failed) == 90.0
    assert job_seconds({"status": "processing", "submittedAt": "2020-01-01T00:00:00Z"}) > 3600
    assert job_seconds({"status": "submitted"}) is None


def test_autovid_up_json_names_the_console_url() -> None:
    from types import SimpleNamespace

    from autovid_cli.up import startup_summary

    runtime = SimpleNamespace(
        aws_endpoint_url="http://127.0.0.1:4566",
        api_url="http://127.0.0.1:3000",
        api_key=None,
        outputs=dict,
        client_environment=dict,
        stack=SimpleNamespace(state_machine_arns={}, secrets={}),
        durable=SimpleNamespace(path=Path(".autovid/state")),
    )
    summary = startup_summary(runtime, "http://127.0.0.1:3001")
    assert (summary["consoleUrl"], summary["stateDir"]) == ("http://127.0.0.1:3001", ".autovid/state")


def test_autovid_console_without_a_stack_says_what_to_do(tmp_path) -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "AUTOVID_STATE_DIR": str(tmp_path)}
    env = {k: v for k, v in env.items() if not k.startswith("AWS_")}
    done = subprocess.run(
        [sys.executable, "-m", "autovid_cli", "console", "--port", "0"],
        capture_output=True, text=True, timeout=60, env=env, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert "no stack to talk to: run `autovid up`, or pass --stack NAME" in done.stderr
