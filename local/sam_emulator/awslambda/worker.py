"""A Lambda execution environment's runtime: the entry of one warm worker process.

The pool (:mod:`sam_emulator.awslambda.pool`) starts this file as a script with ``python -I``,
so it imports nothing of the emulator and the interpreter adds neither the script's folder
nor ``PYTHON*`` variables to ``sys.path``. Its environment is the function's, built by the
parent; stdout and stderr are one pipe the parent reads into the function's log.

The protocol is JSON lines on two extra pipes (``--requests FD --results FD``), never on
stdout, so a handler printing cannot corrupt it:

1. The parent sends the set-up (handler, code and layer folders, memory limit, end marker, and
   any preload scripts, which run before the handler module is imported).
2. The worker imports the handler module (Lambda's INIT phase), flushes its output, writes the
   end marker to stdout, then answers ``{"init": ...}``.
3. For each ``{"requestId", "event", "remainingMs"}`` it runs the handler in its main thread,
   flushes, writes the end marker, then answers ``{"payload": "<json>"}`` or ``{"error": {...}}``.
   ``"retire": true`` asks the parent to replace this worker (after running out of memory).

When the parent dies, even by SIGKILL, the requests pipe ends and the kernel sends this process
``SIGTERM`` (``PR_SET_PDEATHSIG``): whichever the worker sees first (the end of the pipe while
idle, the signal while a handler runs), it kills its whole process group, ffmpeg included.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import decimal
import importlib
import json
import os
import runpy
import signal
import sys
import time
import traceback
from typing import Any

_PR_SET_PDEATHSIG = 1


class LambdaContext:
    """The context object a Python Lambda handler receives."""

    def __init__(self, setup: dict[str, Any], request_id: str, remaining_ms: int):
        self.function_name = setup["functionName"]
        self.function_version = "$LATEST"
        self.invoked_function_arn = setup["functionArn"]
        self.memory_limit_in_mb = str(setup["memoryMb"])
        self.aws_request_id = request_id
        self.log_group_name = f"/aws/lambda/{setup['functionName']}"
        self.log_stream_name = setup["logStreamName"]
        self.identity = None
        self.client_context = None
        self.tenant_id = None
        self._deadline = time.monotonic() + remaining_ms / 1000

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _die_with_parent(parent_pid: int) -> None:
    """Kill this worker's process group when the parent process dies (Linux only)."""

    def kill_group(signum: int, frame: object) -> None:
        os.killpg(os.getpgid(0), signal.SIGKILL)

    signal.signal(signal.SIGTERM, kill_group)
    libc_name = ctypes.util.find_library("c")
    if libc_name and sys.platform.startswith("linux"):
        libc = ctypes.CDLL(libc_name, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        kill_group(signal.SIGTERM, None)


def _limit_memory(limit_bytes: int | None) -> bool:
    """``RLIMIT_DATA`` for this process and, inherited, each process it starts."""
    if not limit_bytes:
        return False
    try:
        import resource
    except ImportError:  # not on this OS
        return False
    try:
        resource.setrlimit(resource.RLIMIT_DATA, (limit_bytes, limit_bytes))
    except (ValueError, OSError):  # the OS refuses (a lower hard limit, say)
        return False
    return True


def _json_default(value: Any) -> Any:
    # The Python Lambda runtime serialises Decimal as a number; anything else is an error.
    if isinstance(value, decimal.Decimal):
        return float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _error_body(error: BaseException, request_id: str) -> dict[str, Any]:
    # Like Lambda, show the handler's frames, not the runtime's own.
    frames = [frame for frame in traceback.extract_tb(error.__traceback__) if frame.filename != __file__]
    return {
        "errorMessage": str(error),
        "errorType": type(error).__name__,
        "requestId": request_id,
        "stackTrace": [line.rstrip("\n") for line in traceback.format_list(frames)],
    }


def _runtime_error(error_type: str, message: str, request_id: str) -> dict[str, Any]:
    return {"errorMessage": message, "errorType": error_type, "requestId": request_id, "stackTrace": []}


class _Worker:
    def __init__(self, requests: int, results: int):
        self._requests = os.fdopen(requests, "rb")
        self._results = os.fdopen(results, "wb", buffering=0)
        self.setup: dict[str, Any] = json.loads(self._requests.readline())
        self._marker = self.setup["endMarker"].encode()
        self._handler: Any = None
        self._init_error: dict[str, Any] | None = None
        self._memory_limited = False

    def _send(self, message: dict[str, Any]) -> None:
        self._results.write(json.dumps(message).encode() + b"\n")

    def _end_output(self) -> None:
        """Everything written so far reaches the pipe before the marker that closes it."""
        with contextlib.suppress(Exception):  # a handler may have closed or replaced them
            sys.stdout.flush()
            sys.stderr.flush()
        os.write(1, self._marker)

    def initialise(self) -> None:
        setup = self.setup
        _die_with_parent(setup["parentPid"])
        # Like /var/task first, then /opt/python (the layers), then the interpreter's own paths.
        sys.path[:0] = [setup["codeDir"], *setup["layerDirs"]]
        sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
        self._memory_limited = _limit_memory(setup.get("memoryLimitBytes"))
        module_path, _, attribute = setup["handler"].rpartition(".")
        try:
            for script in setup["preload"]:  # the runtime's own set-up code, before the handler's
                runpy.run_path(script, run_name="__sam_emulator_preload__")
            module = importlib.import_module(module_path)
        except Exception as error:  # noqa: BLE001 - any import failure is the function's error
            self._init_error = _runtime_error(
                "Runtime.ImportModuleError", f"Unable to import module '{module_path}': {error}", ""
            )
        else:
            self._handler = getattr(module, attribute, None)
            if not callable(self._handler):
                self._init_error = _runtime_error(
                    "Runtime.HandlerNotFound", f"Handler '{attribute}' missing on module '{module_path}'", ""
                )
        self._end_output()
        self._send({"init": "error" if self._init_error else "ok", "memoryLimited": self._memory_limited})

    def serve(self) -> None:
        for line in self._requests:
            request = json.loads(line)
            reply = self._invoke(request)
            self._end_output()
            self._send(reply)
            if reply.get("retire"):
                return

    def _invoke(self, request: dict[str, Any]) -> dict[str, Any]:
        request_id = request["requestId"]
        if self._init_error is not None:
            return {"error": {**self._init_error, "requestId": request_id}}
        os.environ["_X_AMZN_REQUEST_ID"] = request_id
        context = LambdaContext(self.setup, request_id, request["remainingMs"])
        try:
            value = self._handler(request["event"], context)
        except MemoryError as error:
            if not self._memory_limited:
                return {"error": _error_body(error, request_id)}
            # Past MemorySize: Lambda's OOM kill, and a fresh environment for the next invocation.
            message = f"RequestId: {request_id} Error: Runtime exited with error: signal: killed"
            return {"error": _runtime_error("Runtime.OutOfMemory", message, request_id), "retire": True}
        except Exception as error:  # noqa: BLE001 - becomes Lambda's error payload
            return {"error": _error_body(error, request_id)}
        try:
            return {"payload": json.dumps(value, default=_json_default)}
        except (TypeError, ValueError) as error:
            return {"error": _runtime_error("Runtime.MarshalError", f"Unable to marshal response: {error}", request_id)}


def main(argv: list[str]) -> None:
    arguments = dict(zip(argv[::2], argv[1::2], strict=True))
    worker = _Worker(int(arguments["--requests"]), int(arguments["--results"]))
    worker.initialise()
    worker.serve()
    # The requests pipe ended (the parent closed it or died: the kernel closes a dying process's
    # files before it sends the parent-death signal) or this worker retires: nothing it started
    # may outlive it.
    os.killpg(os.getpgid(0), signal.SIGKILL)


if __name__ == "__main__":
    main(sys.argv[1:])
