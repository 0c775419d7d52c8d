"""The arguments of ``autovid up``; the command itself is in :mod:`autovid_cli.up`."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from autovid_cli.commands import lazy, positive_int

LOCAL_STACK_NAME = "auto-vid-local"
#: Where the local stack writes each function's log.
LOCAL_LOG_DIR = Path(".autovid") / "logs"
#: Where the local stack keeps its state (tables, buckets, queues, secrets, executions).
LOCAL_STATE_DIR = Path(".autovid") / "state"
#: Where each function worker of the local stack gets its own temporary folder (emptied at start).
LOCAL_SCRATCH_DIR = Path(".autovid") / "run"


def add_up_command(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "up",
        help="run template.yaml locally: AWS endpoint, Step Functions, Lambdas, pipes and the REST API",
        description="Run the stack locally until Ctrl-C. No AWS account and no Docker needed.",
    )
    parser.add_argument("--template", default="template.yaml", type=Path, help="SAM template (default: %(default)s)")
    parser.add_argument("--api-port", type=int, default=3000, help="REST API port (default: %(default)s)")
    parser.add_argument("--aws-port", type=int, default=4566, help="AWS endpoint port (default: %(default)s)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    parser.add_argument("--stack-name", default=LOCAL_STACK_NAME, help="AWS::StackName (default: %(default)s)")
    parser.add_argument(
        "--parameter",
        action="append",
        default=[],
        type=name_value,
        metavar="NAME=VALUE",
        help="template parameter override (repeatable)",
    )
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        type=name_value,
        metavar="NAME=VALUE",
        help="environment variable for every function, over the template's (repeatable); the shell's "
        "own variables do not reach the functions",
    )
    parser.add_argument(
        "--log-dir",
        default=LOCAL_LOG_DIR,
        type=Path,
        help="where each function's output goes, one <FunctionLogicalId>.log per function (default: %(default)s)",
    )
    parser.add_argument(
        "--state-dir",
        default=LOCAL_STATE_DIR,
        type=Path,
        help="where the stack's state is kept across restarts and crashes: items, objects, messages, secrets "
        "and executions (default: %(default)s)",
    )
    parser.add_argument("--reset", action="store_true", help="empty the state folder first: start with nothing")
    parser.add_argument(
        "--function-logs",
        action="store_true",
        help="also print what the functions write to this terminal (their log files get it either way)",
    )
    parser.add_argument(
        "--max-concurrency",
        type=positive_int,
        metavar="N",
        help="worker processes per function at most; more concurrent invocations of a function wait for "
        "a free one (default: the number of cores)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging; implies --function-logs")
    parser.add_argument(
        "--api-key",
        metavar="KEY",
        help="require this x-api-key on the routes whose template Auth requires an API key (as API Gateway does)",
    )
    parser.add_argument(
        "--console-port",
        type=int,
        default=3001,
        help="web console port, on --host; 0 for a free one, -1 for no console (default: %(default)s)",
    )
    parser.add_argument("--json", action="store_true", help="print the endpoints and outputs as one JSON line")
    parser.set_defaults(run=lazy("autovid_cli.up", "run_up"))


def name_value(text: str) -> tuple[str, str]:
    name, separator, value = text.partition("=")
    if not separator or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name, value
