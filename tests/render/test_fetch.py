"""Fetching: the SSRF guard against a real local server that redirects, size caps, errors, cleanup."""

from __future__ import annotations

import hashlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from autovid.aws.clients import reset_clients
from autovid.core.config import Limits, RenderSettings
from autovid.core.errors import (
    AssetAccessDeniedError,
    AssetChangedError,
    AssetFetchError,
    AssetNotFoundError,
    AssetTooLargeError,
    DownloadTimeoutError,
    ForbiddenSourceError,
    PermanentError,
    TransientError,
    UpstreamUnavailableError,
)
from autovid.core.netguard import forbidden_reason, resolve_public
from autovid.render.fetch import AssetFetcher

BODY = b"x" * 5000


class _Handler(BaseHTTPRequestHandler):
    routes: dict[str, tuple[int, dict[str, str], bytes]] = {}

    def do_GET(self):  # noqa: N802
        if self.path == "/slow":
            self.send_response(200)
            self.send_header("Content-Length", "100")
            self.end_headers()
            self.wfile.write(b"a")
            self.wfile.flush()
            threading.Event().wait(2)
            return
        status, headers, body = self.routes.get(self.path, (404, {}, b""))
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args):
        pass


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    _Handler.routes = {
        "/file.mp3": (200, {}, BODY),
        "/big": (200, {}, b"y" * 20_000),
        "/to-metadata": (302, {"Location": "http://169.254.169.254/latest/meta-data/"}, b""),
        "/to-private-name": (302, {"Location": "http://internal.example:80/x"}, b""),
        "/to-file": (301, {"Location": "/file.mp3"}, b""),
        "/loop": (302, {"Location": "/loop"}, b""),
        "/denied": (403, {}, b""),
        "/gone": (410, {}, b""),
        "/busy": (503, {}, b""),
        "/throttled": (429, {}, b""),
        "/teapot": (418, {}, b""),
    }
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield base
    httpd.shutdown()


def _fetcher(tmp_path: Path, *, loopback=True, max_bytes=10_000, resolver=None, read_timeout=5.0) -> AssetFetcher:
    settings = RenderSettings(ALLOW_LOOPBACK_FETCH=loopback, FETCH_READ_TIMEOUT_SECONDS=read_timeout)
    return AssetFetcher(tmp_path, settings=settings, max_bytes=max_bytes, resolver=resolver)


def _only_dirs(tmp_path: Path) -> list[Path]:
    return [p for p in tmp_path.iterdir() if p.name.startswith("autovid-assets-")]


def test_fetches_and_caches_per_job(server, tmp_path):
    with _fetcher(tmp_path) as fetcher:
        first = fetcher.fetch(f"{server}/to-file", asset_id="a")
        assert first.read_bytes() == BODY
        assert fetcher.fetch(f"{server}/to-file", asset_id="b") == first
    assert _only_dirs(tmp_path) == []


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/x",
        "https://169.254.169.254/latest/meta-data/",
        "https://10.1.2.3/x",
        "https://[::1]/x",
        "https://[::ffff:10.0.0.1]/x",
        "https://0.0.0.0/x",
        "https://224.0.0.1/x",
    ],
)
def test_refuses_non_public_addresses(tmp_path, url):
    with _fetcher(tmp_path, loopback=False) as fetcher, pytest.raises(ForbiddenSourceError) as caught:
        fetcher.fetch(url, asset_id="music")
    assert caught.value.asset_id == "music"


def test_refuses_a_name_that_resolves_to_a_private_address(tmp_path):
    resolver = {"assets.example.com": ["10.0.0.1"]}
    with _fetcher(tmp_path, resolver=lambda host, port: resolver[host]) as fetcher:
        with pytest.raises(ForbiddenSourceError, match="private"):
            fetcher.fetch("https://assets.example.com/a.mp3")


def test_refuses_a_redirect_to_the_metadata_service(server, tmp_path):
    with _fetcher(tmp_path) as fetcher, pytest.raises(ForbiddenSourceError, match="link-local"):
        fetcher.fetch(f"{server}/to-metadata")


def test_refuses_a_redirect_to_a_name_resolving_privately(server, tmp_path):
    resolver = {"internal.example": ["192.168.1.5"], "127.0.0.1": ["127.0.0.1"]}
    with _fetcher(tmp_path, resolver=lambda host, port: resolver[host]) as fetcher:
        with pytest.raises(ForbiddenSourceError, match="private"):
            fetcher.fetch(f"{server}/to-private-name")


def test_loopback_is_refused_unless_allowed(server, tmp_path):
    with _fetcher(tmp_path, loopback=False) as fetcher, pytest.raises(ForbiddenSourceError, match="loopback"):
        fetcher.fetch(f"{server}/file.mp3")


def test_stops_after_five_redirects(server, tmp_path):
    with _fetcher(tmp_path) as fetcher, pytest.raises(ForbiddenSourceError, match="redirects"):
        fetcher.fetch(f"{server}/loop")


@pytest.mark.parametrize(
    ("path", "error", "kind"),
    [
        ("/missing", AssetNotFoundError, PermanentError),
        ("/gone", AssetNotFoundError, PermanentError),
        ("/denied", AssetAccessDeniedError, PermanentError),
        ("/teapot", AssetFetchError, PermanentError),
        ("/big", AssetTooLargeError, PermanentError),
        ("/busy", UpstreamUnavailableError, TransientError),
        ("/throttled", UpstreamUnavailableError, TransientError),
    ],
)
def test_http_errors_are_classified_and_the_temp_dir_is_removed(server, tmp_path, path, error, kind):
    fetcher = _fetcher(tmp_path)
    try:
        with pytest.raises(error) as caught:
            fetcher.fetch(f"{server}{path}", asset_id="clip")
        assert isinstance(caught.value, kind) and caught.value.asset_id == "clip"
        assert list(fetcher.dir.iterdir()) == []  # no partial download left behind
    finally:
        fetcher.close()
    assert _only_dirs(tmp_path) == []


def test_read_timeout_is_transient(server, tmp_path):
    with _fetcher(tmp_path, read_timeout=0.3) as fetcher, pytest.raises(DownloadTimeoutError):
        fetcher.fetch(f"{server}/slow")
    assert _only_dirs(tmp_path) == []


def test_a_refused_connection_is_unavailable_not_a_timeout(tmp_path):
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with _fetcher(tmp_path) as fetcher, pytest.raises(UpstreamUnavailableError, match="cannot connect"):
        fetcher.fetch(f"http://127.0.0.1:{port}/a.mp3")


def test_unsupported_scheme_is_refused(tmp_path):
    with _fetcher(tmp_path) as fetcher, pytest.raises(ForbiddenSourceError):
        fetcher.fetch("file:///etc/passwd")


def test_netguard_is_reusable_on_its_own():
    assert forbidden_reason("93.184.216.34") is None
    assert forbidden_reason("2606:4700::1111") is None
    assert forbidden_reason("100.64.0.1") == "private"
    assert forbidden_reason("fe80::1") is not None
    assert forbidden_reason("fd00::1") == "private"
    assert forbidden_reason("::1") == "loopback" and forbidden_reason("::1", allow_loopback=True) is None
    assert forbidden_reason("2002:0a00:0001::1") == "private"  # 6to4 wrapping 10.0.0.1
    assert resolve_public("cdn.example", 443, resolver=lambda h, p: ["93.184.216.34"]) == ["93.184.216.34"]
    with pytest.raises(ForbiddenSourceError):  # one bad answer among good ones refuses the host
        resolve_public("mixed.example", 443, resolver=lambda h, p: ["93.184.216.34", "10.0.0.2"])


# --- S3 ------------------------------------------------------------------------------------


@pytest.fixture
def s3(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    reset_clients()
    with mock_aws():
        client = boto3.client("s3", region_name="eu-west-1")
        client.create_bucket(Bucket="media", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        client.put_object(Bucket="media", Key="music/track one.mp3", Body=BODY)
        client.put_object(Bucket="media", Key="music/take#2 50%20off?.mp3", Body=BODY[::-1])
        yield client
    reset_clients()


def test_s3_streams_to_disk(s3, tmp_path):
    with _fetcher(tmp_path) as fetcher:
        assert fetcher.fetch("s3://media/music/track one.mp3").read_bytes() == BODY


def test_s3_keys_are_taken_literally(s3, tmp_path):
    """As the AWS CLI does: no URL decoding, and '#' and '?' belong to the key."""
    with _fetcher(tmp_path) as fetcher:
        assert fetcher.fetch("s3://media/music/take#2 50%20off?.mp3").read_bytes() == BODY[::-1]
    with _fetcher(tmp_path) as fetcher, pytest.raises(AssetNotFoundError):
        fetcher.fetch("s3://media/music/track%20one.mp3")


@pytest.mark.parametrize(
    ("uri", "max_bytes", "error"),
    [
        ("s3://media/missing.mp3", 10_000, AssetNotFoundError),
        ("s3://no-such-bucket/a.mp3", 10_000, AssetNotFoundError),
        ("s3://media/music/track one.mp3", 100, AssetTooLargeError),
    ],
)
def test_s3_errors_are_classified(s3, tmp_path, uri, max_bytes, error):
    with _fetcher(tmp_path, max_bytes=max_bytes) as fetcher, pytest.raises(error) as caught:
        fetcher.fetch(uri, asset_id="bgm")
    assert caught.value.asset_id == "bgm"
    assert _only_dirs(tmp_path) == []


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def test_every_download_is_fingerprinted(s3, server, tmp_path):
    with _fetcher(tmp_path) as fetcher:
        fetcher.fetch("s3://media/music/track one.mp3")
        fetcher.fetch(f"{server}/to-file")
        assert fetcher.digests == {
            "s3://media/music/track one.mp3": _sha256(BODY),
            f"{server}/to-file": _sha256(BODY),
        }


def test_the_bytes_that_were_validated_are_accepted(s3, tmp_path):
    source = "s3://media/music/track one.mp3"
    settings = RenderSettings(ALLOW_LOOPBACK_FETCH=True)
    with AssetFetcher(
        tmp_path, settings=settings, max_bytes=Limits().max_asset_bytes, expected_digests={source: _sha256(BODY)}
    ) as fetcher:
        assert fetcher.fetch(source).read_bytes() == BODY


@pytest.mark.parametrize("scheme", ["s3", "http"])
def test_an_asset_replaced_since_validation_is_refused(s3, server, tmp_path, scheme):
    source = "s3://media/music/track one.mp3" if scheme == "s3" else f"{server}/file.mp3"
    validated = _sha256(b"the file as it was when the job was validated")
    settings = RenderSettings(ALLOW_LOOPBACK_FETCH=True)
    with AssetFetcher(
        tmp_path, settings=settings, max_bytes=Limits().max_asset_bytes, expected_digests={source: validated}
    ) as fetcher:
        with pytest.raises(AssetChangedError) as caught:
            fetcher.fetch(source, asset_id="bgm")
        assert isinstance(caught.value, PermanentError)
        assert caught.value.asset_id == "bgm"
        assert source in caught.value.message and "changed after the job was validated" in caught.value.message
        assert validated[:19] in caught.value.message and _sha256(BODY)[:19] in caught.value.message
        assert list(fetcher.dir.iterdir()) == [], "the refused download is not kept"
        with pytest.raises(AssetChangedError):
            fetcher.fetch(source, asset_id="bgm")  # nor cached
    assert _only_dirs(tmp_path) == []


def test_s3_codes_map_to_the_taxonomy():
    from botocore.exceptions import ClientError

    from autovid.aws.s3_assets import s3_error

    def error(code, status):
        return ClientError({"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, "GetObject")

    assert isinstance(s3_error(error("SlowDown", 503), "s3://b/k", "a"), UpstreamUnavailableError)
    assert isinstance(s3_error(error("InternalError", 500), "s3://b/k", "a"), UpstreamUnavailableError)
    assert isinstance(s3_error(error("AccessDenied", 403), "s3://b/k", "a"), AssetAccessDeniedError)
    assert isinstance(s3_error(error("NoSuchKey", 404), "s3://b/k", "a"), AssetNotFoundError)
    assert isinstance(s3_error(error("InvalidRequest", 400), "s3://b/k", "a"), PermanentError)
