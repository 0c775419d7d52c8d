"""The video stream is copied packet for packet unless encoding options or the codec ask otherwise."""

from __future__ import annotations

import pytest
from render.conftest import run_render, source_of
from render.media import decode, make_video, video_packet_hashes

from autovid.render.probe import probe

pytestmark = pytest.mark.slow


def _raw(encoding=None):
    output = {"filename": "o.mp4"}
    if encoding:
        output["encoding"] = encoding
    return {
        "assets": {
            "video": {"id": "v", "source": source_of("video")},
            "audio": [{"id": "a", "source": source_of("a")}],
        },
        "backgroundMusic": {"playlist": ["a"]},
        "output": output,
    }


def test_video_packets_are_copied_unchanged(media, tmp_path):
    _spec, result = run_render(tmp_path, _raw(), {"video": media["video"], "a": media["music_a"]})
    assert result.video_copied
    assert video_packet_hashes(result.output_path) == video_packet_hashes(media["video"])
    # +faststart: the moov atom comes before the media data.
    head = result.output_path.read_bytes()[:200_000]
    assert 0 <= head.find(b"moov") < head.find(b"mdat")
    assert probe(result.output_path).audio.codec == "aac"


def test_encoding_options_re_encode_at_the_requested_fps(media, tmp_path):
    encoding = {"preset": "ultrafast", "fps": 10, "bitrate": "300k", "audio_bitrate": "96k"}
    _spec, result = run_render(tmp_path, _raw(encoding), {"video": media["video"], "a": media["music_a"]})
    info = probe(result.output_path)
    assert not result.video_copied
    assert info.video.codec == "h264" and info.video.fps == 10
    assert len(video_packet_hashes(result.output_path)) == pytest.approx(120, abs=1)  # 12 s at 10 fps
    assert info.duration == pytest.approx(12.0, abs=0.1)
    assert len(decode(result.output_path)) / 48_000 == pytest.approx(12.0, abs=0.03)


def test_non_h264_source_is_re_encoded_to_h264(media, tmp_path):
    mpeg4 = make_video(tmp_path / "v.mp4", 3, codec="mpeg4")
    _spec, result = run_render(tmp_path, _raw(), {"video": mpeg4, "a": media["music_a"]})
    info = probe(result.output_path)
    assert not result.video_copied and info.video.codec == "h264"
    assert info.duration == pytest.approx(3.0, abs=0.05)
