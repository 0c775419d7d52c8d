"""Probing real and broken media."""

from __future__ import annotations

import pytest
from render.media import ffmpeg

from autovid.core.errors import InvalidAssetError
from autovid.render.probe import probe, video_stream_duration


def test_probe_reports_streams_and_durations(media):
    video = probe(media["video_with_audio"])
    assert video.has_video and video.has_audio
    assert (video.video.codec, video.video.width, video.video.height, video.video.fps) == ("h264", 160, 120, 25)
    assert video.audio.sample_rate == 44100
    assert video.duration == pytest.approx(6.0, abs=1e-3)
    tone = probe(media["music_b"])
    assert not tone.has_video and tone.audio.codec == "mp3"
    assert tone.duration == pytest.approx(6.0, abs=0.06)


def test_cover_art_in_an_mp3_is_not_a_video(media, tmp_path):
    cover = tmp_path / "cover.png"
    ffmpeg("-f", "lavfi", "-i", "color=c=red:s=32x32", "-frames:v", "1", str(cover))
    tagged = tmp_path / "tagged.mp3"
    ffmpeg(
        "-i",
        str(media["music_b"]),
        "-i",
        str(cover),
        "-map",
        "0:a",
        "-map",
        "1:v",
        "-c:a",
        "copy",
        "-c:v",
        "png",
        "-disposition:v",
        "attached_pic",
        "-metadata",
        "title=Tagged",
        "-id3v2_version",
        "3",
        str(tagged),
    )
    info = probe(tagged)
    assert info.has_audio and not info.has_video
    assert info.duration == pytest.approx(6.0, abs=0.06)


@pytest.mark.parametrize("content", [b"", b"this is not media at all" * 100])
def test_undecodable_file_is_a_permanent_error_naming_the_asset(tmp_path, content):
    broken = tmp_path / "broken.mp3"
    broken.write_bytes(content)
    with pytest.raises(InvalidAssetError) as caught:
        probe(broken, asset_id="intro_music")
    assert caught.value.asset_id == "intro_music" and "intro_music" in str(caught.value)


@pytest.mark.parametrize("name", ["video", "video_with_audio", "music_a", "music_b"])
def test_one_run_video_probe_equals_the_two_run_probe(media, name):
    """``expect_video`` reads the header and measures the video stream in one ffmpeg run."""
    one_run = probe(media[name], expect_video=True)
    assert one_run == probe(media[name])
    if one_run.has_video:
        assert one_run.duration == video_stream_duration(media[name])


def test_one_run_video_probe_measures_the_video_stream_not_the_container(tmp_path):
    longer_audio = tmp_path / "longer_audio.mp4"
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=160x120:rate=25:duration=2",
        "-f",
        "lavfi",
        "-i",
        "sine=f=440:d=3",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        str(longer_audio),
    )
    info = probe(longer_audio, expect_video=True)
    assert info.duration == pytest.approx(2.0, abs=1 / 25 / 2)
    assert info == probe(longer_audio)


def test_one_run_video_probe_still_rejects_undecodable_files(tmp_path):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"this is not media at all" * 100)
    with pytest.raises(InvalidAssetError) as caught:
        probe(broken, asset_id="main", expect_video=True)
    assert caught.value.asset_id == "main"
