"""The mix is measured: decode the rendered MP4 and check each source's level with an FFT."""

from __future__ import annotations

import pytest
from render.conftest import MUSIC_A_HZ, MUSIC_B_HZ, SFX_HZ, VIDEO_HZ, run_render, source_of
from render.media import band_level, decode, range_level, rms

SPEECH_BAND = (1000.0, 2600.0)  # espeak formants; far from the 300/700 Hz tones

pytestmark = pytest.mark.slow


def _job(media, *, loop=True, timeline=(), video="video", volume=0.5, video_volume=None):
    video_asset = {"id": "v", "source": source_of(video)}
    if video_volume is not None:
        video_asset["volume"] = video_volume
    return {
        "assets": {
            "video": video_asset,
            "audio": [
                {"id": "a", "source": source_of("music_a")},
                {"id": "b", "source": source_of("music_b")},
                {"id": "sfx", "source": source_of("sfx")},
            ],
        },
        "backgroundMusic": {"playlist": ["a", "b"], "loop": loop, "volume": volume, "crossfadeDuration": 2},
        "timeline": list(timeline),
        "output": {"filename": "out.mp4"},
    }


@pytest.fixture(scope="module")
def ducked_render(media, tmp_path_factory):
    """12 s: A 0-6 (fading out 4-6), B 4-10, A again 8-12. SFX at 1.5 ducks A to 0.25; speech at 7 ducks B."""
    timeline = [
        {
            "type": "audio",
            "start": 1.5,
            "data": {"assetId": "sfx", "volume": 1.0, "duckingLevel": 0.25, "duckingFadeDuration": 0.4},
        },
        {"type": "tts", "start": 6.5, "data": {"text": "Hello there", "duckingLevel": 0.5, "duckingFadeDuration": 0.3}},
    ]
    tmp = tmp_path_factory.mktemp("ducked")
    progress: list[int] = []
    spec, result = run_render(tmp, _job(media, timeline=timeline), media, progress.append)
    return spec, result, decode(result.output_path), progress


def test_output_lasts_exactly_as_long_as_the_video(ducked_render):
    _spec, result, samples, progress = ducked_render
    assert result.duration == pytest.approx(12.0, abs=1e-3)
    assert len(samples) / 48_000 == pytest.approx(12.0, abs=0.03)
    assert progress[0] == 0 and progress[-1] == 100 and progress == sorted(progress)


def test_event_is_heard_from_its_start_and_not_before(ducked_render):
    _spec, _result, samples, _ = ducked_render
    before = band_level(samples, 0.5, 1.45, SFX_HZ)
    at_start = band_level(samples, 1.5, 1.6, SFX_HZ)
    assert at_start > 0.05
    assert before < at_start / 100


def test_speech_is_heard_from_its_start_and_not_before(ducked_render):
    spec, result, samples, _ = ducked_render
    before = range_level(samples, 6.0, 6.45, *SPEECH_BAND)
    during = range_level(samples, 6.5, 6.95, *SPEECH_BAND)
    assert during > 20 * before


def test_duck_holds_music_at_the_ducking_level(ducked_render):
    _spec, _result, samples, _ = ducked_render
    open_level = band_level(samples, 0.2, 1.0, MUSIC_A_HZ)
    ducked = band_level(samples, 1.6, 2.4, MUSIC_A_HZ)
    assert ducked / open_level == pytest.approx(0.25, rel=0.10)


def test_duck_ramp_midpoint_sits_between_open_and_ducked(ducked_render):
    _spec, _result, samples, _ = ducked_render
    open_level = band_level(samples, 0.2, 1.0, MUSIC_A_HZ)
    ramp_mid = band_level(samples, 1.28, 1.32, MUSIC_A_HZ, width=60)
    open_short = band_level(samples, 0.28, 0.32, MUSIC_A_HZ, width=60)
    ducked_short = band_level(samples, 1.98, 2.02, MUSIC_A_HZ, width=60)
    assert ducked_short < ramp_mid < open_short
    # Linear in gain: the midpoint is (1 + 0.25) / 2 of the open level.
    assert ramp_mid / open_short == pytest.approx(0.625, rel=0.10)
    assert open_level > 0


def test_speech_ducks_the_second_track(ducked_render):
    _spec, result, samples, _ = ducked_render
    speech = result.plan.events[1]
    assert speech.duration > 0.3
    open_level = band_level(samples, 6.0, 6.15, MUSIC_B_HZ)
    ducked = band_level(samples, 6.55, 6.5 + min(speech.duration, 1.0) - 0.05, MUSIC_B_HZ)
    assert ducked / open_level == pytest.approx(0.5, rel=0.10)


def test_both_tracks_play_half_way_through_the_crossfade(ducked_render):
    _spec, _result, samples, _ = ducked_render
    a_alone = band_level(samples, 3.0, 3.5, MUSIC_A_HZ)
    b_alone = band_level(samples, 6.0, 6.4, MUSIC_B_HZ)
    a_mid = band_level(samples, 4.9, 5.1, MUSIC_A_HZ)
    b_mid = band_level(samples, 4.9, 5.1, MUSIC_B_HZ)
    assert a_mid / a_alone == pytest.approx(0.5, rel=0.15)
    assert b_mid / b_alone == pytest.approx(0.5, rel=0.15)


def test_loop_continues_past_the_end_of_the_playlist(ducked_render):
    _spec, _result, samples, _ = ducked_render
    # The playlist (A, B) ends at 10 s; A comes back at 8 s and is alone from 10 s.
    a_again = band_level(samples, 10.5, 11.5, MUSIC_A_HZ)
    a_first = band_level(samples, 0.2, 1.0, MUSIC_A_HZ)
    assert a_again / a_first == pytest.approx(1.0, rel=0.10)


def test_without_loop_music_stops_after_the_last_item(media, tmp_path):
    _spec, result = run_render(tmp_path, _job(media, loop=False), media)
    samples = decode(result.output_path)
    assert band_level(samples, 7.0, 8.0, MUSIC_B_HZ) > 0.05  # B plays 4-10
    assert rms(samples, 10.2, 12.0) < 1e-3
    assert len(samples) / 48_000 == pytest.approx(12.0, abs=0.03)


def test_music_volume_scales_the_bed(media, tmp_path):
    _spec, loud = run_render(tmp_path / "loud", _job(media, volume=0.8), media)
    _spec, quiet = run_render(tmp_path / "quiet", _job(media, volume=0.2), media)
    ratio = band_level(decode(quiet.output_path), 0.5, 3.0, MUSIC_A_HZ) / band_level(
        decode(loud.output_path), 0.5, 3.0, MUSIC_A_HZ
    )
    assert ratio == pytest.approx(0.25, rel=0.05)


def test_video_audio_is_dropped_by_default_and_mixed_at_its_volume(media, tmp_path):
    _spec, dropped = run_render(tmp_path / "dropped", _job(media, video="video_with_audio"), media)
    _spec, kept = run_render(tmp_path / "kept", _job(media, video="video_with_audio", video_volume=0.5), media)
    # lavfi's sine has amplitude 1/8; at volume 0.5 its band level is about 0.0135.
    assert band_level(decode(dropped.output_path), 1.0, 3.0, VIDEO_HZ) < 1e-4
    assert band_level(decode(kept.output_path), 1.0, 3.0, VIDEO_HZ) > 0.01
    # The source is 44.1 kHz, and the output keeps it.
    assert kept.plan.sample_rate == 44_100


def test_video_without_audio_and_nothing_to_mix_gets_a_silent_track(media, tmp_path):
    raw = {"assets": {"video": {"id": "v", "source": source_of("video")}}, "output": {"filename": "o"}}
    _spec, result = run_render(tmp_path, raw, media)
    samples = decode(result.output_path)
    assert len(samples) / 48_000 == pytest.approx(12.0, abs=0.03)
    assert rms(samples, 0, 12) < 1e-4


def test_event_running_past_the_end_is_cut(media, tmp_path):
    timeline = [{"type": "audio", "start": 11.7, "data": {"assetId": "sfx", "volume": 1.0}}]
    _spec, result = run_render(tmp_path, _job(media, timeline=timeline), media)
    samples = decode(result.output_path)
    assert result.plan.events[0].length == pytest.approx(0.3, abs=1e-6)
    assert band_level(samples, 11.75, 11.95, SFX_HZ) > 0.05
    assert len(samples) / 48_000 == pytest.approx(12.0, abs=0.03)
