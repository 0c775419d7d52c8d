"""``autovid verify-webhook``: check a received notification's X-AutoVid-Signature."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from autovid.webhooks import DEFAULT_TOLERANCE_SECONDS, verify_signature


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
        default=DEFAULT_TOLERANCE_SECONDS,
        help="accepted age in seconds (default: %(default)s)",
    )
    parser.set_defaults(run=run_verify_webhook)


def run_verify_webhook(args: argparse.Namespace) -> int:
    secret = args.secret or os.environ.get("AUTOVID_WEBHOOK_SECRET")
    if not secret:
        print("autovid: no secret: pass --secret or set AUTOVID_WEBHOOK_SECRET", file=sys.stderr)
        return 2
    try:
        body = sys.stdin.buffer.read() if args.body == "-" else Path(args.body).read_bytes()
    except OSError as error:
        print(f"autovid: cannot read {args.body}: {error.strerror}", file=sys.stderr)
        return 2
    if verify_signature(secret, args.signature, body, tolerance_seconds=args.tolerance):
        print("valid: signed with this secret, within the tolerance")
        return 0
    print("invalid: wrong secret, altered body, or older than the tolerance", file=sys.stderr)
    return 1
