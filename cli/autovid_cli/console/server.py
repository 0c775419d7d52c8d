"""Serving the console with uvicorn: in a thread of ``autovid up``, or in the foreground for
``autovid console``. The socket is bound before uvicorn starts, so a port in use is a clear error."""

from __future__ import annotations

import argparse
import socket
import sys
import threading
import time
from typing import Any

import uvicorn

from autovid_cli.console.app import Console, create_app

DEFAULT_PORT = 3001


class ConsolePortInUseError(OSError):
    pass


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise ConsolePortInUseError(f"console port {host}:{port} is in use ({error.strerror})") from error
    sock.listen(128)
    return sock


def _config(app: Any) -> uvicorn.Config:
    return uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off", timeout_graceful_shutdown=2)


def url_of(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


class ConsoleServer:
    """The console on ``host:port`` (0: a free port) in a background thread."""

    def __init__(self, console: Console, *, host: str = "127.0.0.1", port: int = DEFAULT_PORT):
        self.host = host
        self._socket = bind(host, port)
        self.port = self._socket.getsockname()[1]
        self._server = uvicorn.Server(_config(create_app(console, host=host)))
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True)

    @property
    def url(self) -> str:
        return url_of(self.host, self.port)

    def start(self, timeout: float = 10.0) -> ConsoleServer:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started and self._thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        if not self._server.started:
            raise RuntimeError("the console did not start")
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._socket.close()

    def __enter__(self) -> ConsoleServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def run_console(args: argparse.Namespace) -> int:
    """``autovid console``: serve the console in the foreground until Ctrl-C."""
    from autovid_cli.runs import CLIENT_ERRORS, find_target

    try:
        target = find_target(args)
    except CLIENT_ERRORS as error:
        print(f"autovid console: {error}", file=sys.stderr)
        return 2
    console = Console(target, login_key=target.api_key, title=args.stack or "auto-vid")
    try:
        sock = bind(args.host, args.port)
    except ConsolePortInUseError as error:
        print(f"autovid console: {error}", file=sys.stderr)
        return 1
    url = url_of(args.host, sock.getsockname()[1])
    where = f"stack {args.stack}" if args.stack else f"the local stack at {target.api_url}"
    print(f"auto-vid console for {where}: {url}  (Ctrl-C stops it)", flush=True)
    if target.api_key:
        print("  log in with the stack's API key", flush=True)
    uvicorn.Server(_config(create_app(console, host=args.host))).run(sockets=[sock])
    return 0


def start_for_runtime(runtime: Any, *, host: str, port: int) -> ConsoleServer:
    """The console of a running ``LocalRuntime`` (``autovid up``), started in a thread."""
    from autovid_cli.runs import RunTarget

    environment = runtime.client_environment()
    target = RunTarget(
        sfn=runtime.client("stepfunctions"),
        state_machine_arn=runtime.outputs().get("StateMachineArn"),
        api_url=runtime.api_url,
        api_key=runtime.api_key,
        aws_endpoint=runtime.aws_endpoint_url,
        aws_environment=environment,
    )
    console = Console(target, login_key=runtime.api_key, title=runtime.pseudo.stack_name)
    return ConsoleServer(console, host=host, port=port).start()
