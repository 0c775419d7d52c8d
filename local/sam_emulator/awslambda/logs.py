"""Function output to one log file per function: the local stand-in for CloudWatch Logs.

On Lambda, whatever a handler writes to stdout or stderr ends up in the function's log group.
Locally each function runs in worker processes whose stdout and stderr are a pipe (see
:mod:`sam_emulator.awslambda.pool`); what comes through it goes to the current invocation's
:class:`InvocationLog`, which appends whole lines to ``<log_dir>/<FunctionLogicalId>.log`` (and,
when asked, to the function's CloudWatch Logs group and the terminal).
"""

from __future__ import annotations

import logging
import math
import sys
import threading
from collections.abc import Callable
from pathlib import Path


class FunctionLog:
    """One function's log file; appends whole lines and is safe to share between threads."""

    def __init__(
        self,
        logical_id: str,
        path: Path,
        echo: Callable[[str], None] | None = None,
        cloudwatch: Callable[[list[str]], None] | None = None,
    ):
        self.logical_id = logical_id
        self.path = path
        self._echo = echo
        #: Also puts each line into the function's CloudWatch Logs group (``/aws/lambda/<name>``).
        self._cloudwatch = cloudwatch
        self._lock = threading.Lock()

    def append(self, text: str, *, echo: bool = True) -> None:
        if not text:
            return
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8", errors="replace") as file:
                file.write(text)
        if self._cloudwatch is not None:
            try:
                self._cloudwatch(text.splitlines())
            except Exception:  # noqa: BLE001 - the log file has the lines; a handler must not fail on this
                logging.getLogger("sam_emulator").debug("could not put %s's log lines", self.logical_id, exc_info=True)
        if echo and self._echo is not None:
            self._echo("".join(f"{self.logical_id} | {line}\n" for line in text.splitlines()))

    def invocation(self, request_id: str) -> InvocationLog:
        return InvocationLog(self, request_id)

    def init_phase(self, runtime: str) -> InvocationLog:
        """Where the output of importing the handler (Lambda's INIT phase) goes."""
        self.append(f"INIT_START Runtime Version: {runtime}\n", echo=False)
        return InvocationLog(self, "init")


class InvocationLog:
    """What one invocation writes: buffered to whole lines, so concurrent writers never split one."""

    def __init__(self, function_log: FunctionLog, request_id: str):
        self.function_log = function_log
        self.request_id = request_id
        self._partial = ""
        self._lock = threading.Lock()

    def write(self, text: str) -> None:
        with self._lock:
            complete, newline, self._partial = (self._partial + text).rpartition("\n")
            if newline:
                self.function_log.append(complete + newline)

    def flush_partial_line(self) -> None:
        with self._lock:
            partial, self._partial = self._partial, ""
        if partial:
            self.function_log.append(partial + "\n")

    def start(self) -> None:
        self.function_log.append(f"START RequestId: {self.request_id} Version: $LATEST\n", echo=False)

    def end(self, *, duration_ms: float, memory_mb: int, timed_out: bool = False) -> None:
        """The END and REPORT lines Lambda writes after every invocation."""
        status = "\tStatus: timeout" if timed_out else ""
        self.function_log.append(
            f"END RequestId: {self.request_id}\n"
            f"REPORT RequestId: {self.request_id}\tDuration: {duration_ms:.2f} ms\t"
            f"Billed Duration: {max(1, math.ceil(duration_ms))} ms\tMemory Size: {memory_mb} MB{status}\n",
            echo=False,
        )


class FunctionLogs:
    """The log directory: ``<directory>/<FunctionLogicalId>.log`` per function."""

    def __init__(self, directory: str | Path, *, echo: bool = False):
        self.directory = Path(directory).absolute()
        self.echo = echo

    def for_function(self, logical_id: str, cloudwatch: Callable[[list[str]], None] | None = None) -> FunctionLog:
        echo = _echo_to_terminal if self.echo else None
        return FunctionLog(logical_id, self.directory / f"{logical_id}.log", echo, cloudwatch)


def _echo_to_terminal(text: str) -> None:
    sys.stderr.write(text)
    sys.stderr.flush()
