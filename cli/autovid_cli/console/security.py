"""Sessions, the API-key login and the cross-site checks of the console.

Every action is a POST, refused with 403 unless it carries the session's token (a form field or the
``X-CSRF-Token`` header) AND its ``Origin`` (or, without one, its ``Referer``) is the console's own
origin. The session cookie is ``HttpOnly`` and ``SameSite=Strict``. With an API key, nothing but the
login page and the static files is shown until the key was given.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from starlette.requests import Request

COOKIE = "autovid_console"
TOKEN_FIELD = "csrf_token"  # noqa: S105 - a form field name
TOKEN_HEADER = "x-csrf-token"  # noqa: S105 - a header name
#: Sessions idle for longer than this are forgotten.
SESSION_SECONDS = 12 * 3600
MAX_SESSIONS = 1000


@dataclass
class Session:
    id: str
    token: str
    authenticated: bool = False
    seen: float = field(default_factory=time.monotonic)


class Sessions:
    """Server-side sessions: the cookie holds only a random id."""

    def __init__(self) -> None:
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def get(self, session_id: str | None) -> Session | None:
        with self._lock:
            session = self._sessions.get(session_id or "")
            if session is None or time.monotonic() - session.seen > SESSION_SECONDS:
                return None
            session.seen = time.monotonic()
            return session

    def create(self) -> Session:
        with self._lock:
            if len(self._sessions) >= MAX_SESSIONS:
                oldest = min(self._sessions.values(), key=lambda s: s.seen)
                del self._sessions[oldest.id]
            session = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32))
            self._sessions[session.id] = session
            return session

    def renew(self, session: Session) -> Session:
        """A new id and token for a session that just logged in (no session fixation)."""
        with self._lock:
            self._sessions.pop(session.id, None)
        fresh = self.create()
        fresh.authenticated = session.authenticated
        return fresh


def key_matches(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def same_origin(request: Request) -> str | None:
    """None when the request comes from the console's own pages, else why it is refused."""
    expected = f"{request.url.scheme}://{request.headers.get('host', '')}"
    origin = request.headers.get("origin")
    if origin is not None:
        return None if origin == expected else f"Origin {origin!r} is not this console ({expected})"
    referer = request.headers.get("referer")
    if referer is None:
        return "the request has neither Origin nor Referer"
    parts = urlsplit(referer)
    return None if f"{parts.scheme}://{parts.netloc}" == expected else f"Referer {referer!r} is not this console"


def token_matches(session: Session | None, given: str | None) -> bool:
    return session is not None and bool(given) and hmac.compare_digest(session.token.encode(), str(given).encode())


def allowed_hosts(host: str) -> list[str]:
    """Host headers the console answers (a DNS-rebinding guard): its own address, and the loopback names."""
    if host in ("0.0.0.0", "::", ""):  # noqa: S104 - listening everywhere was asked for
        return ["*"]
    return sorted({host, "127.0.0.1", "localhost", "[::1]"})
