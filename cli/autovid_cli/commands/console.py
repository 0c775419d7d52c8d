"""The arguments of ``autovid console``; the server is in :mod:`autovid_cli.console.server`."""

from __future__ import annotations

from typing import Any

from autovid_cli.commands import lazy
from autovid_cli.commands.runs import add_target_arguments


def add_console_command(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "console",
        help="a web console for the stack's executions and jobs (redrive, stop, submit), in the browser",
        description=(
            "Serve the web console against the running `autovid up` (default) or a deployed stack (--stack NAME, "
            "with your AWS credentials). With an API key, the console asks for it first. Ctrl-C stops it."
        ),
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    parser.add_argument("--port", type=int, default=3001, help="port, 0 for a free one (default: %(default)s)")
    add_target_arguments(parser)
    parser.set_defaults(run=lazy("autovid_cli.console.server", "run_console"))
