"""The ``autovid`` command.

Each subcommand is declared by one ``add_<name>_command(subparsers)`` function in
:mod:`autovid_cli.commands`, listed in :data:`COMMANDS`. Those modules import only the standard
library; what a command needs (the emulator, the render engine, boto3) is imported when it runs,
so ``--help`` answers at once.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

#: (module, registration function) of every subcommand, in the order ``--help`` lists them.
COMMANDS: list[tuple[str, str]] = [
    ("autovid_cli.commands.up", "add_up_command"),
    ("autovid_cli.commands.render", "add_render_command"),
    ("autovid_cli.commands.jobs", "add_submit_command"),
    ("autovid_cli.commands.jobs", "add_status_command"),
    ("autovid_cli.commands.jobs", "add_jobs_command"),
    ("autovid_cli.commands.jobs", "add_cancel_command"),
    ("autovid_cli.commands.demo", "add_demo_command"),
    ("autovid_cli.commands.runs", "add_runs_command"),
    ("autovid_cli.commands.runs", "add_history_command"),
    ("autovid_cli.commands.runs", "add_graph_command"),
    ("autovid_cli.commands.runs", "add_redrive_command"),
    ("autovid_cli.commands.console", "add_console_command"),
    ("autovid_cli.commands.verify_webhook", "add_verify_webhook_command"),
]


def command_name(function: str) -> str:
    """The command a registration function declares: ``add_verify_webhook_command`` -> ``verify-webhook``."""
    return function.removeprefix("add_").removesuffix("_command").replace("_", "-")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """Every command's arguments, or with ``only`` just that command's: running a command does
    not import or build the others' (a render starts that much sooner)."""
    parser = argparse.ArgumentParser(prog="autovid", description="auto-vid developer tools")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module, function in COMMANDS:
        if only is None or command_name(function) == only:
            getattr(importlib.import_module(module), function)(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    named = argv[0] if argv and argv[0] in {command_name(f) for _m, f in COMMANDS} else None
    args = build_parser(named).parse_args(argv)
    return int(args.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
