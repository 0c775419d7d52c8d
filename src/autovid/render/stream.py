"""Streaming a source into ffmpeg without a copy in /tmp: a loopback HTTP server that answers
ffmpeg's (ranged) GETs with ranged reads of one pinned version of the object.

Why not give ffmpeg the source's own URL (a presigned S3 GET with ``If-Match`` in ``-headers``)?
The static ffmpeg build we ship cannot resolve host names (a statically linked glibc has no
working ``getaddrinfo``; it crashes), it does not verify TLS certificates unless told to, and its
``http`` protocol ends an input quietly, with exit code 0, when a request in the middle of a
read fails (a 412 from ``If-Match`` included), so a replaced object would truncate the video
instead of failing the job. Here ffmpeg connects to ``127.0.0.1`` only, the reads go through
the caller's ``reader`` (boto3 for S3: its TLS, retries and credentials), and the first typed
error the reader raises is kept for the caller, who raises it after ffmpeg exits, whatever the
exit code.
"""

from __future__ import annotations

import re
import secrets
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from autovid.render.ffmpeg import RemoteInput

# (start, end inclusive) -> the bytes, in chunks; raises AutoVidError subclasses.
RangeReader = Callable[[int, int], Iterator[bytes]]
_RANGE = re.compile(r"^bytes=(\d+)-(\d*)$")


class _Served:
    def __init__(self, size: int, reader: RangeReader):
        self.size, self.reader = size, reader
        self.error: Exception | None = None
        self.lock = threading.Lock()

    def fail(self, error: Exception) -> None:
        with self.lock:
            self.error = self.error or error


class StreamServer:
    """Serves each registered source at ``http://127.0.0.1:PORT/<random token>`` until closed."""

    def __init__(self) -> None:
        self._served: dict[str, _Served] = {}
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def serve(self, source: str, *, size: int, pin: str, reader: RangeReader) -> RemoteInput:
        served = _Served(size, reader)
        token = secrets.token_urlsafe(16)
        with self._lock:
            server = self._start()
            self._served[token] = served
        host, port = server.server_address[:2]
        return RemoteInput(source, f"http://{host}:{port}/{token}", size, pin, lambda: served.error)

    def close(self) -> None:
        with self._lock:
            server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()

    def _start(self) -> ThreadingHTTPServer:
        if self._server is None:
            served = self._served

            class Handler(_Handler):
                sources = served

            self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
            self._server.daemon_threads = True
            # A short poll, so close() (which waits for the loop to notice) returns at once.
            self._thread = threading.Thread(
                target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="stream", daemon=True
            )
            self._thread.start()
        return self._server


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    sources: dict[str, _Served] = {}

    def do_HEAD(self) -> None:  # noqa: N802 - the http.server hook's name
        self._answer(body=False)

    def do_GET(self) -> None:  # noqa: N802
        self._answer(body=True)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - ffmpeg's requests are not news
        pass

    def _answer(self, *, body: bool) -> None:
        served = self.sources.get(self.path.lstrip("/"))
        if served is None:
            self._status(404)
            return
        start, end = 0, served.size - 1
        wanted = self.headers.get("Range")
        if wanted:
            match = _RANGE.match(wanted.strip())
            if not match or int(match[1]) >= served.size:
                self._status(416, {"Content-Range": f"bytes */{served.size}"})
                return
            start = int(match[1])
            end = min(int(match[2]), end) if match[2] else end
        if served.error is not None:  # the source already failed: do not read it again
            self._status(503)
            return
        chunks: Iterator[bytes] = iter(())
        first = b""
        if body and end >= start:
            try:  # the request to the source is made before the answer starts, so it can still fail
                chunks = served.reader(start, end)
                first = next(chunks, b"")
            except Exception as exc:  # noqa: BLE001 - kept for the caller, who raises it after ffmpeg exits
                served.fail(exc)
                self._status(503)
                return
        self.send_response(206 if wanted else 200)
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(end - start + 1))
        if wanted:
            self.send_header("Content-Range", f"bytes {start}-{end}/{served.size}")
        self.end_headers()
        if not body or end < start:
            return
        sent = 0
        try:
            self.wfile.write(first)
            sent += len(first)
            for chunk in chunks:
                self.wfile.write(chunk)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            return  # ffmpeg seeks by dropping the connection and asking again: not an error
        except Exception as exc:  # noqa: BLE001 - kept for the caller, who raises it after ffmpeg exits
            served.fail(exc)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()  # releases the source's connection when ffmpeg stopped reading early
        if sent < end - start + 1:
            self.close_connection = True  # a short body: ffmpeg sees the stream break off

    def _status(self, status: int, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", "0")
        self.end_headers()
