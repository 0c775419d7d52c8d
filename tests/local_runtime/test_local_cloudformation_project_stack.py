"""The project's stack as a CloudFormation stack: its outputs through the AWS CLI, ``autovid
--stack auto-vid-local`` and the banner."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from autovid_cli import targets
from autovid_cli.up import startup_banner
from sam_emulator.testing import run_execution, running_runtime

AWS_CLI = Path(sys.executable).parent / "aws"


@pytest.fixture(scope="module")
def project_stack():
    root = Path(__file__).parents[2]
    with running_runtime(root / "template.yaml", stack_name="auto-vid-local") as runtime:
        yield runtime


def test_the_project_stack_outputs_through_the_aws_cli(project_stack):
    completed = subprocess.run(
        [str(AWS_CLI), "--endpoint-url", project_stack.aws_endpoint_url, "cloudformation", "describe-stacks",
         "--stack-name", "auto-vid-local"],
        env={**os.environ, **project_stack.client_environment()}, capture_output=True, text=True, check=True,
        timeout=60,
    )  # fmt: skip
    outputs = {o["OutputKey"]: o["OutputValue"] for o in json.loads(completed.stdout)["Stacks"][0]["Outputs"]}

    assert outputs["ApiUrl"] == project_stack.api_url + "/"
    assert outputs["MediaBucketName"] == project_stack.ref("MediaBucket")
    assert outputs["JobQueueUrl"] == project_stack.ref("JobQueue")
    assert outputs["JobDeadLetterQueueUrl"] == project_stack.ref("JobDeadLetterQueue")
    assert "ApiKeyId" not in outputs, "no API key resource exists locally"


def test_autovid_stack_name_finds_the_running_local_stack(project_stack, tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOVID_STATE_DIR", str(tmp_path))
    targets.write_local_stack_file(
        project_stack.api_url,
        project_stack.outputs(),
        project_stack.client_environment(),
        stack_name="auto-vid-local",
    )

    by_name = targets.find_stack(None, None, "auto-vid-local")
    default = targets.find_stack(None, None, None)

    assert (by_name.api_url, by_name.bucket) == (project_stack.api_url + "/", project_stack.ref("MediaBucket"))
    assert by_name.aws_environment == default.aws_environment
    assert by_name.bucket == default.bucket


def test_autovid_runs_with_stack_name_reads_the_local_executions(project_stack, tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOVID_STATE_DIR", str(tmp_path))
    targets.write_local_stack_file(
        project_stack.api_url, project_stack.outputs(), project_stack.client_environment(), stack_name="auto-vid-local"
    )
    run_execution(project_stack, "VideoJobStateMachine", {"jobId": "not-submitted"})
    completed = subprocess.run(
        [sys.executable, "-m", "autovid_cli", "runs", "--stack", "auto-vid-local", "--json"],
        env={**os.environ, "AUTOVID_STATE_DIR": str(tmp_path)}, capture_output=True, text=True, timeout=60,
    )  # fmt: skip

    assert completed.returncode == 0, completed.stderr
    rows = [json.loads(line) for line in completed.stdout.splitlines()]
    assert [row["jobId"] for row in rows] == ["not-submitted"]


def test_the_banner_prints_the_bucket(project_stack):
    banner = startup_banner(project_stack)

    assert f"  Bucket         {project_stack.ref('MediaBucket')}  (MediaBucket)" in banner.splitlines()


def test_the_readme_reconcile_recipe_runs_with_the_pinned_cli(project_stack, tmp_path):
    aws = [str(AWS_CLI), "--endpoint-url", project_stack.aws_endpoint_url]
    env = {**os.environ, **project_stack.client_environment()}
    name = subprocess.run(
        [*aws, "cloudformation", "describe-stack-resource", "--stack-name", "auto-vid-local",
         "--logical-resource-id", "ReconcileJobsFunction", "--query", "StackResourceDetail.PhysicalResourceId",
         "--output", "text"],
        env=env, capture_output=True, text=True, check=True, timeout=60,
    ).stdout.strip()  # fmt: skip
    (tmp_path / "reconcile.json").write_text('{"olderThanSeconds": 0}\n')

    subprocess.run(
        [*aws, "lambda", "invoke", "--function-name", name, "--payload", "fileb://reconcile.json", "report.json"],
        env=env, cwd=tmp_path, capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip

    assert name == "auto-vid-local-ReconcileJobsFunction"
    assert json.loads((tmp_path / "report.json").read_text())["checked"] == 0
