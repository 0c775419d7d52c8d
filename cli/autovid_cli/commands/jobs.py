"""The arguments of ``autovid submit and status``; the command itself is in :mod:`autovid_cli.jobs`."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from autovid_cli.commands import lazy


def add_target_arguments(parser: argparse.ArgumentParser, *, uploads: bool = True) -> None:
    parser.add_argument("--api", help="REST API base URL (default: the running `autovid up`)")
    parser.add_argument("--stack", help="a deployed stack's name: its API URL and bucket come from its outputs")
    if uploads:
        parser.add_argument("--bucket", help="bucket for uploading local sources (default: the stack's)")
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON only")


def add_submit_command(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "submit",
        help="submit a job spec; local sources are uploaded to the stack's bucket first",
        description=(
            "Submit SPEC.json. Local-path sources are uploaded to the stack's bucket under assets/ and "
            "rewritten to s3:// URIs; each relative path is looked up next to the spec, then in the current "
            "directory. A local output.destination stays on this machine: with --wait the MP4 is "
            "downloaded there. Exit codes: 0 completed (or submitted), 1 failed (or not finished in "
            "--timeout, or not downloaded), 2 bad input."
        ),
    )
    parser.add_argument("spec", type=Path, help="job spec (JSON)")
    add_target_arguments(parser)
    parser.add_argument("--wait", action="store_true", help="wait for the job, with a progress bar")
    parser.add_argument("--timeout", type=float, default=None, help="give up waiting after this many seconds")
    parser.set_defaults(run=lazy("autovid_cli.jobs", "run_submit"))


def add_status_command(subparsers: Any) -> None:
    parser = subparsers.add_parser("status", help="print a job's status JSON")
    parser.add_argument("job_id", metavar="JOB_ID")
    add_target_arguments(parser, uploads=False)
    parser.set_defaults(run=lazy("autovid_cli.jobs", "run_status"))
