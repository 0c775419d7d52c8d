"""The arguments of ``autovid submit``, ``status``, ``jobs`` and ``cancel``; the commands themselves are in
:mod:`autovid_cli.jobs`."""

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


def add_jobs_command(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "jobs",
        help="list your jobs, newest first (GET /jobs)",
        description="List the jobs of your API key, newest first: one page, or every page with --all.",
    )
    parser.add_argument("--status", action="append", help="only this status (repeat it, or separate with commas)")
    parser.add_argument("--project", dest="project_id", help="only jobs whose jobInfo.projectId is this")
    parser.add_argument("--after", dest="submitted_after", help="only jobs submitted after this ISO-8601 time")
    parser.add_argument("--before", dest="submitted_before", help="only jobs submitted before this ISO-8601 time")
    parser.add_argument("--limit", type=int, default=None, help="jobs per page, 1 to 100 (default 20)")
    parser.add_argument("--next-token", help="the nextToken of the previous page")
    parser.add_argument("--all", action="store_true", help="follow nextToken to the last page")
    add_target_arguments(parser, uploads=False)
    parser.set_defaults(run=lazy("autovid_cli.jobs", "run_jobs"))


def add_cancel_command(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "cancel",
        help="cancel a job (POST /jobs/{jobId}/cancel)",
        description="Cancel a submitted, processing or retrying job. Exit codes: 0 cancelled, 2 finished or unknown.",
    )
    parser.add_argument("job_id", metavar="JOB_ID")
    add_target_arguments(parser, uploads=False)
    parser.set_defaults(run=lazy("autovid_cli.jobs", "run_cancel"))
