"""The template's ``Api`` events served over HTTP, like ``sam local start-api``.

Requests become API Gateway REST *proxy* events; the handler's ``statusCode``, headers and
body become the HTTP response. Routes are matched the way API Gateway does: literal path
segments before ``{param}`` before greedy ``{proxy+}``, then the method on that resource
(``ANY`` matches every method). A path, or a method the matched resource does not declare,
gets API Gateway's ``403 Missing Authentication Token``;
a handler error or a malformed handler response gets ``502 Internal server error``.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from sam_emulator.awslambda.functions import InvocationResult
from sam_emulator.template.provision import ApiRoute

logger = logging.getLogger("sam_emulator")

_MISSING_TOKEN = (403, {"message": "Missing Authentication Token"})
_FORBIDDEN = (403, {"message": "Forbidden"})  # API Gateway's answer to a missing or wrong API key


def api_key_id(api_key: str) -> str:
    """A stable id for a local API key, as API Gateway gives each key an id."""
    return "local" + hashlib.sha256(api_key.encode()).hexdigest()[:10]


_INTERNAL_ERROR = (502, {"message": "Internal server error"})
#: The methods API Gateway REST APIs route (ANY covers these); any other gets Missing Authentication Token.
_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")


@dataclass(frozen=True)
class RouteMatch:
    route: ApiRoute
    path_parameters: dict[str, str]


class RouteTable:
    def __init__(self, routes: list[ApiRoute]):
        # Most specific first: more literal segments, then fewer greedy ones.
        self._routes = sorted(routes, key=_specificity, reverse=True)

    def __iter__(self):
        return iter(self._routes)

    def match(self, method: str, path: str) -> RouteMatch | None:
        """API Gateway picks the resource first (the most specific path that matches), then the
        method on it (an exact method before ``ANY``). A resource without that method is a miss,
        even when a less specific resource would accept it."""
        for route in self._routes:
            parameters = _match_path(route.path, path)
            if parameters is None:
                continue
            on_resource = [r for r in self._routes if r.path == route.path and r.api_logical_id == route.api_logical_id]
            chosen = next((r for r in on_resource if r.method == method), None) or next(
                (r for r in on_resource if r.method == "ANY"), None
            )
            return RouteMatch(chosen, parameters) if chosen else None
        return None


def _segments(path: str) -> list[str]:
    return [segment for segment in path.strip("/").split("/") if segment]


def _specificity(route: ApiRoute) -> tuple[int, int, int]:
    segments = _segments(route.path)
    literal = sum(1 for segment in segments if not segment.startswith("{"))
    greedy = sum(1 for segment in segments if segment.endswith("+}"))
    return (literal, -greedy, len(segments))


def _match_path(template: str, path: str) -> dict[str, str] | None:
    pattern, actual = _segments(template), _segments(path)
    parameters: dict[str, str] = {}
    for index, segment in enumerate(pattern):
        if segment.startswith("{") and segment.endswith("+}"):
            rest = actual[index:]
            if not rest:
                return None
            parameters[segment[1:-2]] = "/".join(rest)
            return parameters
        if index >= len(actual):
            return None
        if segment.startswith("{") and segment.endswith("}"):
            parameters[segment[1:-1]] = actual[index]
        elif segment != actual[index]:
            return None
    return parameters if len(actual) == len(pattern) else None


def build_proxy_event(
    *,
    match: RouteMatch,
    method: str,
    raw_path: str,
    headers: list[tuple[str, str]],
    body: bytes,
    source_ip: str,
    host: str,
    api_id: str,
    account_id: str,
    stage_variables: Mapping[str, str] | None,
    api_key: str | None = None,
) -> dict[str, Any]:
    """An API Gateway REST API Lambda proxy integration event."""
    split = urlsplit(raw_path)
    query = parse_qsl(split.query, keep_blank_values=True)
    multi_query: dict[str, list[str]] = {}
    for key, value in query:
        multi_query.setdefault(key, []).append(value)
    multi_headers: dict[str, list[str]] = {}
    for key, value in headers:
        multi_headers.setdefault(key, []).append(value)
    request_id = str(uuid.uuid4())
    now = dt.datetime.now(dt.UTC)
    try:
        body_text: str | None = body.decode("utf-8") if body else None
        is_base64 = False
    except UnicodeDecodeError:
        body_text, is_base64 = base64.b64encode(body).decode(), True
    route = match.route
    return {
        "resource": route.path,
        "path": split.path,
        "httpMethod": method,
        "headers": {key: values[-1] for key, values in multi_headers.items()} or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": {key: values[-1] for key, values in multi_query.items()} or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": match.path_parameters or None,
        "stageVariables": dict(stage_variables) if stage_variables else None,
        "requestContext": {
            "accountId": account_id,
            "apiId": api_id,
            "resourceId": uuid.uuid5(uuid.NAMESPACE_URL, route.path).hex[:6],
            "resourcePath": route.path,
            "httpMethod": method,
            "requestId": request_id,
            "extendedRequestId": request_id,
            "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "requestTimeEpoch": int(now.timestamp() * 1000),
            "path": f"/{route.stage}{split.path}",
            "stage": route.stage,
            "protocol": "HTTP/1.1",
            "domainName": host,
            "identity": {
                "sourceIp": source_ip,
                "userAgent": next((v for k, v in headers if k.lower() == "user-agent"), None),
                "apiKey": api_key,
                "apiKeyId": api_key_id(api_key) if api_key else None,
                "accountId": None,
                "caller": None,
                "user": None,
                "userArn": None,
            },
        },
        "body": body_text,
        "isBase64Encoded": is_base64,
    }


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def proxy_response(result: InvocationResult) -> HttpResponse:
    """The HTTP response API Gateway builds from a proxy integration's result."""
    if result.is_function_error:
        return _json_response(*_INTERNAL_ERROR)
    value = result.json()
    if not isinstance(value, dict) or not isinstance(value.get("statusCode"), int | str):
        logger.warning("api: malformed Lambda proxy response (no statusCode): %.200s", result.payload)
        return _json_response(*_INTERNAL_ERROR)
    headers: list[tuple[str, str]] = []
    for key, values in (value.get("multiValueHeaders") or {}).items():
        headers.extend((key, str(item)) for item in values)
    multi_keys = {key.lower() for key, _ in headers}
    headers.extend((k, str(v)) for k, v in (value.get("headers") or {}).items() if k.lower() not in multi_keys)
    if not any(key.lower() == "content-type" for key, _ in headers):
        headers.append(("Content-Type", "application/json"))
    body = value.get("body")
    if body is None:
        payload = b""
    elif value.get("isBase64Encoded"):
        payload = base64.b64decode(body)
    else:
        payload = (body if isinstance(body, str) else json.dumps(body)).encode()
    return HttpResponse(int(value["statusCode"]), headers, payload)


def _json_response(status: int, body: dict[str, Any]) -> HttpResponse:
    return HttpResponse(status, [("Content-Type", "application/json")], json.dumps(body).encode())


class _ApiHttpServer(ThreadingHTTPServer):
    # The stdlib's listen backlog of 5 resets connections in a burst of requests (200 clients
    # submitting at once); API Gateway accepts them all.
    request_queue_size = 512


class RestApiServer:
    """A threading HTTP server for every route of the template's APIs."""

    def __init__(
        self,
        routes: list[ApiRoute],
        invoke: Callable[[str, dict[str, Any]], InvocationResult],
        *,
        host: str = "127.0.0.1",
        port: int = 3000,
        api_ids: Mapping[str, str],
        stage_variables: Mapping[str, Mapping[str, str]],
        account_id: str,
        api_key: str | None = None,
    ):
        self.routes = RouteTable(routes)
        self.api_key = api_key
        self._invoke = invoke
        self._api_ids = api_ids
        self._stage_variables = stage_variables
        self._account_id = account_id
        self._server = _ApiHttpServer((host, port), self._handler_class())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, name="rest-api", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)

    def handle(
        self, method: str, raw_path: str, headers: list[tuple[str, str]], body: bytes, source_ip: str
    ) -> HttpResponse:
        started = time.monotonic()
        match = self.routes.match(method, urlsplit(raw_path).path) if method in _METHODS else None
        if match is None:
            logger.info("api %s %s -> 403 (route not declared)", method, raw_path)
            return _json_response(*_MISSING_TOKEN)
        host = next((v for k, v in headers if k.lower() == "host"), self.url)
        given_key = next((v for k, v in headers if k.lower() == "x-api-key"), None)
        if self.api_key and match.route.api_key_required:
            if given_key is None or not hmac.compare_digest(given_key.encode(), self.api_key.encode()):
                logger.info("api %s %s -> 403 (API key missing or wrong)", method, raw_path)
                return _json_response(*_FORBIDDEN)
        event = build_proxy_event(
            match=match,
            method=method,
            raw_path=raw_path,
            headers=headers,
            body=body,
            source_ip=source_ip,
            host=host,
            api_id=self._api_ids.get(match.route.api_logical_id, ""),
            account_id=self._account_id,
            stage_variables=self._stage_variables.get(match.route.api_logical_id),
            api_key=given_key if self.api_key and match.route.api_key_required else None,
        )
        response = proxy_response(self._invoke(match.route.function_logical_id, event))
        logger.debug("api %s %s -> %s in %.0fms", method, raw_path, response.status, (time.monotonic() - started) * 1e3)
        return response

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                response = server.handle(
                    self.command, self.path, list(self.headers.items()), body, self.client_address[0]
                )
                try:
                    self.send_response(response.status)
                    for key, value in response.headers:
                        if key.lower() not in ("content-length", "connection", "transfer-encoding"):
                            self.send_header(key, value)
                    self.send_header("Content-Length", str(len(response.body)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(response.body)
                except ConnectionError:
                    # The client gave up waiting (its own timeout): the request was handled all the same.
                    logger.warning("api %s %s: the client closed the connection before the answer (%s)",
                                   self.command, self.path.split("?", 1)[0], response.status)  # fmt: skip
                    self.close_connection = True

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
                logger.debug("api: " + format, *args)

            def __getattr__(self, name: str) -> Any:
                # Any method reaches `handle` (which answers API Gateway's 403 for the ones it does
                # not route), never the standard library's 501.
                if name.startswith("do_"):
                    return self._serve
                raise AttributeError(name)

        return Handler
