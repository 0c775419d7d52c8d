"""Starting and stopping: patches restored, workers stopped, one runtime per process, `autovid up`."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from local_runtime.fixture_paths import TEST_TEMPLATE

from sam_emulator.errors import PortInUseError, RuntimeAlreadyRunningError
from sam_emulator.runtime import LocalRuntime

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_stop_restores_moto_and_stops_the_workers(local_runtime_factory):
    from moto.awslambda_simple.models import LambdaSimpleBackend

    original_invoke = LambdaSimpleBackend.invoke
    runtime = local_runtime_factory(TEST_TEMPLATE)
    assert LambdaSimpleBackend.invoke is not original_invoke
    assert os.environ["MOTO_PORT"] == str(runtime.aws_port)
    runtime.invoke("EnvProbeA", {"pause": 0})
    [worker] = runtime.functions.by_logical_id("EnvProbeA").pool.workers
    assert worker.process.poll() is None

    runtime.stop()

    assert LambdaSimpleBackend.invoke is original_invoke
    assert worker.process.poll() is not None, "stop ends every worker"
    assert list(runtime.scratch.path.iterdir()) == [runtime.scratch.path / ".lock"], "and empties the scratch folder"


def test_unsupported_resources_are_reported_once_at_start_up(local_runtime_factory, caplog):
    caplog.set_level(logging.INFO, logger="sam_emulator")
    local_runtime_factory(TEST_TEMPLATE)
    mentions = [r for r in caplog.records if "ClickStream (AWS::Kinesis::Stream)" in r.getMessage()]
    assert len(mentions) == 1
    assert mentions[0].levelno == logging.WARNING and "not supported locally" in mentions[0].getMessage()


def test_only_one_runtime_per_process(local_runtime_factory, tmp_path):
    local_runtime_factory(TEST_TEMPLATE)

    with pytest.raises(RuntimeAlreadyRunningError):
        LocalRuntime(TEST_TEMPLATE, aws_port=0, api_port=0, log_dir=tmp_path).start()


def test_autovid_up_serves_until_interrupted(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(REPO_ROOT / d) for d in ("src", "local", "cli"))}
    env["AUTOVID_STATE_DIR"] = str(tmp_path / "state")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "autovid_cli",
            "up",
            "--template",
            str(TEST_TEMPLATE),
            "--api-port",
            "0",
            "--aws-port",
            "0",
            "--console-port",
            "0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    lines = []
    stacks = tmp_path / "state" / "stacks"
    try:
        for line in process.stdout:
            lines.append(line)
            if line.startswith("Ready."):
                break
        [stack_file] = stacks.glob("*.json")
        saved = json.loads(stack_file.read_text())
        assert saved["apiUrl"].startswith("http://127.0.0.1:"), "`autovid submit` finds the running stack"
        assert saved["pid"] == process.pid
        console = next(line.split()[1] for line in lines if line.strip().startswith("Console "))
        with urllib.request.urlopen(f"{console}/executions/new", timeout=10) as page:
            assert page.status == 200 and b"New execution" in page.read(), "the console answers"
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    output = "".join(lines) + rest

    assert process.returncode == 0, output
    assert "AWS endpoint   http://127.0.0.1:" in output
    assert "GET    /items/{itemId}  -> ApiEchoFunction" in output
    assert "curl -s" in output and "aws --endpoint-url" in output
    assert output.count("ClickStream (AWS::Kinesis::Stream)") == 1, "reported once, by name"
    assert "State          .autovid/state  (empty at this start; --reset empties it)" in output
    assert "stopping at once: running steps are cut short and resume at the next start" in output
    assert output.rstrip().endswith("stopped; the state is kept in .autovid/state")
    assert (tmp_path / ".autovid" / "state" / "manifest.json").is_file()
    assert list(stacks.glob("*")) == [], "a stopped stack is forgotten"


@pytest.fixture
def taken_port():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


@pytest.mark.parametrize("which", ["aws_port", "api_port"])
def test_a_taken_port_is_a_clear_error_not_a_hang(taken_port, which, tmp_path):
    ports = {"aws_port": 0, "api_port": 0, which: taken_port}
    with pytest.raises(PortInUseError, match=f"127.0.0.1:{taken_port} is in use"):
        LocalRuntime(TEST_TEMPLATE, log_dir=tmp_path, **ports).start()
    with LocalRuntime(TEST_TEMPLATE, aws_port=0, api_port=0, log_dir=tmp_path):
        pass  # and the next runtime starts normally


def test_autovid_up_on_a_taken_port_exits_with_the_reason(taken_port, tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(REPO_ROOT / d) for d in ("src", "local", "cli"))}
    result = subprocess.run(
        [sys.executable, "-m", "autovid_cli", "up", "--template", str(TEST_TEMPLATE),
         "--aws-port", str(taken_port), "--api-port", "0"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 1
    assert f"AWS endpoint port 127.0.0.1:{taken_port} is in use" in result.stderr


def test_the_venv_installs_the_autovid_console_script():
    script = Path(sys.executable).with_name("autovid")
    assert script.exists(), "the project's venv installs `autovid`"
    result = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    for command in ("up", "submit", "status", "demo", "render", "runs", "history", "graph", "redrive"):
        assert command in result.stdout


def test_local_settings_reach_every_function_over_the_template(local_runtime_factory, tmp_path, monkeypatch):
    config = tmp_path / "config"
    config.write_text("[default]\nregion = eu-west-3\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    local = local_runtime_factory(
        TEST_TEMPLATE, log_dir=tmp_path, function_environment={"ALLOW_LOOPBACK_FETCH": "true", "PROBE_VALUE": "over"}
    )
    looked = ["ALLOW_LOOPBACK_FETCH", "AWS_CONFIG_FILE"]
    payloads = [local.invoke(name, {"pause": 0, "look": looked}).json() for name in ("EnvProbeA", "EnvProbeB")]
    assert [p["probe"] for p in payloads] == ["over", "over"], "--env wins over the template"
    assert all(p["looked"]["ALLOW_LOOPBACK_FETCH"] == "true" for p in payloads)
    assert all(p["looked"]["AWS_CONFIG_FILE"] == os.devnull for p in payloads), "no host AWS config file"
