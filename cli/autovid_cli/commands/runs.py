"""The arguments of ``autovid runs, history, graph and redrive``; the command itself is in :mod:`autovid_cli.runs`."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from autovid_cli.commands import lazy, positive_int


def add_target_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stack", help="a deployed stack's name (AWS): its state machine and API from its outputs")
    parser.add_argument("--api", help="REST API base URL, to look up job ids (default: the stack's)")
    parser.add_argument("--aws-endpoint", help="AWS endpoint URL (default: the running `autovid up`, else AWS)")
    parser.add_argument("--state-machine", help="state machine ARN (default: the stack's StateMachineArn output)")


def add_runs_command(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "runs",
        help="list the workflow's executions: job, status, start, duration, redrives, failed state",
        description="One row per execution of the video job workflow, newest first.",
    )
    parser.add_argument(
        "--status", choices=["RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"], help="only this status"
    )
    parser.add_argument("--limit", type=positive_int, default=20, help="at most this many rows (default: %(default)s)")
    parser.add_argument("--json", action="store_true", help="print JSON lines, one per execution")
    add_target_arguments(parser)
    parser.set_defaults(run=lazy("autovid_cli.runs", "run_runs"))


def add_history_command(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "history",
        help="an execution's timeline: states with durations, retries and their errors, catches, redrives",
    )
    parser.add_argument("job", metavar="JOB_ID|EXECUTION_ARN")
    parser.add_argument("--json", action="store_true", help="print the raw history events as JSON")
    add_target_arguments(parser)
    parser.set_defaults(run=lazy("autovid_cli.runs", "run_history"))


def add_graph_command(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "graph",
        help="draw the state machine as SVG, each state coloured by its outcome in the job's execution",
    )
    parser.add_argument("job", metavar="JOB_ID|EXECUTION_ARN")
    parser.add_argument("-o", "--output", type=Path, default=Path("run.svg"), help="SVG file (default: %(default)s)")
    parser.add_argument("--attempt", type=int, help="draw this attempt (1 = before the first redrive; default: latest)")
    add_target_arguments(parser)
    parser.set_defaults(run=lazy("autovid_cli.runs", "run_graph"))


def add_redrive_command(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "redrive",
        help="redrive the job's failed execution: it resumes at the state that failed",
        description=(
            "Redrive the job's execution (RedriveExecution): the state that failed runs again with the input it "
            "had; states that succeeded are not re-run. Exit codes: 0 redriven (and, with --wait, completed), "
            "1 not redrivable or the job failed again, 2 bad input."
        ),
    )
    parser.add_argument("job", metavar="JOB_ID|EXECUTION_ARN")
    parser.add_argument(
        "--wait", action="store_true", help="wait for the redriven execution to end, then print the job (REST API)"
    )
    parser.add_argument(
        "--timeout", type=float, default=1800.0, help="give up waiting after this many seconds (default: %(default)s)"
    )
    add_target_arguments(parser)
    parser.set_defaults(run=lazy("autovid_cli.runs", "run_redrive"))
