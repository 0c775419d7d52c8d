"""The loopback stream that feeds ffmpeg a source without a copy in /tmp."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from render.media import make_video

from autovid.core.errors import AssetChangedError
from autovid.render import engine
from autovid.render.probe import probe
from autovid.render.stream import StreamServer


def file_reader(path: Path, *, fail_after: int | None = None):
    data = path.read_bytes()
    served = [0]

    def read(start: int, end: int) -> Iterator[bytes]:
        for offset in range(start, end + 1, 4096):
            if fail_after is not None and served[0] >= fail_after:
                raise AssetChangedError("the object was replaced")
            chunk = data[offset : min(offset + 4096, end + 1)]
            served[0] += len(chunk)
            yield chunk

    return read


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    return make_video(tmp_path / "clip.mp4", 3.0, size="160x120", fps=25)


def test_a_streamed_video_probes_like_the_file(clip: Path) -> None:
    server = StreamServer()
    try:
        remote = server.serve("s3://b/clip.mp4", size=clip.stat().st_size, pin="etag:x", reader=file_reader(clip))
        streamed, local = probe(remote, expect_video=True), probe(clip, expect_video=True)
    finally:
        server.close()
    assert streamed.duration == local.duration
    assert streamed.streams == local.streams
    assert remote.failure() is None


def test_a_stream_that_breaks_off_raises_its_typed_error_even_when_ffmpeg_ends_quietly(
    clip: Path, tmp_path: Path
) -> None:
    server = StreamServer()
    try:
        remote = server.serve(
            "s3://b/clip.mp4", size=clip.stat().st_size, pin="etag:x", reader=file_reader(clip, fail_after=20_000)
        )
        with pytest.raises(AssetChangedError):
            engine._probe_checked(remote, "clip", "assets.video.source", True)
        args = ["-i", remote.url, "-map", "0:v", "-c", "copy", "-y", str(tmp_path / "out.mp4")]
        with pytest.raises(AssetChangedError):
            engine.run_with_progress(args, 3.0, lambda _p: None, log_path=tmp_path / "log", streamed=[remote])
    finally:
        server.close()


def test_ranges_outside_the_source_and_unknown_paths_are_refused(clip: Path) -> None:
    import urllib.error
    import urllib.request

    server = StreamServer()
    try:
        remote = server.serve("s3://b/clip.mp4", size=clip.stat().st_size, pin="etag:x", reader=file_reader(clip))
        request = urllib.request.Request(remote.url, headers={"Range": "bytes=10-19"})
        with urllib.request.urlopen(request) as response:
            assert response.status == 206 and response.read() == clip.read_bytes()[10:20]
        for url, headers, status in [
            (remote.url, {"Range": f"bytes={clip.stat().st_size}-"}, 416),
            (remote.url.rsplit("/", 1)[0] + "/other", {}, 404),
        ]:
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(urllib.request.Request(url, headers=headers))
            assert refused.value.code == status
    finally:
        server.close()
