"""Asset fetching: ``s3://`` through boto3, ``https://`` through urllib3 behind the SSRF guard.

Each hop of a redirect chain is resolved, checked and connected to by address (with the name kept
for TLS and the Host header). Downloads are capped in size and time, cached per job by source, and
land in a temporary directory that :meth:`AssetFetcher.close` removes, even after a failure.

Every download's SHA-256 is kept in :attr:`AssetFetcher.digests`. Given ``expected_digests`` (what
an earlier fetch of the same sources measured), a download whose bytes differ is refused with
``AssetChangedError``, so a job renders exactly the media its validation checked.

:meth:`AssetFetcher.open` streams an ``s3://`` source instead (the video: it is the one large
file), so it never lands in /tmp: ffmpeg reads it from a loopback server
(:mod:`autovid.render.stream`) whose every read carries ``If-Match`` with the ETag, and the ETag
is the source's pin (``etag:<ETag>`` in :attr:`AssetFetcher.digests`). https sources are always
downloaded: ffmpeg's own HTTP client would resolve the name and follow redirects itself, past the
address checks below.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urljoin, urlsplit

from autovid.core.config import RenderSettings
from autovid.core.errors import (
    AssetAccessDeniedError,
    AssetChangedError,
    AssetFetchError,
    AssetNotFoundError,
    AssetTooLargeError,
    AutoVidError,
    DownloadTimeoutError,
    ForbiddenSourceError,
    UpstreamUnavailableError,
)
from autovid.core.netguard import Resolver, resolve_public
from autovid.core.s3_uri import split_s3_uri
from autovid.render.ffmpeg import MediaInput, RemoteInput

if TYPE_CHECKING:  # imported when a source is fetched over http(s) or streamed, not by every render
    import urllib3

    from autovid.render.stream import StreamServer

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
TRANSIENT_STATUSES = frozenset({408, 425, 429})
CHUNK_BYTES = 1024 * 1024
USER_AGENT = "auto-vid-fetch/1"

ETAG_PIN = "etag:"  # a streamed source's pin: its S3 ETag, which every read of it must match

# (bucket, key, dest, max_bytes, asset_id) -> bytes written
S3Downloader = Callable[..., int]


def _default_s3_download(bucket: str, key: str, dest: Path, *, max_bytes: int, asset_id: str | None) -> int:
    # boto3 is loaded only when an s3:// source is fetched (offline renders never need it).
    from autovid.aws.s3_assets import download_object

    return download_object(bucket, key, dest, max_bytes=max_bytes, asset_id=asset_id)


def _s3_head(bucket: str, key: str, *, max_bytes: int, etag: str | None, asset_id: str | None) -> tuple[str, int]:
    from autovid.aws.s3_assets import head_version

    return head_version(bucket, key, max_bytes=max_bytes, etag=etag, asset_id=asset_id)


def _s3_range(bucket: str, key: str, etag: str, start: int, end: int, *, pinned: bool, asset_id: str | None):  # noqa: ANN202
    from autovid.aws.s3_assets import iter_range

    return iter_range(bucket, key, etag, start, end, pinned=pinned, asset_id=asset_id)


class AssetFetcher:
    """Fetches job assets into a private temp dir. Use as a context manager so it is always cleaned."""

    def __init__(
        self,
        parent_dir: Path | None = None,
        *,
        settings: RenderSettings,
        max_bytes: int,
        resolver: Resolver | None = None,
        s3_download: S3Downloader | None = None,
        ca_certs: str | None = None,
        expected_digests: Mapping[str, str] | None = None,
        stream_s3: bool = False,
        max_stream_bytes: int | None = None,
    ):
        self.settings = settings
        self.max_bytes = max_bytes
        self.resolver = resolver
        self.s3_download = s3_download or _default_s3_download
        self.ca_certs = ca_certs
        if parent_dir is not None:
            Path(parent_dir).mkdir(parents=True, exist_ok=True)
        self.dir = Path(tempfile.mkdtemp(prefix="autovid-assets-", dir=parent_dir))
        self._cache: dict[str, Path] = {}
        self.expected_digests = dict(expected_digests or {})  # source -> "sha256:<hex>"
        self.digests: dict[str, str] = {}  # source -> "sha256:<hex>" downloaded, or "etag:<ETag>" streamed
        self.stream_s3 = stream_s3  # open() streams s3:// sources rather than downloading them
        self.max_stream_bytes = max_stream_bytes or max_bytes  # the cap of a streamed source (not on disk)
        self._streams: dict[str, RemoteInput] = {}
        self._server: StreamServer | None = None

    def __enter__(self) -> AssetFetcher:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._server is not None:
            self._server.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def open(self, source: str, *, asset_id: str | None = None) -> MediaInput:
        """``source`` for ffmpeg: streamed when it is on S3 and this fetcher streams (or an earlier
        step pinned its ETag), so nothing is written to /tmp; otherwise :meth:`fetch`.

        A source pinned by its SHA-256 (by a step that downloaded it) is downloaded and compared.
        """
        expected = self.expected_digests.get(source)
        on_s3 = urlsplit(source).scheme.lower() == "s3"
        pinned_etag = expected.removeprefix(ETAG_PIN) if expected and expected.startswith(ETAG_PIN) else None
        if not on_s3 or (expected and pinned_etag is None) or not (self.stream_s3 or pinned_etag):
            return self.fetch(source, asset_id=asset_id)
        if source in self._streams:
            return self._streams[source]
        bucket, key = split_s3_uri(source)
        try:
            etag, size = _s3_head(bucket, key, max_bytes=self.max_stream_bytes, etag=pinned_etag, asset_id=asset_id)
        except AutoVidError as exc:
            exc.asset_id = exc.asset_id or asset_id
            raise

        def reader(start: int, end: int):  # noqa: ANN202 - an iterator of chunks
            return _s3_range(bucket, key, etag, start, end, pinned=pinned_etag is not None, asset_id=asset_id)

        if self._server is None:
            from autovid.render.stream import StreamServer

            self._server = StreamServer()
        remote = self._server.serve(source, size=size, pin=ETAG_PIN + etag, reader=reader)
        self.digests[source] = remote.pin
        self._streams[source] = remote
        return remote

    def fetch(self, source: str, *, asset_id: str | None = None) -> Path:
        """A local path holding ``source``; the same source is downloaded once per job."""
        if source in self._cache:
            return self._cache[source]
        dest = self.dir / f"{uuid.uuid4().hex}{_suffix(source)}"
        try:
            scheme = urlsplit(source).scheme.lower()
            if scheme == "s3":
                bucket, key = split_s3_uri(source)
                self.s3_download(bucket, key, dest, max_bytes=self.max_bytes, asset_id=asset_id)
            elif scheme in ("https", "http"):
                self._fetch_http(source, dest)
            else:
                raise ForbiddenSourceError(f"unsupported source scheme {scheme!r}")
            self.digests[source] = self._check_digest(source, dest)
        except AutoVidError as exc:
            dest.unlink(missing_ok=True)
            exc.asset_id = exc.asset_id or asset_id
            raise
        except BaseException:
            dest.unlink(missing_ok=True)
            raise
        self._cache[source] = dest
        return dest

    def _check_digest(self, source: str, path: Path) -> str:
        with path.open("rb") as file:
            digest = "sha256:" + hashlib.file_digest(file, "sha256").hexdigest()
        expected = self.expected_digests.get(source)
        if expected is not None and expected != digest:
            raise AssetChangedError(
                f"{source} changed after the job was validated ({_short(expected)} then, {_short(digest)} now); "
                "submit the job again to use the new file"
            )
        return digest

    # --- http(s) ---------------------------------------------------------------------

    def _fetch_http(self, url: str, dest: Path) -> None:
        deadline = time.monotonic() + self.settings.fetch_total_timeout_seconds
        original_scheme = urlsplit(url).scheme.lower()
        for _hop in range(self.settings.fetch_max_redirects + 1):
            parts = urlsplit(url)
            scheme = parts.scheme.lower()
            if scheme not in ("https", "http") or (scheme == "http" and original_scheme == "https"):
                raise ForbiddenSourceError(f"refusing to follow a redirect to {scheme}://{parts.hostname}")
            response = self._request(url)
            try:
                if response.status in REDIRECT_STATUSES:
                    location = response.headers.get("Location")
                    if not location:
                        raise AssetFetchError(f"{parts.hostname} answered {response.status} without a Location")
                    url = urljoin(url, location)
                    continue
                _raise_for_status(response.status, url)
                self._stream(response, dest, url, deadline)
                return
            finally:
                response.release_conn()
        raise ForbiddenSourceError(f"more than {self.settings.fetch_max_redirects} redirects")

    def _request(self, url: str) -> urllib3.BaseHTTPResponse:
        import urllib3
        from urllib3.exceptions import (
            ConnectTimeoutError,
            NewConnectionError,
            ProtocolError,
            ReadTimeoutError,
            SSLError,
        )

        parts = urlsplit(url)
        host = parts.hostname or ""
        https = parts.scheme.lower() == "https"
        port = parts.port or (443 if https else 80)
        address = resolve_public(host, port, allow_loopback=self.settings.allow_loopback_fetch, resolver=self.resolver)[
            0
        ]
        timeout = urllib3.Timeout(
            connect=self.settings.fetch_connect_timeout_seconds, read=self.settings.fetch_read_timeout_seconds
        )
        pool: urllib3.HTTPConnectionPool
        if https:
            pool = urllib3.HTTPSConnectionPool(
                address,
                port,
                timeout=timeout,
                retries=False,
                server_hostname=host,
                assert_hostname=host,
                ca_certs=self.ca_certs,
            )
        else:
            pool = urllib3.HTTPConnectionPool(address, port, timeout=timeout, retries=False)
        default_port = 443 if https else 80
        host_header = host if port == default_port else f"{host}:{port}"
        if ":" in host:
            host_header = f"[{host}]" if port == default_port else f"[{host}]:{port}"
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        try:
            return pool.urlopen(
                "GET",
                path,
                headers={"Host": host_header, "User-Agent": USER_AGENT},
                redirect=False,
                retries=False,
                preload_content=False,
                assert_same_host=False,
            )
        except NewConnectionError as exc:  # before ConnectTimeoutError: in urllib3 2 it is a subclass
            raise UpstreamUnavailableError(f"cannot connect to {host}: {exc}") from exc
        except (ConnectTimeoutError, ReadTimeoutError) as exc:
            raise DownloadTimeoutError(f"{host} did not answer in time") from exc
        except SSLError as exc:
            raise ForbiddenSourceError(f"TLS verification failed for {host}: {exc}") from exc
        except ProtocolError as exc:
            raise DownloadTimeoutError(f"the connection to {host} was reset") from exc

    def _stream(self, response: urllib3.BaseHTTPResponse, dest: Path, url: str, deadline: float) -> None:
        from urllib3.exceptions import ProtocolError, ReadTimeoutError

        declared = response.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > self.max_bytes:
            raise AssetTooLargeError(f"{url} is {declared} bytes; the limit is {self.max_bytes}")
        written = 0
        try:
            with dest.open("wb") as out:
                # read1 returns what has arrived, so the deadline is checked even against a slow drip.
                while chunk := response.read1(CHUNK_BYTES, decode_content=False):
                    written += len(chunk)
                    if written > self.max_bytes:
                        raise AssetTooLargeError(f"{url} is over the {self.max_bytes}-byte limit")
                    if time.monotonic() > deadline:
                        raise DownloadTimeoutError(f"downloading {url} took longer than allowed")
                    out.write(chunk)
        except ReadTimeoutError as exc:
            raise DownloadTimeoutError(f"reading {url} timed out") from exc
        except ProtocolError as exc:
            raise DownloadTimeoutError(f"the connection was reset while reading {url}") from exc


def _raise_for_status(status: int, url: str) -> None:
    if 200 <= status < 300:
        return
    if status in (404, 410):
        raise AssetNotFoundError(f"{url} was not found (HTTP {status})")
    if status in (401, 403):
        raise AssetAccessDeniedError(f"{url} refused access (HTTP {status})")
    if status >= 500 or status in TRANSIENT_STATUSES:
        raise UpstreamUnavailableError(f"{url} is unavailable (HTTP {status})")
    raise AssetFetchError(f"{url} answered HTTP {status}")


def _short(digest: str) -> str:
    return digest[: len("sha256:") + 12]


def _suffix(source: str) -> str:
    suffix = Path(unquote(urlsplit(source).path)).suffix.lower()
    return suffix if suffix.isascii() and 1 < len(suffix) <= 6 and suffix[1:].isalnum() else ""
