"""The arguments of ``autovid demo``; the command itself is in :mod:`autovid_cli.demo`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from autovid_cli.commands import lazy


def add_demo_command(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run one job end to end on the local runtime and download the MP4 into ./out/",
        description="Generate sample media, start the local stack, submit a job over HTTP and wait for it.",
    )
    parser.add_argument("--template", default="template.yaml", type=Path, help="SAM template (default: %(default)s)")
    parser.add_argument("--out", default="out", type=Path, help="where media and the MP4 go (default: %(default)s)")
    parser.add_argument("--api-port", type=int, default=0, help="REST API port (default: a free one)")
    parser.add_argument("--aws-port", type=int, default=0, help="AWS endpoint port (default: a free one)")
    parser.add_argument("--json", action="store_true", help="print only the final status JSON")
    parser.set_defaults(run=lazy("autovid_cli.demo", "run_demo"))
