"""ValidateJob's estimate of RenderVideo's /tmp and time, and the refusal that names the limit."""

from __future__ import annotations

from pathlib import Path

import pytest

from autovid.core.config import Limits
from autovid.core.errors import InvalidAssetError, PermanentError
from autovid.render.budget import (
    MARGIN,
    RENDER_TIMEOUT_SECONDS,
    RENDER_TMP_BYTES,
    check_render_fits,
    estimate_job,
    estimate_render,
)
from autovid.render.engine import ProbedAssets
from autovid.render.probe import MediaInfo, StreamInfo
from autovid.spec import Encoding, parse_spec

HOUR = 3600.0


def _estimate(seconds: float, mbps: float, *, encoding: Encoding | None = None, codec: str = "h264", size=(1280, 720)):
    return estimate_render(
        duration=seconds,
        video_bytes=int(seconds * mbps * 1e6 / 8),
        other_bytes=2_000_000,
        encoding=encoding or Encoding(),
        video_codec=codec,
        width=size[0],
        height=size[1],
        fps=30.0,
    )


def test_the_default_longest_video_copied_fits_with_margin():
    """Three hours at the largest file the asset limit lets through (2 GB) fits time and /tmp."""
    limits = Limits()
    assert limits.max_video_seconds == 3 * HOUR
    mbps = limits.max_asset_bytes * 8 / 1e6 / limits.max_video_seconds
    estimate = _estimate(limits.max_video_seconds, mbps)
    check_render_fits(estimate)
    assert estimate.seconds < MARGIN * RENDER_TIMEOUT_SECONDS
    assert estimate.tmp_bytes < RENDER_TMP_BYTES / 2


def test_tmp_counts_the_video_and_the_output_at_once():
    estimate = _estimate(HOUR, 8.0)  # 3.6 GB of video
    assert estimate.tmp_bytes == pytest.approx(2 * 3.6e9, rel=0.05)


def test_a_streamed_video_is_not_counted_in_tmp_only_its_output():
    on_disk = _estimate(HOUR, 8.0)
    streamed = estimate_render(**{**_ARGS, "duration": HOUR, "video_bytes": int(3.6e9), "video_on_disk": False})
    assert streamed.tmp_bytes == pytest.approx(on_disk.tmp_bytes - 3.6e9, rel=0.01)


def test_the_longest_streamed_video_at_the_video_size_limit_fits():
    """MAX_VIDEO_BYTES is chosen so that a streamed video that large fits at every length up to the limit."""
    limits = Limits()
    for seconds in (HOUR, 2 * HOUR, limits.max_video_seconds):
        estimate = estimate_render(
            **{**_ARGS, "duration": seconds, "video_bytes": limits.max_video_bytes, "video_on_disk": False}
        )
        check_render_fits(estimate)


def test_a_job_too_big_for_tmp_is_refused_naming_the_limit():
    estimate = _estimate(2 * HOUR, 8.0)  # 7.2 GB in, as much out
    with pytest.raises(InvalidAssetError, match=r"GB of /tmp .* the render step has 10 GiB") as caught:
        check_render_fits(estimate, asset_id="main", field="assets.video.source")
    assert isinstance(caught.value, PermanentError)
    assert (caught.value.asset_id, caught.value.field) == ("main", "assets.video.source")


def test_a_long_reencode_is_refused_naming_the_time_limit():
    short = _estimate(120, 5.0, encoding=Encoding(preset="medium"), size=(1920, 1080))
    check_render_fits(short)
    long = _estimate(HOUR, 5.0, encoding=Encoding(preset="medium"), size=(1920, 1080))
    assert long.reencode
    with pytest.raises(InvalidAssetError, match=r"would take about \d+ s \(re-encoding the video\).* 900 s"):
        check_render_fits(long)


def test_a_video_that_is_not_h264_is_estimated_as_a_reencode():
    assert _estimate(600, 5.0, codec="hevc").reencode
    assert not _estimate(600, 5.0).reencode


def test_a_faster_preset_and_a_smaller_frame_take_less_time():
    medium = _estimate(600, 5.0, encoding=Encoding(preset="medium"), size=(1920, 1080))
    fast = _estimate(600, 5.0, encoding=Encoding(preset="veryfast"), size=(1920, 1080))
    small = _estimate(600, 5.0, encoding=Encoding(preset="medium"), size=(1280, 720))
    assert fast.seconds < medium.seconds and small.seconds < medium.seconds


def test_a_requested_bitrate_sizes_the_output():
    estimate = _estimate(HOUR, 2.0, encoding=Encoding(bitrate="10M"))
    assert estimate.tmp_bytes == pytest.approx(0.9e9 + 4.5e9 + 86.4e6 + 2e6, rel=0.01)


def test_estimate_job_reads_the_fetched_sizes(tmp_path: Path):
    video, music = tmp_path / "v.mp4", tmp_path / "m.mp3"
    video.write_bytes(b"\0" * 3_000_000)
    music.write_bytes(b"\0" * 100_000)
    spec = parse_spec(
        {
            "assets": {"video": {"id": "v", "source": "s3://b/v.mp4"}, "audio": [{"id": "m", "source": "s3://b/m"}]},
            "backgroundMusic": {"playlist": ["m"]},
            "timeline": [{"type": "tts", "start": 1, "data": {"text": "hi"}}],
            "output": {"filename": "o.mp4"},
        },
        Limits(),
    )
    stream = StreamInfo(index=0, kind="video", codec="h264", width=1280, height=720, fps=25.0)
    assets = ProbedAssets(
        video=MediaInfo(path=video, duration=10.0, streams=(stream,)),
        audio={"m": MediaInfo(path=music, duration=5.0, streams=(StreamInfo(index=0, kind="audio", codec="mp3"),))},
    )
    estimate = estimate_job(spec, assets)
    assert estimate.tmp_bytes == pytest.approx(3_000_000 + 100_000 + 3_000_000 + 240_000, abs=10)
    assert not estimate.reencode


def test_a_long_looping_playlist_counts_its_cycle_file():
    short = estimate_render(**_ARGS, music_cycle_seconds=13.0)
    long = estimate_render(**_ARGS, music_cycle_seconds=1800.0)
    assert short.tmp_bytes == estimate_render(**_ARGS).tmp_bytes  # replayed in memory
    assert long.tmp_bytes - short.tmp_bytes == pytest.approx(1800 * 48_000 * 8, rel=0.01)


_ARGS = dict(
    duration=HOUR,
    video_bytes=1_000_000_000,
    other_bytes=0,
    encoding=Encoding(),
    video_codec="h264",
    width=1280,
    height=720,
    fps=30.0,
)
