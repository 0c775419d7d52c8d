"""Function output goes to one log file per function (the CloudWatch Logs stand-in), not the terminal."""

from __future__ import annotations

import re
import sys
import textwrap
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager as ContextManager
from pathlib import Path

import pytest

from sam_emulator.runtime import LocalRuntime
from sam_emulator.testing import running_runtime

TALKER = '''
"""Writes to stdout, stderr and a logger bound to sys.stdout at import, as Powertools does."""

import logging
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

WORD = os.environ["WORD"]
bound_logger = logging.getLogger(f"fixture.{WORD}")
if not bound_logger.handlers:  # configured once per process, like a Powertools Logger
    bound_logger.addHandler(logging.StreamHandler(sys.stdout))
bound_logger.setLevel(logging.INFO)
bound_logger.propagate = False
print(f"{WORD} imported")


def handler(event, context):
    for index in range(event.get("lines", 1)):
        print(f"{WORD} print {index}")
        print(f"{WORD} stderr {index}", file=sys.stderr)
        bound_logger.info("%s logged %s", WORD, index)
        time.sleep(event.get("pause", 0))
    if event.get("thread"):
        with ThreadPoolExecutor(max_workers=1) as pool:
            pool.submit(print, f"{WORD} from a thread the handler started").result()
    if event.get("child"):
        subprocess.run([sys.executable, "-c", f"print('{WORD} from a child process')"], check=True)
    if event.get("fail"):
        raise ValueError(f"{WORD} failed")
    return {"word": WORD}
'''

TEMPLATE = """
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: python3.11
    Timeout: 10
Resources:
  AlphaFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: talker/
      Handler: app.handler
      Environment:
        Variables: {WORD: alpha}
  BravoFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: talker/
      Handler: app.handler
      Environment:
        Variables: {WORD: bravo}
"""

OUTPUT_LINE = re.compile(r"^(alpha|bravo) (print|stderr|logged) \d+$")


@pytest.fixture
def talker_template(tmp_path: Path) -> Path:
    (tmp_path / "talker").mkdir()
    (tmp_path / "talker" / "app.py").write_text(textwrap.dedent(TALKER))
    template = tmp_path / "template.yaml"
    template.write_text(TEMPLATE)
    return template


@pytest.fixture
def log_dir(tmp_path: Path) -> Path:
    return tmp_path / "logs"


@pytest.fixture
def start_runtime(talker_template: Path, log_dir: Path) -> Callable[..., ContextManager[LocalRuntime]]:
    """Start the runtime in the test body: capsys puts its own sys.stdout back between a fixture's
    setup and the test, which would undo the routing streams."""
    return lambda **options: running_runtime(talker_template, log_dir=log_dir, **options)


def log_lines(log_dir: Path, logical_id: str) -> list[str]:
    return (log_dir / f"{logical_id}.log").read_text().splitlines()


def output_lines(log_dir: Path, logical_id: str) -> list[str]:
    """The handler's own lines: without Lambda's START/END/REPORT/INIT_START lines."""
    markers = ("START ", "END ", "REPORT ", "INIT_START ")
    return [line for line in log_lines(log_dir, logical_id) if not line.startswith(markers)]


def test_handler_output_lands_in_its_function_log_and_not_on_the_terminal(start_runtime, log_dir, capsys):
    with start_runtime() as runtime:
        result = runtime.invoke("AlphaFunction", {"lines": 2})

    assert result.json() == {"word": "alpha"}
    lines = log_lines(log_dir, "AlphaFunction")
    assert lines[0] == "INIT_START Runtime Version: python3.11"
    assert lines[1] == "alpha imported"
    assert lines[2] == f"START RequestId: {result.request_id} Version: $LATEST"
    assert lines[3:9] == [
        "alpha print 0",
        "alpha stderr 0",
        "alpha logged 0",
        "alpha print 1",
        "alpha stderr 1",
        "alpha logged 1",
    ]
    assert lines[9] == f"END RequestId: {result.request_id}"
    assert re.fullmatch(
        rf"REPORT RequestId: {result.request_id}\tDuration: [\d.]+ ms\t.*Memory Size: 128 MB", lines[10]
    )
    assert not (log_dir / "BravoFunction.log").exists(), "workers start on first need: no INIT phase yet"
    captured = capsys.readouterr()
    assert "alpha" not in captured.out + captured.err


def test_output_outside_invocations_still_reaches_the_terminal(start_runtime, log_dir, capsys):
    with start_runtime() as runtime:
        print("from the test, while the runtime runs")
        print("to stderr too", file=sys.stderr)
        runtime.invoke("AlphaFunction", {})

    captured = capsys.readouterr()
    assert captured.out == "from the test, while the runtime runs\n"
    assert captured.err == "to stderr too\n"
    assert "from the test" not in (log_dir / "AlphaFunction.log").read_text()


def test_concurrent_functions_do_not_mix_their_output(start_runtime, log_dir):
    calls = ["AlphaFunction", "BravoFunction"] * 4

    with start_runtime() as runtime, ThreadPoolExecutor(max_workers=len(calls)) as pool:
        results = list(pool.map(lambda logical_id: runtime.invoke(logical_id, {"lines": 20, "pause": 0.001}), calls))

    assert not any(result.is_function_error for result in results)
    for logical_id, word in (("AlphaFunction", "alpha"), ("BravoFunction", "bravo")):
        lines = [line for line in output_lines(log_dir, logical_id) if line != f"{word} imported"]
        imports = output_lines(log_dir, logical_id).count(f"{word} imported")
        assert 1 <= imports <= runtime.max_concurrency, "one INIT per worker, and warm workers are reused"
        assert len(lines) == 4 * 20 * 3
        assert all(OUTPUT_LINE.fullmatch(line) and line.startswith(f"{word} ") for line in lines), lines
        assert len(set(lines)) == 20 * 3  # every line whole, each once per invocation


def test_unhandled_error_is_logged_with_its_traceback(start_runtime, log_dir):
    with start_runtime() as runtime:
        result = runtime.invoke("AlphaFunction", {"fail": True})

    assert result.error_type == "ValueError"
    text = (log_dir / "AlphaFunction.log").read_text()
    assert "[ERROR] ValueError: alpha failed\nTraceback (most recent call last):\n" in text
    assert 'raise ValueError(f"{WORD} failed")' in text
    assert text.index("[ERROR]") < text.index(f"END RequestId: {result.request_id}")


def test_threads_and_processes_a_handler_starts_write_to_its_invocation(start_runtime, log_dir, capsys):
    stdout_before, stderr_before = sys.stdout, sys.stderr
    with start_runtime() as runtime:
        assert sys.stdout is stdout_before and sys.stderr is stderr_before, "the runtime's own streams are untouched"
        first = runtime.invoke("AlphaFunction", {"thread": True, "child": True})
        second = runtime.invoke("AlphaFunction", {})

    lines = log_lines(log_dir, "AlphaFunction")
    first_lines = lines[lines.index(f"START RequestId: {first.request_id} Version: $LATEST") :]
    first_lines = first_lines[: first_lines.index(f"END RequestId: {first.request_id}")]
    assert "alpha from a thread the handler started" in first_lines
    assert "alpha from a child process" in first_lines, "a child's output is in its invocation, before END"
    assert lines.count("alpha from a child process") == 1
    assert lines.index(f"END RequestId: {first.request_id}") < lines.index(
        f"START RequestId: {second.request_id} Version: $LATEST"
    )
    captured = capsys.readouterr()
    assert "alpha" not in captured.out + captured.err


def test_echo_prints_function_output_to_the_terminal_as_well(start_runtime, log_dir, capsys):
    with start_runtime(echo_function_output=True) as runtime:
        runtime.invoke("BravoFunction", {})

    err = capsys.readouterr().err
    assert "BravoFunction | bravo print 0\n" in err
    assert "BravoFunction | bravo logged 0\n" in err
    assert "START RequestId" not in err
    assert "bravo print 0" in output_lines(log_dir, "BravoFunction")
