"""Redriving the project's own state machine on the local runtime, and the run-inspection CLI."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from e2e.conftest import VIDEO_SECONDS, Stack

from autovid.render.probe import probe
from autovid_cli import main as cli
from autovid_cli.run_graph import COLOURS
from autovid_cli.runs import not_redrivable_message
from autovid_cli.targets import wait_for_job
from sam_emulator.testing import execution_history, wait_for_execution, wait_until

AWS_CLI = Path(sys.executable).with_name("aws")
SVG = "{http://www.w3.org/2000/svg}"


def scheduled_per_state(events: list[dict]) -> dict[str, int]:
    counts: dict[str, int] = {}
    current = None
    for event in events:
        if event["type"].endswith("StateEntered"):
            current = event["stateEnteredEventDetails"]["name"]
        elif event["type"] == "TaskScheduled" and current:
            counts[current] = counts.get(current, 0) + 1
    return counts


def sync_invocations(stack: Stack) -> int:
    log = stack.runtime.log_dir / "SyncJobStatusFunction.log"
    return sum(line.startswith("START RequestId:") for line in log.read_text().splitlines()) if log.exists() else 0


def fail_at_render(stack: Stack) -> dict:
    """RenderVideo fails past its retries (1 attempt + 3 retries); then the fault is removed."""
    job = stack.run_with_render_failing()
    assert job["status"] == "failed"
    assert job["error"]["state"] == "RenderVideo", job["error"]
    return job


@pytest.fixture
def cli_env(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The CLI's target options for this stack, with its endpoint's credentials in the environment."""
    for name, value in stack.runtime.client_environment().items():
        monkeypatch.setenv(name, value)
    return [
        "--api",
        stack.runtime.api_url or "",
        "--aws-endpoint",
        stack.runtime.aws_endpoint_url,
        "--state-machine",
        stack.runtime.ref("VideoJobStateMachine"),
    ]


def autovid(*args: str) -> tuple[int, str, str]:
    """Run the command as a user would, in its own process: what the stack's functions print while
    it runs cannot mix into its output."""
    done = subprocess.run(
        [sys.executable, "-m", "autovid_cli", *args], capture_output=True, text=True, timeout=120, check=False
    )
    return done.returncode, done.stdout, done.stderr


def test_a_job_failed_at_render_is_redriven_with_the_aws_cli_and_completes(stack: Stack) -> None:
    job = fail_at_render(stack)
    arn = job["executionArn"]
    assert job["error"] == {"type": "TransientError", "message": "render node went away", "state": "RenderVideo"}

    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env.update(stack.runtime.client_environment())
    wait_until(lambda: sync_invocations(stack) >= 1, what="the FAILED event's delivery")
    time.sleep(0.5)  # nothing else is on its way to SyncJobStatus
    syncs_before = sync_invocations(stack)
    redriven = subprocess.run(
        [str(AWS_CLI), "stepfunctions", "redrive-execution", "--execution-arn", arn]
        + ["--endpoint-url", stack.runtime.aws_endpoint_url, "--output", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert redriven.returncode == 0, redriven.stderr
    assert "redriveDate" in json.loads(redriven.stdout)
    done = wait_for_job(stack.api, job["jobId"], poll_seconds=0.1, timeout=60)

    assert done["status"] == "completed", done["error"]
    assert done["executionArn"] == arn, "the same execution finished the job"
    assert [h["status"] for h in done["statusHistory"]] == [
        "submitted",
        "processing",
        "failed",
        "retrying",
        "processing",
        "completed",
    ]
    retrying = done["statusHistory"][3]
    assert (retrying["reason"], retrying["redriveCount"]) == ("redrive", 1)
    events = execution_history(stack.runtime, arn)
    assert scheduled_per_state(events)["ValidateJob"] == 1, "ValidateJob is not re-run"
    assert scheduled_per_state(events)["RenderVideo"] == 5, "4 failed attempts, then the redriven one"
    assert [e["executionRedrivenEventDetails"] for e in events if e["type"] == "ExecutionRedriven"] == [
        {"redriveCount": 1}
    ]
    # The status-sync rule took the redrive's RUNNING event: one more SyncJobStatus invocation
    # (delivered asynchronously, as on AWS); the SUCCEEDED end matches no rule.
    wait_until(
        lambda: sync_invocations(stack) == syncs_before + 1,
        timeout=20,
        what="SyncJobStatus to take the redrive's RUNNING event",
    )
    description = wait_for_execution(stack.runtime, arn)  # FinalizeJob marks the job completed, then returns
    assert (description["status"], description["redriveCount"]) == ("SUCCEEDED", 1)
    bucket, _, key = done["output"]["s3Uri"].removeprefix("s3://").partition("/")
    stored = Path(stack.files["clip"]).with_name(f"redriven-{job['jobId']}.mp4")
    stack.runtime.client("s3").download_file(bucket, key, str(stored))
    assert abs(probe(stored).duration - VIDEO_SECONDS) <= 0.05


def test_runs_history_and_graph_show_a_failed_then_redriven_job(
    stack: Stack, cli_env: list[str], tmp_path: Path
) -> None:
    job = fail_at_render(stack)
    job_id, arn = job["jobId"], job["executionArn"]

    code, out, _ = autovid("runs", "--status", "FAILED", "--json", *cli_env)
    assert code == 0
    rows = {row["jobId"]: row for row in map(json.loads, out.splitlines())}
    assert rows[job_id]["status"] == "FAILED"
    assert (rows[job_id]["failedState"], rows[job_id]["redriveCount"]) == ("RenderVideo", 0)
    assert all(row["status"] == "FAILED" for row in rows.values())

    before = tmp_path / "before.svg"
    assert autovid("graph", job_id, "-o", str(before), *cli_env)[0] == 0
    assert state_fill(before, "RenderVideo") == COLOURS["failed"]
    assert state_fill(before, "ValidateJob") == COLOURS["succeeded"]
    assert state_fill(before, "UploadOutput") == COLOURS["not_reached"]

    code, _, err = autovid("redrive", job_id, "--wait", "--timeout", "60", *cli_env)
    assert code == 0, err
    assert "redrive 1" in err and "resuming at RenderVideo" in err
    assert stack.api.status(job_id)["status"] == "completed"
    wait_for_execution(stack.runtime, arn)  # FinalizeJob marks the job completed, then returns

    code, out, _ = autovid("runs", "--limit", "50", *cli_env)
    assert code == 0
    header, *lines = out.splitlines()
    assert header.split() == ["JOB", "ID", "STATUS", "STARTED", "(UTC)", "DURATION", "REDRIVES", "FAILED", "STATE"]
    row = next(line.split() for line in lines if line.startswith(job_id))
    assert (row[1], row[-2], row[-1]) == ("SUCCEEDED", "1", "-")

    code, out, _ = autovid("history", job_id, *cli_env)
    assert code == 0
    timeline = out.splitlines()
    assert f"job {job_id}" in timeline[0] and "SUCCEEDED" in timeline[0] and "redriven 1x" in timeline[0]
    retries = [line for line in timeline if "retry" in line and "RenderVideo" in line]
    assert len(retries) == 3 and all("after TransientError: render node" in line for line in retries)
    boundary = next(i for i, line in enumerate(timeline) if line.startswith("── redrive 1"))
    after = timeline[boundary + 1 :]
    assert "RenderVideo" in after[0] and "succeeded" in after[0]
    assert not any("ValidateJob" in line for line in after), "ValidateJob is not re-run"
    assert "execution succeeded" in timeline[-1]

    after_svg = tmp_path / "after.svg"
    assert autovid("graph", arn, "-o", str(after_svg), *cli_env)[0] == 0
    assert state_fill(after_svg, "RenderVideo") == COLOURS["succeeded"]
    assert state_fill(after_svg, "FinalizeJob") == COLOURS["succeeded"]
    assert "redriven" in after_svg.read_text()
    attempt_one = tmp_path / "attempt1.svg"
    assert autovid("graph", job_id, "--attempt", "1", "-o", str(attempt_one), *cli_env)[0] == 0
    assert state_fill(attempt_one, "RenderVideo") == COLOURS["failed"]
    assert autovid("graph", job_id, "--attempt", "3", "-o", str(attempt_one), *cli_env)[0] == 2


def state_fill(svg: Path, state: str) -> str:
    root = ET.fromstring(svg.read_text())
    assert root.tag == f"{SVG}svg"
    shapes = [element for element in root.iter() if element.get("data-state") == state]
    assert len(shapes) == 1, f"{state}: {len(shapes)} shapes"
    return shapes[0].get("fill")


def test_redrive_refuses_what_cannot_be_redriven(
    stack: Stack, cli_env: list[str], capsys: pytest.CaptureFixture
) -> None:
    completed = stack.run(stack.spec())
    assert completed["status"] == "completed"
    code, _, err = autovid("redrive", completed["jobId"], *cli_env)
    assert code == 1
    assert "succeeded: there is nothing to redrive" in err

    unknown = stack.runtime.ref("VideoJobStateMachine").replace(":stateMachine:", ":execution:") + ":no-such-run"
    code, _, err = autovid("history", unknown, *cli_env)
    assert code == 2 and "ExecutionDoesNotExist" in err
    code, _, err = autovid("graph", completed["jobId"], "-o", "/nonexistent-dir/run.svg", *cli_env)
    assert code == 2 and "cannot write /nonexistent-dir/run.svg" in err
    with pytest.raises(SystemExit) as usage:
        cli.main(["runs", "--limit", "0", *cli_env])
    assert usage.value.code == 2
    assert "expected a whole number of 1 or more" in capsys.readouterr().err

    now = dt.datetime.now(dt.UTC)
    running = {"name": "e1", "status": "RUNNING", "startDate": now}
    assert "still running" in not_redrivable_message(running)
    expired = {"name": "e2", "status": "FAILED", "stopDate": now - dt.timedelta(days=15)}
    assert "more than 14 days ago" in not_redrivable_message(expired)
    assert "submit the job again" in not_redrivable_message(expired)
    assert (
        not_redrivable_message({"name": "e3", "status": "FAILED", "stopDate": now, "redriveStatus": "REDRIVABLE"})
        is None
    )
