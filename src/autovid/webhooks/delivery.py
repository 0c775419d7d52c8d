"""Webhook delivery (the signature and headers are in :mod:`autovid.webhooks.protocol`).

:class:`WebhookSender` delivers one notification: POST or PUT with the user's headers, a 10 s
timeout per attempt, retries with exponential backoff and full jitter on 5xx, timeouts and
connection errors, never on 4xx or on a refused address. Redirects are not followed (a 3xx ends
the delivery). The URL's host is resolved and every address checked by the SSRF guard before
each attempt, and the connection goes to the checked address, never to the name again.
"""

from __future__ import annotations

import contextlib
import http.client
import random
import socket
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from autovid.core.clock import iso, utc_now
from autovid.core.errors import ForbiddenSourceError, PermanentError, TransientError
from autovid.core.netguard import Resolver, resolve_public
from autovid.webhooks.protocol import DELIVERY_HEADER, EVENT_HEADER, RESERVED_HEADERS, SIGNATURE_HEADER, signature

USER_AGENT = "auto-vid-webhooks/1"


@dataclass(frozen=True)
class Attempt:
    """One delivery attempt, as recorded on the job (``notifications.attempts``)."""

    at: str
    status_code: int | None
    error: str | None
    event: str
    duration_ms: int

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    def as_record(self) -> dict[str, object]:
        return {
            "at": self.at,
            "event": self.event,
            "statusCode": self.status_code,
            "error": self.error,
            "durationMs": self.duration_ms,
        }


@dataclass(frozen=True)
class WebhookRequest:
    url: str
    method: str
    headers: Mapping[str, str]
    body: bytes
    event: str  # "job.completed", "job.failed" or "job.cancelled"
    delivery_id: str


class _Retry(Exception):
    """This attempt failed in a way worth another try (5xx, timeout, connection error)."""


class WebhookSender:
    """Delivers :class:`WebhookRequest` values; ``on_attempt`` sees each attempt as it ends."""

    def __init__(
        self,
        secret: str,
        *,
        timeout_seconds: float = 10.0,
        max_attempts: int = 5,
        base_delay_seconds: float = 1.0,
        max_delay_seconds: float = 20.0,
        allow_loopback: bool = False,
        resolver: Resolver | None = None,
        ca_certs: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        give_up_at: float | None = None,
    ):
        self.secret = secret
        self.timeout_seconds = timeout_seconds
        self.max_attempts = max_attempts
        self.base_delay_seconds = base_delay_seconds
        self.max_delay_seconds = max_delay_seconds
        self.allow_loopback = allow_loopback
        self.resolver = resolver
        self.ca_certs = ca_certs
        self._sleep = sleep
        self._clock = clock
        #: A ``time.monotonic()`` after which no attempt may still be running (the Lambda's end).
        self.give_up_at = give_up_at

    def deliver(self, request: WebhookRequest, on_attempt: Callable[[Attempt], None]) -> list[Attempt]:
        attempts: list[Attempt] = []
        for number in range(1, self.max_attempts + 1):
            attempt, retry = self._attempt(request)
            attempts.append(attempt)
            on_attempt(attempt)
            if not retry or number == self.max_attempts:
                break
            backoff = min(self.max_delay_seconds, self.base_delay_seconds * 2 ** (number - 1))
            delay = random.uniform(0, backoff)  # noqa: S311 - jitter, not security
            if self.give_up_at is not None and time.monotonic() + delay + self.timeout_seconds > self.give_up_at:
                break  # another attempt might not end before the function does
            self._sleep(delay)
        return attempts

    def _attempt(self, request: WebhookRequest) -> tuple[Attempt, bool]:
        started = time.monotonic()
        status: int | None = None
        error: str | None = None
        retry = False
        try:
            status = self._send(request)
            if 300 <= status < 400:
                error = f"HTTP {status}: redirects are not followed"
            elif 400 <= status < 500:
                error = f"HTTP {status}: not retried"
            elif status >= 500:
                error, retry = f"HTTP {status}", True
        except _Retry as exc:
            error, retry = str(exc), True
        except TransientError as exc:  # a DNS lookup that failed for now
            error, retry = str(exc), True
        except PermanentError as exc:
            error = str(exc)  # a refused address, a name that does not resolve, bad TLS: retrying cannot help
        except Exception as exc:  # noqa: BLE001 - recorded, never lost: a header http.client refuses, say
            error = f"the request could not be sent ({type(exc).__name__}): not retried"
        attempt = Attempt(
            at=iso(utc_now()),
            status_code=status,
            error=error,
            event=request.event,
            duration_ms=int((time.monotonic() - started) * 1000),
        )
        return attempt, retry

    def _send(self, request: WebhookRequest) -> int:
        parts = urlsplit(request.url)
        host = parts.hostname or ""
        https = parts.scheme.lower() == "https"
        port = parts.port or (443 if https else 80)
        address = resolve_public(host, port, allow_loopback=self.allow_loopback, resolver=self.resolver)[0]
        default_port = 443 if https else 80
        shown_host = f"[{host}]" if ":" in host else host
        headers = {k: v for k, v in request.headers.items() if k.lower() not in RESERVED_HEADERS}
        if not any(k.lower() == "user-agent" for k in headers):
            headers["User-Agent"] = USER_AGENT
        headers.update(
            {
                "Host": shown_host if port == default_port else f"{shown_host}:{port}",
                "Content-Type": "application/json",
                SIGNATURE_HEADER: signature(self.secret, request.body, int(self._clock())),
                DELIVERY_HEADER: request.delivery_id,
                EVENT_HEADER: request.event,
            }
        )
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        timed_out = f"{host} did not answer within {self.timeout_seconds:g}s"
        # Connect to the checked address, never to the name again; TLS still verifies the name.
        try:
            sock = socket.create_connection((address, port), timeout=self.timeout_seconds)
        except TimeoutError as exc:
            raise _Retry(timed_out) from exc
        except OSError as exc:
            raise _Retry(f"cannot connect to {host}: {exc.__class__.__name__}") from exc
        # A socket timeout bounds each read; this bounds the whole attempt, so a receiver that
        # drips its answer byte by byte cannot hold it open.
        expired = threading.Event()

        def expire() -> None:
            expired.set()
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

        watchdog = threading.Timer(self.timeout_seconds, expire)
        watchdog.start()
        try:
            if https:
                context = ssl.create_default_context(cafile=self.ca_certs)
                sock = context.wrap_socket(sock, server_hostname=host)
            connection = http.client.HTTPConnection(address, port, timeout=self.timeout_seconds)
            connection.sock = sock
            connection.request(request.method, path, body=request.body, headers=headers)
            # The status line and headers are enough; the body is not read.
            return connection.getresponse().status
        except ssl.SSLCertVerificationError as exc:
            raise ForbiddenSourceError(f"TLS verification failed for {host}: {exc.verify_message}") from exc
        except (TimeoutError, OSError, http.client.HTTPException) as exc:
            if expired.is_set() or isinstance(exc, TimeoutError):
                raise _Retry(timed_out) from exc
            raise _Retry(f"the connection to {host} failed: {exc.__class__.__name__}") from exc
        finally:
            watchdog.cancel()
            sock.close()
