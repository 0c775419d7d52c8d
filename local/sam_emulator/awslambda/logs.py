"""Function output to one log file per function: the local stand-in for CloudWatch Logs.

On Lambda, whatever a handler writes to stdout or stderr ends up in the function's log group.
Locally all functions share one process and one terminal, so while the runtime is active
``sys.stdout`` and ``sys.stderr`` are replaced by routing streams (see :func:`install`):

* inside an invocation (:func:`capturing_output`, a context variable, so per thread) a write
  goes to that invocation's :class:`InvocationLog`, which appends whole lines to
  ``<log_dir>/<FunctionLogicalId>.log``;
* everywhere else it goes to the stream that was there before, as if nothing had changed.

``print``, ``warnings`` and ``logging.lastResort`` look ``sys.stdout``/``sys.stderr`` up on every
write, so they follow the routing. A logging handler keeps the stream it was created with:
handlers created while the runtime is active (Powertools binds ``sys.stdout`` when a function
module is imported) hold the routing stream, and :func:`install` moves the handlers already bound
to the real streams (the CLI's root handler, for instance) onto it until :func:`uninstall`.

A thread started inside an invocation (a handler's ``ThreadPoolExecutor``, say) writes to the
same invocation's log: while installed, ``threading.Thread.start`` runs the new thread in a copy
of the starting thread's context, so it keeps the invocation's log and environment. A pool
created outside the invocation and reused keeps the log of the invocation that started its
threads. Subprocesses writing to the
inherited file descriptors reach the terminal.
"""

from __future__ import annotations

import contextvars
import io
import logging
import math
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

_current_log: contextvars.ContextVar[InvocationLog | None] = contextvars.ContextVar(
    "sam_emulator_invocation_log", default=None
)


class _RoutingStream(io.TextIOBase):
    """``sys.stdout`` / ``sys.stderr`` stand-in: the current invocation's log, else the real stream."""

    def __init__(self, name: str):
        super().__init__()
        self._name = name
        self._replaced: TextIO | None = None

    def real_stream(self) -> TextIO | None:
        """Where writes outside an invocation go: ``sys.<name>`` if someone replaced this stream
        there since, else the stream this one replaced."""
        current = getattr(sys, self._name)
        if current is not self:
            return current
        return self._replaced if self._replaced is not None else getattr(sys, f"__{self._name}__")

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        log = _current_log.get()
        if log is not None:
            log.write(text)
            return len(text)
        real = self.real_stream()
        return real.write(text) if real is not None else len(text)

    def flush(self) -> None:
        real = self.real_stream()
        if _current_log.get() is None and real is not None:
            real.flush()

    def isatty(self) -> bool:
        real = self.real_stream()
        return _current_log.get() is None and real is not None and real.isatty()

    def fileno(self) -> int:
        real = self.real_stream()
        if real is None:
            raise io.UnsupportedOperation("fileno")
        return real.fileno()

    def writable(self) -> bool:
        return True

    def close(self) -> None:
        """Never closed: loggers keep a reference to it for the life of the process."""

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.real_stream(), "encoding", None) or "utf-8"

    @property
    def errors(self) -> str | None:  # type: ignore[override]
        return getattr(self.real_stream(), "errors", None)

    def __getattr__(self, name: str) -> object:
        # Anything else (``buffer``, ``reconfigure`` ...) is the real stream's, unrouted.
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.real_stream(), name)


#: One routing stream per name for the whole process: handlers bound during one runtime's life
#: keep working, unrouted, after it stops and route again under the next one.
_STREAMS = {"stdout": _RoutingStream("stdout"), "stderr": _RoutingStream("stderr")}
_install_lock = threading.Lock()
_install_count = 0
_moved_handlers: list[tuple[logging.StreamHandler, TextIO]] = []
_original_thread_start = threading.Thread.start


def _start_thread_in_invocation_context(thread: threading.Thread) -> None:
    """``Thread.start`` that runs a thread started inside an invocation in a copy of that
    invocation's context: its log and its environment (``environ``), as on Lambda."""
    if _current_log.get() is not None:
        context = contextvars.copy_context()
        run = thread.run
        thread.run = lambda: context.run(run)  # type: ignore[method-assign]
    _original_thread_start(thread)


def install() -> None:
    """Route ``sys.stdout``/``sys.stderr`` by invocation (reference counted)."""
    global _install_count
    with _install_lock:
        if _install_count == 0:
            for name, stream in _STREAMS.items():
                current = getattr(sys, name)
                if current is stream:
                    continue
                stream._replaced = current
                setattr(sys, name, stream)
                for handler in _stream_handlers():
                    if handler.stream is current:
                        handler.setStream(stream)
                        _moved_handlers.append((handler, current))
            threading.Thread.start = _start_thread_in_invocation_context  # type: ignore[method-assign]
        _install_count += 1


def uninstall() -> None:
    """Put back the streams and handler streams :func:`install` replaced, unless replaced since."""
    global _install_count
    with _install_lock:
        _install_count = max(0, _install_count - 1)
        if _install_count:
            return
        threading.Thread.start = _original_thread_start  # type: ignore[method-assign]
        for handler, original in _moved_handlers:
            if handler.stream in _STREAMS.values():
                handler.setStream(original)
        _moved_handlers.clear()
        for name, stream in _STREAMS.items():
            if getattr(sys, name) is stream and stream._replaced is not None:
                setattr(sys, name, stream._replaced)


def is_installed() -> bool:
    return sys.stdout is _STREAMS["stdout"] and sys.stderr is _STREAMS["stderr"]


def terminal_stream(name: str = "stderr") -> TextIO | None:
    """The real ``sys.stdout``/``sys.stderr``, even inside an invocation or while installed."""
    return _STREAMS[name].real_stream()


def _stream_handlers() -> Iterator[logging.StreamHandler]:
    loggers = [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]
    seen: set[int] = set()
    for logger in loggers:
        for handler in getattr(logger, "handlers", ()):
            is_console = isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler)
            if is_console and id(handler) not in seen:
                seen.add(id(handler))
                yield handler


@contextmanager
def capturing_output(log: InvocationLog | None) -> Iterator[None]:
    """Send this thread's ``sys.stdout``/``sys.stderr`` writes to ``log`` while the block runs."""
    if log is None:
        yield
        return
    token = _current_log.set(log)
    try:
        yield
    finally:
        _current_log.reset(token)
        log.flush_partial_line()


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
    terminal = terminal_stream("stderr")
    if terminal is not None:
        terminal.write(text)
        terminal.flush()
