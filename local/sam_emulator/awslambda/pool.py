"""Warm worker processes per function, like Lambda's execution environments.

* A :class:`WorkerPool` per function keeps up to ``max_concurrency`` workers. They start on first
  need (a cold start: the handler module is imported once per worker, its output is the INIT
  phase in the function's log) and are reused while they live. An invocation that finds every
  worker busy waits for one; Lambda would throttle instead.
* A :class:`Worker` runs ``worker.py`` in its own session and process group, with the function's
  environment, its own temporary folder, and a ``RLIMIT_DATA`` from ``MemorySize``. Its stdout
  and stderr are one pipe; a reader thread appends it to the current invocation's log up to the
  end marker the worker writes before each answer. Requests and answers go over two other pipes.
* A timeout or a crash kills the worker's whole group (ffmpeg included); the next invocation
  gets a new worker.
* Every worker is started by one long-lived :class:`WorkerSpawner` thread: the kernel's
  parent-death signal fires when the *thread* that started a process ends, and invocation threads
  come and go.
"""

from __future__ import annotations

import codecs
import contextlib
import datetime as dt
import json
import logging
import os
import queue
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sam_emulator.awslambda.logs import FunctionLog, InvocationLog
from sam_emulator.awslambda.scratch import ScratchFolder

logger = logging.getLogger(__name__)

WORKER_SCRIPT = Path(__file__).with_name("worker.py")
#: Memory that counts as data for ``RLIMIT_DATA`` but not as memory used on Lambda: thread stacks
#: reserved in full (8 MB each) and allocator arenas. Added to ``MemorySize`` for the limit.
DATA_LIMIT_ALLOWANCE_MB = 256
#: How long a worker may take to import its handler (Lambda allows 10 s for the INIT phase).
INIT_SECONDS = 30.0
#: How long the output pipe may lag behind an answer before its end marker is given up on.
OUTPUT_DRAIN_SECONDS = 5.0


class WorkerError(Exception):
    """The worker stopped answering; the pool replaces it."""


class WorkerTimedOutError(WorkerError):
    """No answer within the time allowed: the worker's group was killed."""


class WorkerExitedError(WorkerError):
    """The worker process ended mid-invocation."""

    def __init__(self, returncode: int):
        self.returncode = returncode
        super().__init__(exit_description(returncode))


def exit_description(returncode: int) -> str:
    """How Lambda (a Go runtime) words a process end: ``signal: killed`` or ``exit status 3``."""
    if returncode < 0:
        names = {signal.SIGKILL: "killed", signal.SIGSEGV: "segmentation fault", signal.SIGABRT: "aborted",
                 signal.SIGTERM: "terminated", signal.SIGBUS: "bus error"}  # fmt: skip
        try:
            name = names.get(signal.Signals(-returncode)) or signal.Signals(-returncode).name.lower()
        except ValueError:
            name = f"signal {-returncode}"
        return f"signal: {name}"
    return f"exit status {returncode}"


@dataclass(frozen=True)
class WorkerSetup:
    """What a function's workers are started with."""

    logical_id: str
    function_name: str
    function_arn: str
    handler: str
    code_dir: Path
    layer_dirs: tuple[Path, ...]
    memory_mb: int
    runtime: str
    #: The worker's environment, read when a worker starts (so from the host as it is then).
    environment: Callable[[], Mapping[str, str]]


class WorkerSpawner:
    """Starts every worker process from one thread that lives as long as the runtime."""

    def __init__(self) -> None:
        self._requests: queue.Queue[tuple[Callable[[], Any], Future] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="lambda-worker-spawner", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (request := self._requests.get()) is not None:
            start, future = request
            try:
                future.set_result(start())
            except BaseException as error:  # noqa: BLE001 - handed back to the caller
                future.set_exception(error)

    def spawn(self, start: Callable[[], subprocess.Popen]) -> subprocess.Popen:
        future: Future = Future()
        self._requests.put((start, future))
        return future.result()

    def stop(self) -> None:
        self._requests.put(None)
        self._thread.join(5)


class Worker:
    """One worker process and its three pipes."""

    def __init__(self, setup: WorkerSetup, *, log: FunctionLog | None, scratch: ScratchFolder,
                 spawner: WorkerSpawner, preload: tuple[Path, ...] = ()):  # fmt: skip
        self.setup = setup
        self._preload = preload
        self._scratch = scratch
        self._marker = f"\x1e{uuid.uuid4().hex}\x1e".encode()
        self._log = log
        self._sink: InvocationLog | None = None  # where output goes until the next end marker
        self._markers_seen = 0
        self._expected_markers = 0
        self._output_changed = threading.Condition()
        self._answers = b""
        self.folder = scratch.worker_folder(setup.logical_id)
        self.memory_limited = False
        requests_read, self._requests = os.pipe()
        self._results, results_write = os.pipe()
        output_read, output_write = os.pipe()
        # Lambda names one log stream per execution environment.
        self.log_stream = f"{dt.datetime.now(dt.UTC):%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}"
        environment = {**setup.environment(), "AWS_LAMBDA_LOG_STREAM_NAME": self.log_stream,
                       "TMPDIR": str(self.folder), "TEMP": str(self.folder), "TMP": str(self.folder)}  # fmt: skip
        command = [sys.executable, "-I", str(WORKER_SCRIPT), "--requests", str(requests_read),
                   "--results", str(results_write)]  # fmt: skip
        try:
            self.process = spawner.spawn(
                lambda: subprocess.Popen(
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=output_write,
                    stderr=output_write,
                    env=environment,
                    cwd=setup.code_dir,
                    pass_fds=(requests_read, results_write),
                    start_new_session=True,
                )  # fmt: skip
            )
        finally:
            for descriptor in (requests_read, results_write, output_write):
                os.close(descriptor)
        scratch.record(self.process.pid)
        self._reader = threading.Thread(
            target=self._read_output, args=(output_read,), name=f"lambda-output:{setup.logical_id}", daemon=True
        )
        self._reader.start()

    @property
    def pid(self) -> int:
        return self.process.pid

    # --- the protocol -----------------------------------------------------------------------

    def initialise(self) -> None:
        """Send the set-up and wait for the INIT phase (an import error is answered per invocation)."""
        setup = self.setup
        init_log = self._log.init_phase(setup.runtime) if self._log is not None else None
        self._expect_output(init_log)
        data_limit = (setup.memory_mb + DATA_LIMIT_ALLOWANCE_MB) << 20
        self._send({
            "parentPid": os.getpid(), "endMarker": self._marker.decode(), "handler": setup.handler,
            "codeDir": str(setup.code_dir), "layerDirs": [str(path) for path in setup.layer_dirs],
            "memoryLimitBytes": data_limit, "memoryMb": setup.memory_mb, "functionName": setup.function_name,
            "functionArn": setup.function_arn, "logStreamName": self.log_stream,
            "preload": [str(path) for path in self._preload],
        })  # fmt: skip
        answer = self._answer(INIT_SECONDS)
        self.memory_limited = bool(answer.get("memoryLimited"))

    def invoke(self, request_id: str, event: Any, timeout: float, log: InvocationLog | None) -> dict[str, Any]:
        """The worker's answer; raises :class:`WorkerTimedOutError` or :class:`WorkerExitedError`."""
        self._expect_output(log)
        self._send({"requestId": request_id, "event": event, "remainingMs": int(timeout * 1000)})
        return self._answer(timeout)

    def _send(self, message: dict[str, Any]) -> None:
        data = memoryview(json.dumps(message).encode() + b"\n")
        try:
            while data:
                data = data[os.write(self._requests, data) :]
        except BrokenPipeError:
            raise self._exited() from None

    def _answer(self, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while b"\n" not in self._answers:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.kill()
                raise WorkerTimedOutError(f"no answer within {timeout:.2f} s")
            poll = select.poll()  # not select(): a busy stack may hold descriptors past FD_SETSIZE
            poll.register(self._results, select.POLLIN)
            if poll.poll(remaining * 1000):
                chunk = os.read(self._results, 1 << 16)
                if not chunk:
                    raise self._exited()
                self._answers += chunk
        line, _, self._answers = self._answers.partition(b"\n")
        self._wait_for_output_end()
        return json.loads(line)

    def _exited(self) -> WorkerExitedError:
        try:
            returncode = self.process.wait(2)
        except subprocess.TimeoutExpired:  # it closed its pipes but lives on
            self.kill()
            returncode = self.process.wait()
        self.kill()  # the rest of its group
        return WorkerExitedError(returncode)

    # --- output -----------------------------------------------------------------------------

    def _expect_output(self, log: InvocationLog | None) -> None:
        with self._output_changed:
            self._sink = log
            self._expected_markers = self._markers_seen + 1

    def _wait_for_output_end(self) -> None:
        """The worker writes its end marker before answering: wait until the reader has it, so
        every line of this invocation is in its log before END."""
        with self._output_changed:
            self._output_changed.wait_for(lambda: self._markers_seen >= self._expected_markers, OUTPUT_DRAIN_SECONDS)

    def _read_output(self, descriptor: int) -> None:
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        pending = b""
        keep = len(self._marker) - 1  # a marker may straddle two reads
        with os.fdopen(descriptor, "rb", buffering=0) as pipe:
            while chunk := pipe.read(1 << 16):
                pending += chunk
                while (index := pending.find(self._marker)) >= 0:
                    self._write(decoder.decode(pending[:index], final=True))
                    pending = pending[index + len(self._marker) :]
                    self._end_of_output()
                if len(pending) > keep:
                    self._write(decoder.decode(pending[:-keep] if keep else pending))
                    pending = pending[-keep:] if keep else b""
            self._write(decoder.decode(pending, final=True))
            self._end_of_output()

    def _write(self, text: str) -> None:
        if not text:
            return
        with self._output_changed:
            sink = self._sink
        if sink is not None:
            sink.write(text)
        elif self._log is not None:  # between invocations (a background thread, a child): unframed
            self._log.append(text if text.endswith("\n") else text + "\n")

    def _end_of_output(self) -> None:
        with self._output_changed:
            sink, self._sink = self._sink, None
            self._markers_seen += 1
            if sink is not None:
                sink.flush_partial_line()
            self._output_changed.notify_all()

    # --- ending -----------------------------------------------------------------------------

    def kill(self) -> None:
        """Kill the worker's whole process group (its children too) and forget it."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(5)
        for descriptor in (self._requests, self._results):
            with contextlib.suppress(OSError):
                os.close(descriptor)
        self._requests = self._results = -1
        if threading.current_thread() is not self._reader:
            self._reader.join(OUTPUT_DRAIN_SECONDS)  # the output it wrote before dying, in its log
        self._scratch.forget(self.process.pid)
        shutil.rmtree(self.folder, ignore_errors=True)

    def is_alive(self) -> bool:
        return self.process.poll() is None and self._requests >= 0


class WorkerPool:
    """One function's warm workers: at most ``max_workers``, started on first need."""

    def __init__(self, setup: WorkerSetup, *, max_workers: int, log: FunctionLog | None, scratch: ScratchFolder,
                 spawner: WorkerSpawner, preload: tuple[Path, ...] = ()):  # fmt: skip
        self.setup = setup
        self._preload = preload
        self.max_workers = max(1, max_workers)
        self._log = log
        self._scratch = scratch
        self._spawner = spawner
        self._idle: list[Worker] = []
        self._busy: set[Worker] = set()
        self._starting = 0
        self._available = threading.Condition()
        self._stopped = False

    @property
    def workers(self) -> list[Worker]:
        with self._available:
            return [*self._idle, *self._busy]

    def acquire(self) -> Worker:
        """An idle warm worker, a new one if the pool has room, else the first one freed."""
        with self._available:
            while True:
                if self._stopped:
                    raise WorkerError("the runtime is stopping")
                while self._idle:
                    worker = self._idle.pop()
                    if worker.is_alive():
                        self._busy.add(worker)
                        return worker
                    worker.kill()
                if len(self._busy) + self._starting < self.max_workers:
                    self._starting += 1
                    break
                self._available.wait()
        try:
            worker = Worker(self.setup, log=self._log, scratch=self._scratch, spawner=self._spawner,
                            preload=self._preload)  # fmt: skip
            try:
                worker.initialise()  # the cold start
            except BaseException:
                worker.kill()
                raise
        except BaseException:
            with self._available:
                self._starting -= 1
                self._available.notify()
            raise
        with self._available:
            self._starting -= 1
            self._busy.add(worker)
        return worker

    def release(self, worker: Worker, *, healthy: bool) -> None:
        if not healthy:
            worker.kill()
        with self._available:
            self._busy.discard(worker)
            if healthy and not self._stopped:
                self._idle.append(worker)
            elif healthy:
                worker.kill()
            self._available.notify()

    def stop(self) -> None:
        """Kill every worker, idle or busy (their invocations get a crash)."""
        with self._available:
            self._stopped = True
            workers = [*self._idle, *self._busy]
            self._idle.clear()
            self._available.notify_all()
        for worker in workers:
            worker.kill()


class WorkerPools:
    """Every function's pool, the scratch folder their temporary files live in, and the spawner."""

    def __init__(self, scratch: ScratchFolder, *, max_concurrency: int, preload: tuple[Path, ...] = ()):
        self.scratch = scratch
        self.max_concurrency = max_concurrency
        #: Python files every worker runs before importing its handler (test doubles, instrumentation).
        self.preload = preload
        self._spawner = WorkerSpawner()
        self._pools: list[WorkerPool] = []

    def pool(self, setup: WorkerSetup, log: FunctionLog | None) -> WorkerPool:
        pool = WorkerPool(setup, max_workers=self.max_concurrency, log=log, scratch=self.scratch,
                          spawner=self._spawner, preload=self.preload)  # fmt: skip
        self._pools.append(pool)
        return pool

    def stop(self) -> None:
        for pool in self._pools:
            pool.stop()
        self._spawner.stop()
