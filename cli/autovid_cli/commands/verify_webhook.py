"""The arguments of ``autovid verify-webhook``; the command itself is in :mod:`autovid_cli.verify_webhook`."""

from __future__ import annotations

from typing import Any

from autovid_cli.commands import lazy


def add_verify_webhook_command(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "verify-webhook",
        help="check a webhook's X-AutoVid-Signature against its raw body",
        description=(
            "Verify that BODY (the raw bytes received; - for stdin) was signed with the stack's webhook secret "
            "and sent recently. Exit codes: 0 valid, 1 invalid or too old, 2 bad input."
        ),
    )
    parser.add_argument("body", metavar="BODY", help="file with the raw request body, or - for stdin")
    parser.add_argument("--signature", required=True, help="the X-AutoVid-Signature header value")
    parser.add_argument(
        "--secret", help="the signing secret (default: $AUTOVID_WEBHOOK_SECRET; `autovid up` prints it)"
    )
    parser.add_argument(
        "--tolerance",
        type=int,
        default=None,
        help="accepted age in seconds (default: the service's, 300)",
    )
    parser.set_defaults(run=lazy("autovid_cli.verify_webhook", "run_verify_webhook"))
