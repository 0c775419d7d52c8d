"""The fast path against the independent moviepy reference, on the same job and the same speech."""

from __future__ import annotations

import numpy as np
import pytest
from render.conftest import offline_settings, run_render, source_of
from render.media import decode, rms_per_block_db
from render.oracle import oracle_render

from autovid.render.tts import SpeechSynthesizer
from autovid.spec import TtsEvent

pytestmark = pytest.mark.slow


def test_per_100ms_rms_matches_the_moviepy_reference_within_1_db(media, tmp_path):
    raw = {
        "assets": {
            "video": {"id": "v", "source": source_of("video_with_audio"), "volume": 0.3},
            "audio": [
                {"id": "a", "source": source_of("music_a")},
                {"id": "b", "source": source_of("music_b")},
                {"id": "sfx", "source": source_of("sfx")},
            ],
        },
        "backgroundMusic": {"playlist": ["b", "a"], "loop": True, "volume": 0.6, "crossfadeDuration": 1.5},
        "timeline": [
            {
                "type": "audio",
                "start": 0.8,
                "data": {"assetId": "sfx", "volume": 0.7, "duckingLevel": 0.3, "duckingFadeDuration": 0.4},
            },
            {
                "type": "tts",
                "start": 1.5,
                "data": {"text": "Checking the mix", "duckingLevel": 0.1, "duckingFadeDuration": 0.6},
            },  # overlaps the first duck
            {"type": "audio", "start": 5.5, "data": {"assetId": "sfx", "volume": 0.5}},  # cut at the end
        ],
        "output": {"filename": "o.mp4"},
    }
    spec, result = run_render(tmp_path, raw, media)

    synthesizer = SpeechSynthesizer(tmp_path / "tts", offline_settings())
    speech = {i: synthesizer.synthesize(e.data).path for i, e in enumerate(spec.timeline) if isinstance(e, TtsEvent)}
    sources = {"v": media["video_with_audio"], "a": media["music_a"], "b": media["music_b"], "sfx": media["sfx"]}
    reference = oracle_render(
        spec, sources, speech, tmp_path / "oracle.wav", sample_rate=result.plan.sample_rate, audio_only=True
    )

    ours = rms_per_block_db(decode(result.output_path, rate=result.plan.sample_rate), rate=result.plan.sample_rate)
    theirs = rms_per_block_db(decode(reference, rate=result.plan.sample_rate), rate=result.plan.sample_rate)
    count = min(len(ours), len(theirs))
    assert count >= 59  # 6 s of 100 ms blocks
    difference = np.abs(ours[:count] - theirs[:count])
    assert np.percentile(difference, 99) <= 1.0, difference.round(2).tolist()
