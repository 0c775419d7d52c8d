"""The pure plan: playlist layout, the ducking envelope and timeline validation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from autovid.core.config import Limits
from autovid.core.errors import InvalidSpecError
from autovid.render.graph import gain_expression
from autovid.render.plan import Duck, build_plan, ducking_envelope, layout_playlist
from autovid.spec import parse_spec


def _spec(timeline, playlist=("a",), loop=True):
    return parse_spec(
        {
            "assets": {
                "video": {"id": "v", "source": "s3://b/v.mp4"},
                "audio": [{"id": "a", "source": "s3://b/a.mp3"}, {"id": "s", "source": "s3://b/s.wav"}],
            },
            "backgroundMusic": {"playlist": list(playlist), "loop": loop},
            "timeline": timeline,
            "output": {"filename": "o.mp4"},
        },
        Limits(),
    )


def _audio(start, **data):
    return {"type": "audio", "start": start, "data": {"assetId": "s", **data}}


def test_event_starting_after_the_video_names_its_field():
    spec = _spec([_audio(1), _audio(2), _audio(3), _audio(12.5)])
    with pytest.raises(InvalidSpecError) as caught:
        build_plan(
            spec,
            video_duration=10,
            video_sample_rate=None,
            video_has_audio=False,
            asset_durations={"a": 30, "s": 1},
            tts_durations={},
        )
    assert [e.field for e in caught.value.errors] == ["timeline[3].start"]


def test_sample_rate_follows_the_video_audio_else_48k():
    spec = _spec([])
    common = dict(video_duration=5, asset_durations={"a": 30}, tts_durations={})
    assert build_plan(spec, video_sample_rate=44100, video_has_audio=True, **common).sample_rate == 44100
    assert build_plan(spec, video_sample_rate=None, video_has_audio=False, **common).sample_rate == 48000


def test_playlist_crossfades_and_loops_until_the_end():
    items = layout_playlist([("a", 10), ("b", 8)], crossfade=2, loop=True, total=30)
    assert [(p.asset_id, p.offset, p.fade_in, p.fade_out) for p in items] == [
        ("a", 0, 0, 2),
        ("b", 8, 2, 2),
        ("a", 14, 2, 2),
        ("b", 22, 2, 2),
        ("a", 28, 2, 2),
    ]
    assert items[-1].length == 2  # cut at the video's end


def test_playlist_without_loop_stops_after_the_last_item():
    items = layout_playlist([("a", 10), ("b", 8)], crossfade=2, loop=False, total=60)
    assert [(p.asset_id, p.offset, p.fade_out) for p in items] == [("a", 0, 2), ("b", 8, 0)]


def test_crossfade_is_shortened_for_short_tracks():
    items = layout_playlist([("a", 3), ("b", 1)], crossfade=2, loop=False, total=60)
    assert items[0].fade_out == 0.5 and items[1].fade_in == 0.5


def test_duck_shape_is_linear_down_hold_linear_up():
    env = ducking_envelope([Duck(start=4, end=6, fade=1, level=0.2)], 10)
    gain = lambda t: next(s.at(t) for s in env if s.start <= t <= s.end)  # noqa: E731
    assert gain(2.9) == 1 and gain(3.5) == pytest.approx(0.6) and gain(4) == pytest.approx(0.2)
    assert gain(5) == 0.2 and gain(6.5) == pytest.approx(0.6) and gain(7.1) == 1


def test_overlapping_ducks_take_the_lowest_gain():
    env = ducking_envelope([Duck(2, 4, 0.5, 0.2), Duck(3.5, 5, 1.0, 0.5)], 10)
    gain = lambda t: next(s.at(t) for s in env if s.start <= t <= s.end)  # noqa: E731
    assert gain(3.8) == pytest.approx(0.2)
    assert gain(4.1) == pytest.approx(0.36)  # the first duck, ramping up, is still the lower one
    assert gain(4.3) == pytest.approx(0.5)  # now the first is at 0.68 and the second's 0.5 wins


ducks = st.lists(
    st.builds(
        lambda s, length, fade, level: Duck(s, s + length, fade, level),
        st.floats(0, 20),
        st.floats(0, 5),
        st.floats(0, 2),
        st.floats(0, 1),
    ),
    min_size=1,
    max_size=6,
)


@given(ducks, st.lists(st.floats(0, 30), min_size=1, max_size=20))
def test_envelope_equals_the_minimum_of_all_ducks_everywhere(duck_list, times):
    env = ducking_envelope(duck_list, 30)
    assert env[0].start == 0 and env[-1].end == 30
    for t in times:
        expected = min([1.0] + [_reference_gain(d, t) for d in duck_list])
        segment = next(s for s in env if s.start <= t <= s.end)
        # At a jump (fade 0) either side's value is right; elsewhere the envelope is exact.
        if all(abs(t - b) > 1e-6 for d in duck_list for b in (d.start, d.end)):
            assert segment.at(t) == pytest.approx(expected, abs=1e-9)


def _reference_gain(duck: Duck, t: float) -> float:
    if duck.start <= t <= duck.end:
        return duck.level
    if duck.fade > 0 and duck.start - duck.fade <= t < duck.start:
        return 1 - (1 - duck.level) * (t - duck.start + duck.fade) / duck.fade
    if duck.fade > 0 and duck.end < t <= duck.end + duck.fade:
        return duck.level + (1 - duck.level) * (t - duck.end) / duck.fade
    return 1.0


def test_gain_expression_is_a_balanced_tree():
    env = ducking_envelope([Duck(i * 3.0, i * 3.0 + 1, 0.5, 0.3) for i in range(40)], 130)
    expression = gain_expression(env)
    assert expression.count("if(") == len(env) - 1
    depth, deepest = 0, 0
    for ch in expression:
        depth += ch == "("
        depth -= ch == ")"
        deepest = max(deepest, depth)
    assert deepest < 4 * 10  # about log2(segments) nested ifs, not one per segment
