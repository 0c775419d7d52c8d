"""The endpoint's write path: one lock per service, and a save before each write is acknowledged.

moto's backends are plain dictionaries and lists, not safe under concurrent writes (a DynamoDB
``update_item`` racing a scan can fail with "dictionary changed size during iteration"). Every
request to a service runs under that service's lock, except the ones that wait by design: Lambda
``Invoke`` (it runs a function), ``StartSyncExecution`` and SQS long polls (moto waits on the
queue's own condition). After a write succeeds, the service's :class:`ServiceRecorder` saves what
changed, still under the lock and before the answer is sent: a write that was acknowledged is in
the state folder even if the process is killed right after.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import threading
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

#: moto's account when the access key is not a 12-digit account id.
DEFAULT_ACCOUNT_ID = "123456789012"
_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/\d{8}/([^/]+)/([^/]+)/aws4_request")
_NOT_LOCKED_SERVICES = frozenset({"lambda"})
#: Request bodies above this size are not read for the recorders (S3 object bodies).
_BODY_READ_LIMIT = 1 << 20


@dataclass
class EndpointRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    service: str
    region: str
    account: str
    host: str
    _json: Any = field(default=None, repr=False)

    @property
    def operation(self) -> str:
        """The action of a JSON or query protocol request (``X-Amz-Target`` or ``Action``); "" for REST."""
        target = self.headers.get("x-amz-target", "")
        if target:
            return target.rsplit(".", 1)[-1]
        action = self.query.get("Action") or self.form().get("Action")
        return action[0] if action else ""

    def json(self) -> dict[str, Any]:
        if self._json is None:
            try:
                self._json = json.loads(self.body or b"{}")
            except ValueError:
                self._json = {}
        return self._json if isinstance(self._json, dict) else {}

    def form(self) -> dict[str, list[str]]:
        if "x-www-form-urlencoded" not in self.headers.get("content-type", ""):
            return {}
        return urllib.parse.parse_qs(self.body.decode("utf-8", "replace"))

    def parameter(self, name: str) -> Any:
        """A top-level parameter of a JSON or query protocol request."""
        if name in self.json():
            return self.json()[name]
        values = self.form().get(name) or self.query.get(name)
        return values[0] if values else None


class ServiceRecorder(Protocol):
    """Saves one service's state; runs under the service's lock."""

    service: str

    def is_write(self, request: EndpointRequest) -> bool: ...

    def record(self, request: EndpointRequest) -> None: ...


class SerializedEndpoint:
    """WSGI middleware around moto's application."""

    def __init__(self, app: Callable[..., Iterable[bytes]]):
        self._app = app
        self._locks: dict[str, threading.RLock] = {}
        self._locks_guard = threading.Lock()
        self._recorders: dict[str, ServiceRecorder] = {}
        #: Off while the runtime provisions and restores: those writes are not new state.
        self.recording = False

    def add_recorder(self, recorder: ServiceRecorder) -> None:
        self._recorders[recorder.service] = recorder

    def service_lock(self, service: str) -> threading.RLock:
        """The lock a service's requests run under (recorders and restores take it too)."""
        with self._locks_guard:
            return self._locks.setdefault(service, threading.RLock())

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = _read_request(environ)
        if request is None:
            return self._app(environ, start_response)
        recorder = self._recorders.get(request.service) if self.recording else None
        locked = _is_locked(request)
        answer: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
            answer["status"], answer["headers"], answer["exc_info"] = status, headers, exc_info
            return answer.setdefault("written", io.BytesIO()).write

        def save() -> None:
            if recorder is not None and answer["status"][:1] == "2" and recorder.is_write(request):
                recorder.record(request)

        with self.service_lock(request.service) if locked else contextlib.nullcontext():
            result = self._app(environ, capture)
            try:
                body = b"".join(result)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
            if locked:
                save()
        if not locked:
            # A request that waits by design ran without the lock; its save takes it, so that no
            # other save of this service interleaves with it.
            with self.service_lock(request.service):
                save()
        written = answer.get("written")
        start_response(answer["status"], answer["headers"], answer["exc_info"])
        return [written.getvalue() + body if written is not None else body]


def _is_locked(request: EndpointRequest) -> bool:
    if request.service in _NOT_LOCKED_SERVICES:
        return False
    if request.service == "states" and request.operation == "StartSyncExecution":
        return False
    if request.service == "sqs" and request.operation == "ReceiveMessage":
        wait = request.parameter("WaitTimeSeconds")
        return not wait or int(wait) == 0
    return True


def _read_request(environ: dict[str, Any]) -> EndpointRequest | None:
    headers = {key[5:].replace("_", "-").lower(): value for key, value in environ.items() if key.startswith("HTTP_")}
    if environ.get("CONTENT_TYPE"):
        headers["content-type"] = environ["CONTENT_TYPE"]
    query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    scope = _CREDENTIAL.search(headers.get("authorization", ""))
    if scope is not None:
        access_key, region, service = scope.groups()
    elif "X-Amz-Credential" in query:
        parts = query["X-Amz-Credential"][0].split("/")
        if len(parts) < 4:
            return None
        access_key, region, service = parts[0], parts[2], parts[3]
    else:
        return None
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = b""
    if 0 < length <= _BODY_READ_LIMIT:
        body = environ["wsgi.input"].read(length)
        environ["wsgi.input"] = io.BytesIO(body)
    return EndpointRequest(
        method=environ["REQUEST_METHOD"],
        path=_request_path(environ),
        query=query,
        headers=headers,
        body=body,
        service=service,
        region=region,
        account=access_key if access_key.isdigit() and len(access_key) == 12 else DEFAULT_ACCOUNT_ID,
        host=headers.get("host", ""),
    )


def _request_path(environ: dict[str, Any]) -> str:
    """The path as the client sent it, decoded once (PATH_INFO is already decoded, as latin-1)."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw:
        return urllib.parse.unquote(urllib.parse.urlsplit(raw).path)
    return environ.get("PATH_INFO", "").encode("latin-1").decode("utf-8", "replace")
