"""A playlist looped many times under a longer video: the mix far into the video is the mix at its start."""

from __future__ import annotations

import numpy as np
import pytest
from render.conftest import MUSIC_A_HZ, MUSIC_B_HZ, SFX_HZ, run_render, source_of
from render.media import band_level, decode, make_video

from autovid.render import graph

pytestmark = pytest.mark.slow

SECONDS = 90.0


@pytest.fixture(scope="module")
def long_video(tmp_path_factory):
    return make_video(tmp_path_factory.mktemp("long_video") / "long.mp4", SECONDS)


@pytest.fixture(scope="module", params=["aloop", "cycle file"])
def long_render(request, media, long_video, tmp_path_factory):
    """A (6 s) and B (6 s) with 2 s crossfades loop every 8 s; an SFX ducks B in the eleventh pass.

    The 8 s cycle is replayed by aloop, or (as a long cycle would be) rendered to a file first.
    """
    tmp = tmp_path_factory.mktemp("long")
    files = {**media, "long_video": long_video}
    raw = {
        "assets": {
            "video": {"id": "v", "source": source_of("long_video")},
            "audio": [
                {"id": "a", "source": source_of("music_a")},
                {"id": "b", "source": source_of("music_b")},
                {"id": "sfx", "source": source_of("sfx")},
            ],
        },
        "backgroundMusic": {"playlist": ["a", "b"], "loop": True, "volume": 0.5, "crossfadeDuration": 2},
        "timeline": [
            {
                "type": "audio",
                "start": 87.0,
                "data": {"assetId": "sfx", "volume": 1.0, "duckingLevel": 0.25, "duckingFadeDuration": 0.2},
            }
        ],
        "output": {"filename": "long.mp4"},
    }
    limit = graph.ALOOP_MAX_SAMPLES
    graph.ALOOP_MAX_SAMPLES = limit if request.param == "aloop" else 1000
    try:
        _spec, result = run_render(tmp, raw, files)
    finally:
        graph.ALOOP_MAX_SAMPLES = limit
    return result, decode(result.output_path)


def test_output_lasts_as_long_as_the_video(long_render):
    result, samples = long_render
    assert len(result.plan.music) > 20  # the playlist plays more than ten times
    assert len(samples) / 48_000 == pytest.approx(SECONDS, abs=0.05)


def test_every_pass_plays_each_track_alone_at_the_same_level(long_render):
    result, samples = long_render
    a_first = band_level(samples, 0.5, 3.5, MUSIC_A_HZ)
    b_first = None
    for p in result.plan.music:
        alone = (p.offset + p.fade_in + 0.1, p.offset + p.duration - p.fade_out - 0.1)
        if alone[1] > SECONDS - 4 or alone[1] - alone[0] < 0.5:
            continue
        hz, other = (MUSIC_A_HZ, MUSIC_B_HZ) if p.asset_id == "a" else (MUSIC_B_HZ, MUSIC_A_HZ)
        level = band_level(samples, *alone, hz)
        b_first = b_first or (level if p.asset_id == "b" else None)
        assert level == pytest.approx(a_first if p.asset_id == "a" else b_first, rel=0.05), p
        assert band_level(samples, *alone, other) < level / 50, p


def test_crossfades_far_into_the_video_are_half_way_at_their_midpoint(long_render):
    result, samples = long_render
    a_alone, b_alone = band_level(samples, 0.5, 3.5, MUSIC_A_HZ), band_level(samples, 6.2, 7.8, MUSIC_B_HZ)
    late = [p for p in result.plan.music if 60 < p.offset < SECONDS - 4]
    assert len(late) >= 4
    for p in late:
        middle = p.offset + p.fade_in / 2
        a_mid = band_level(samples, middle - 0.1, middle + 0.1, MUSIC_A_HZ)
        b_mid = band_level(samples, middle - 0.1, middle + 0.1, MUSIC_B_HZ)
        assert a_mid / a_alone == pytest.approx(0.5, rel=0.15), p
        assert b_mid / b_alone == pytest.approx(0.5, rel=0.15), p


def test_a_late_event_is_heard_from_its_start_and_ducks_the_music(long_render):
    result, samples = long_render
    b = next(p for p in result.plan.music if p.asset_id == "b" and p.offset < 87 < p.offset + p.duration - p.fade_out)
    assert b.offset + b.fade_in < 86.4
    open_level = band_level(samples, 86.0, 86.75, MUSIC_B_HZ)
    ducked = band_level(samples, 87.05, 87.9, MUSIC_B_HZ)
    assert ducked / open_level == pytest.approx(0.25, rel=0.10)
    assert band_level(samples, 87.0, 87.1, SFX_HZ) > 0.05
    assert band_level(samples, 86.3, 86.95, SFX_HZ) < band_level(samples, 87.0, 87.1, SFX_HZ) / 100


def test_a_cycle_rendered_to_a_file_mixes_the_same_as_aloop(media, long_video, tmp_path, monkeypatch):
    raw = {
        "assets": {
            "video": {"id": "v", "source": source_of("long_video")},
            "audio": [{"id": "a", "source": source_of("music_a")}, {"id": "b", "source": source_of("music_b")}],
        },
        "backgroundMusic": {"playlist": ["b", "a"], "loop": True, "crossfadeDuration": 1.5},
        "output": {"filename": "o.mp4"},
    }
    files = {**media, "long_video": long_video}
    _spec, looped = run_render(tmp_path / "aloop", raw, files)
    monkeypatch.setattr(graph, "ALOOP_MAX_SAMPLES", 1000)
    _spec, streamed = run_render(tmp_path / "file", raw, files)
    a, b = decode(looped.output_path), decode(streamed.output_path)
    assert len(a) == len(b)
    assert np.max(np.abs(a - b)) < 1e-4
