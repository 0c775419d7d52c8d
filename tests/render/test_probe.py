"""Probing real and broken media."""

from __future__ import annotations

import pytest
from render.media import ffmpeg

from autovid.errors import InvalidAssetError
from autovid.render.probe import probe


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
