"""``autovid verify-webhook``: check a received notification's X-AutoVid-Signature."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from autovid.webhooks.protocol import DEFAULT_TOLERANCE_SECONDS, verify_signature


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
    tolerance = DEFAULT_TOLERANCE_SECONDS if args.tolerance is None else args.tolerance
    if verify_signature(secret, args.signature, body, tolerance_seconds=tolerance):
        print("valid: signed with this secret, within the tolerance")
        return 0
    print("invalid: wrong secret, altered body, or older than the tolerance", file=sys.stderr)
    return 1
