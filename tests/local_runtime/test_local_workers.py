"""Functions run in warm worker processes: isolated, reused, limited, and killed with the stack."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from local_runtime.fixture_paths import FIXTURES

from sam_emulator.runtime import LocalRuntime
from sam_emulator.testing import running_runtime, wait_until

WORKERS = FIXTURES / "workers"
TEMPLATE = WORKERS / "template.yaml"
HOST_SETTING = "SAM_EMULATOR_TEST_HOST_SETTING"


@pytest.fixture(scope="module")
def scratch_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="workers-scratch-") as folder:
        yield Path(folder)


@pytest.fixture(scope="module")
def runtime(scratch_dir: Path) -> Iterator[LocalRuntime]:
    """Two workers per function at most."""
    with running_runtime(TEMPLATE, max_concurrency=2, scratch_dir=scratch_dir) as started:
        yield started


def alive(pid: int) -> bool:
    """Running (a zombie waiting for its parent to reap it counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


def probe(runtime: LocalRuntime, logical_id: str, **event) -> dict:
    result = runtime.invoke(logical_id, event)
    assert not result.is_function_error, result.json()
    return result.json()


# --- isolation ------------------------------------------------------------------------------


def test_each_function_sees_only_its_own_template_variables():
    with running_runtime(TEMPLATE) as runtime, pytest.MonkeyPatch.context() as patch:
        # Set once the runtime's own clients exist (and unset before it stops): workers start on
        # first invocation and read the host then.
        patch.setenv("AWS_PROFILE", "production")
        patch.setenv(HOST_SETTING, "from the host")
        a, b = probe(runtime, "ProbeA")["environment"], probe(runtime, "ProbeB")["environment"]

    assert (a["PROBE_NAME"], a["ONLY_IN_A"]) == ("a", "yes")
    assert b["PROBE_NAME"] == "b" and "ONLY_IN_A" not in b
    assert a["AWS_LAMBDA_FUNCTION_NAME"] == runtime.ref("ProbeA")
    for host_only in ("AWS_PROFILE", HOST_SETTING, "PYTEST_CURRENT_TEST", "PYTHONPATH", "VIRTUAL_ENV"):
        assert host_only not in a and host_only not in b, host_only
    assert a["PATH"] == os.environ["PATH"], "what the OS and ffmpeg need is kept"


def test_each_worker_has_its_own_temporary_folder_under_the_scratch_folder(runtime, scratch_dir):
    with ThreadPoolExecutor(max_workers=2) as pool:
        both = list(pool.map(lambda _: probe(runtime, "ProbeA", action="sleep", seconds=0.5), range(2)))
    b = probe(runtime, "ProbeB")

    folders = {answer["pid"]: answer["tempdir"] for answer in [*both, b]}
    assert len(folders) == 3, "two ProbeA workers (they overlapped) and one ProbeB worker"
    assert len(set(folders.values())) == 3
    for folder in folders.values():
        assert Path(folder).parent == scratch_dir.resolve() and Path(folder).is_dir()
    assert {b["environment"][name] for name in ("TMPDIR", "TEMP", "TMP")} == {b["tempdir"]}


def test_sys_path_is_the_code_folder_then_the_interpreter(runtime):
    path = probe(runtime, "ProbeB")["sysPath"]

    assert path[0] == str((WORKERS / "probe").resolve()), "like /var/task"
    assert str(Path(__file__).parent) not in path and "" not in path


def test_a_warm_worker_keeps_module_state_that_other_functions_never_see(runtime):
    first = probe(runtime, "ShortProbe")
    second = probe(runtime, "ShortProbe")
    other = probe(runtime, "ProbeB")

    assert second["pid"] == first["pid"], "the same warm worker"
    assert second["invocations"] == first["invocations"] + 1
    assert other["pid"] != first["pid"]
    b_invocations = [probe(runtime, "ProbeB")["invocations"] for _ in range(2)]
    assert b_invocations[1] == b_invocations[0] + 1 and other["invocations"] < b_invocations[0]


# --- concurrency ------------------------------------------------------------------------------


def test_invocations_beyond_max_concurrency_wait_for_a_worker(runtime):
    with ThreadPoolExecutor(max_workers=3) as pool:
        answers = list(pool.map(lambda _: probe(runtime, "ProbeB", action="sleep", seconds=1.0), range(3)))

    intervals = [(answer["startedAt"], answer["endedAt"]) for answer in answers]
    most_at_once = max(sum(start <= moment < end for start, end in intervals) for moment, _ in intervals)
    assert most_at_once == 2, intervals
    assert len({answer["pid"] for answer in answers}) == 2


# --- timeouts, crashes, memory ------------------------------------------------------------------


def test_a_timeout_kills_the_worker_and_its_children_and_the_next_invocation_gets_a_new_one(runtime, tmp_path):
    pid_file = tmp_path / "pids"
    result = runtime.invoke("ShortProbe", {"action": "child", "pidFile": str(pid_file), "seconds": 5})

    assert result.error_type == "Sandbox.Timedout"
    assert result.json()["errorMessage"] == f"RequestId: {result.request_id} Error: Task timed out after 1.00 seconds"
    worker_pid, child_pid = map(int, pid_file.read_text().split())
    assert not alive(worker_pid)
    wait_until(lambda: not alive(child_pid), timeout=10, what="the handler's child process to be killed")
    after = probe(runtime, "ShortProbe")
    assert after["pid"] != worker_pid and after["invocations"] == 1


@pytest.mark.parametrize(
    ("event", "description"),
    [({"action": "exit", "status": 3}, "exit status 3"), ({"action": "kill"}, "signal: killed")],
)
def test_a_crashing_worker_is_lambdas_exit_error_and_is_replaced(runtime, event, description):
    pool = runtime.functions.by_logical_id("ProbeA").pool
    probe(runtime, "ProbeA")
    before = {worker.pid for worker in pool.workers}

    crashed = runtime.invoke("ProbeA", event)

    assert crashed.error_type == "Runtime.ExitError"
    message = f"RequestId: {crashed.request_id} Error: Runtime exited with error: {description}"
    assert crashed.json()["errorMessage"] == message
    [gone] = before - {worker.pid for worker in pool.workers}
    assert not alive(gone)
    assert probe(runtime, "ProbeA")["pid"] != gone, "the next invocation works, on another worker"


def test_allocating_past_memory_size_is_out_of_memory(runtime):
    pool = runtime.functions.by_logical_id("ShortProbe").pool
    warm = probe(runtime, "ShortProbe", action="allocate", mb=16)
    [worker] = [worker for worker in pool.workers if worker.pid == warm["pid"]]
    if not worker.memory_limited:
        pytest.skip("the OS refused RLIMIT_DATA for the worker, so MemorySize is not applied")

    result = runtime.invoke("ShortProbe", {"action": "allocate", "mb": 1024})  # MemorySize: 128

    assert result.error_type == "Runtime.OutOfMemory"
    message = f"RequestId: {result.request_id} Error: Runtime exited with error: signal: killed"
    assert result.json()["errorMessage"] == message
    assert not alive(warm["pid"]), "the worker is replaced, as Lambda replaces an environment it killed"
    assert probe(runtime, "ShortProbe", action="allocate", mb=16)["invocations"] == 1


def test_the_function_log_frames_a_crash_like_any_error(runtime):
    crashed = runtime.invoke("ProbeA", {"action": "exit", "status": 7})

    text = (runtime.log_dir / "ProbeA.log").read_text()
    assert (
        f"[ERROR] Runtime.ExitError: RequestId: {crashed.request_id} Error: Runtime exited with error: exit status 7\n"
        in text
    )
    assert f"END RequestId: {crashed.request_id}\n" in text


# --- the stack killed -----------------------------------------------------------------------------


def start_stack(scratch: Path, logs: Path, *probe: str) -> tuple[subprocess.Popen, dict]:
    command = [sys.executable, str(WORKERS / "run_stack.py"), str(scratch), str(logs), *probe]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    line = process.stdout.readline() if process.stdout else ""
    assert line, "the stack started"
    return process, json.loads(line)


@pytest.mark.parametrize("worker", ["idle", "busy"])
def test_workers_and_their_children_die_with_a_killed_stack_and_the_next_start_leaves_nothing(tmp_path, worker):
    """An idle worker sees its requests pipe end; a busy one gets the parent-death signal."""
    scratch, logs, pid_file = tmp_path / "run", tmp_path / "logs", tmp_path / "pids"
    stack, _ = start_stack(scratch, logs, str(pid_file), worker)
    try:
        worker_pid, child_pid = map(int, pid_file.read_text().split())
        [first_tempdir] = [entry for entry in scratch.iterdir() if entry.name.startswith("ProbeA-")]
        (first_tempdir / "left-over").write_text("from the first run")
        assert alive(worker_pid) and alive(child_pid)

        os.kill(stack.pid, signal.SIGKILL)  # the stack's main process only
        stack.wait()

        wait_until(
            lambda: not alive(worker_pid) and not alive(child_pid), timeout=30, what="the worker and its child to die"
        )
    finally:
        if stack.poll() is None:
            stack.kill()
    again, _ = start_stack(scratch, logs)
    try:
        assert not first_tempdir.exists()
        assert sorted(entry.name for entry in scratch.iterdir()) == [".lock", "workers"]
        assert list((scratch / "workers").iterdir()) == []
    finally:
        again.send_signal(signal.SIGINT)
        again.wait(30)
