"""The webhook protocol: the headers a notification carries and its signature.

Every notification is signed with the stack's secret (Secrets Manager, ``WebhookSigningSecret``):

    X-AutoVid-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">

:func:`verify_signature` is what a receiver runs. This module uses only the standard library, so
it can be copied as it is (``autovid verify-webhook`` runs it from the command line).
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "X-AutoVid-Signature"
DELIVERY_HEADER = "X-AutoVid-Delivery"
EVENT_HEADER = "X-AutoVid-Event"
DEFAULT_TOLERANCE_SECONDS = 300
#: Headers the service sets or that frame the request; a spec cannot set them.
RESERVED_HEADERS = frozenset(
    h.lower()
    for h in (
        SIGNATURE_HEADER,
        DELIVERY_HEADER,
        EVENT_HEADER,
        "Content-Type",
        "Content-Length",
        "Host",
        "Transfer-Encoding",
        "Connection",
        "TE",
        "Upgrade",
        "Expect",
        "Trailer",
    )
)


def signature(secret: str, body: bytes, timestamp: int) -> str:
    """The ``X-AutoVid-Signature`` value for ``body`` sent at ``timestamp`` (unix seconds)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify_signature(
    secret: str,
    header: str,
    body: bytes,
    *,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> bool:
    """True when ``header`` signs ``body`` (the raw bytes received) with ``secret`` and its
    timestamp is within ``tolerance_seconds`` of now (a replayed old request fails)."""
    fields: dict[str, list[str]] = {}
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        fields.setdefault(name, []).append(value)
    try:
        timestamp = int(fields["t"][0])
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance_seconds:
        return False
    expected = signature(secret, body, timestamp).split("v1=", 1)[1].encode()
    # Bytes, so a hostile non-ASCII value is a mismatch, not an exception.
    return any(hmac.compare_digest(expected, candidate.encode()) for candidate in fields.get("v1", []))
