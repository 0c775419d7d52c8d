"""The filter graph's size: inputs and filters depend on the distinct files, not on the video's length."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from autovid.core.config import Limits
from autovid.render import graph
from autovid.render.graph import RenderInputs, build_ffmpeg_job
from autovid.render.plan import build_plan
from autovid.spec import parse_spec


def _job(seconds: float, *, crossfade: float = 1.0, loop: bool = True, sfx_every: float | None = None):
    timeline = [
        {"type": "audio", "start": 2, "data": {"assetId": "whoosh", "duckingLevel": 0.3}},
        {"type": "audio", "start": 5, "data": {"assetId": "ding", "volume": 0.5, "duckingLevel": 0.5}},
    ]
    if sfx_every:
        timeline += [
            {"type": "audio", "start": t * sfx_every, "data": {"assetId": "ding", "duckingLevel": 0.5}}
            for t in range(1, int(seconds // sfx_every))
        ]
    spec = parse_spec(
        {
            "assets": {
                "video": {"id": "v", "source": "s3://b/v.mp4"},
                "audio": [{"id": n, "source": f"s3://b/{n}.wav"} for n in ("a", "b", "whoosh", "ding")],
            },
            "backgroundMusic": {"playlist": ["a", "b"], "loop": loop, "crossfadeDuration": crossfade},
            "timeline": timeline,
            "output": {"filename": "o.mp4"},
        },
        Limits(),
    )
    plan = build_plan(
        spec,
        video_duration=seconds,
        video_sample_rate=48_000,
        video_has_audio=True,
        asset_durations={"a": 7.0, "b": 6.0, "whoosh": 1.2, "ding": 1.5},
        tts_durations={},
    )
    job = build_ffmpeg_job(
        plan,
        RenderInputs(
            video=Path("v.mp4"),
            video_stream_index=0,
            audio_assets={n: Path(f"{n}.wav") for n in ("a", "b", "whoosh", "ding")},
            tts={},
        ),
        spec.output.encoding,
        video_codec="h264",
        video_has_audio=True,
        filter_script_path=Path("graph.txt"),
        output_path=Path("out.mp4"),
    )
    return plan, job


def _inputs(job) -> list[str]:
    return [job.args[i + 1] for i, a in enumerate(job.args) if a == "-i"]


@pytest.mark.parametrize("crossfade", [0.0, 1.0, 3.0])
def test_inputs_and_graph_do_not_grow_with_the_video_or_the_loop_count(crossfade):
    jobs = {seconds: _job(seconds, crossfade=crossfade) for seconds in (60, 600, 3600, 3 * 3600)}
    loops = {seconds: len(plan.music) for seconds, (plan, _job) in jobs.items()}
    assert loops[3 * 3600] > 100 * loops[60] / 2  # the playlist plays over a thousand times in 3 hours
    inputs = {seconds: _inputs(job) for seconds, (_plan, job) in jobs.items()}
    # The video and each distinct file once: a, b, whoosh, ding.
    assert all(sorted(i) == ["a.wav", "b.wav", "ding.wav", "v.mp4", "whoosh.wav"] for i in inputs.values())
    filters = {seconds: job.filter_script.count(";") for seconds, (_plan, job) in jobs.items()}
    assert len(set(filters.values())) == 1, filters
    assert all("aloop" in job.filter_script for _plan, job in jobs.values())


def test_without_loop_the_graph_does_not_loop():
    _plan, job = _job(3600, loop=False)
    assert "aloop" not in job.filter_script
    assert sorted(_inputs(job)) == ["a.wav", "b.wav", "ding.wav", "v.mp4", "whoosh.wav"]


def test_a_file_used_by_many_events_is_one_input_decoded_once():
    plan, job = _job(3600, sfx_every=30)
    assert len(plan.events) > 100
    assert _inputs(job).count("ding.wav") == 1
    assert "[4:a:0]" in job.filter_script and job.filter_script.count("[4:a:0]") == 1


def _event_lanes(job) -> int:
    return len(set(re.findall(r"\[e(\d+)s0\]", job.filter_script)))


def test_events_that_never_overlap_share_one_lane():
    plan, job = _job(3600, sfx_every=30)
    # One stream plays each event in turn, padded with silence up to the next.
    assert _event_lanes(job) == 1
    assert f"concat=n={len(plan.events)}:" in job.filter_script


def test_overlapping_events_take_as_many_lanes_as_overlap_at_once():
    _plan, job = _job(60, sfx_every=0.5)  # 1.5 s sounds every 0.5 s (and one at 2 s and 5 s): four at once
    assert _event_lanes(job) == 4


def test_a_long_cycle_is_rendered_once_to_a_file_and_streamed_in_a_loop(monkeypatch):
    monkeypatch.setattr(graph, "ALOOP_MAX_SAMPLES", 100_000)  # shorter than the 12 s cycle
    jobs = [_job(seconds)[1] for seconds in (600, 3 * 3600)]
    for job in jobs:
        assert job.prepare is not None and job.prepare_script_path is not None
        assert "aloop" not in job.filter_script
        assert job.args[job.args.index("-stream_loop") + 1] == "-1"
        assert job.prepare.args[-1] in job.args  # the raw cycle the prepare step writes
    # Neither run's inputs grow with the video: the cycle's own run reads one pass of the playlist.
    assert _inputs(jobs[0]) == _inputs(jobs[1]) and _inputs(jobs[0].prepare) == _inputs(jobs[1].prepare)
    assert jobs[0].prepare.filter_script == jobs[1].prepare.filter_script
