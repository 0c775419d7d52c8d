"""``autovid render``: the video's length measured while the engine is imported is the one the
render would measure itself, and the command renders the same with or without it."""

from __future__ import annotations

import json
from pathlib import Path

from render.media import make_tone, make_video

from autovid.render.probe import probe
from autovid_cli.main import main
from autovid_cli.offline_render import render_command
from autovid_cli.render_start import start_video_measure


def _spec(tmp_path: Path, video: str = "clip.mp4") -> Path:
    make_video(tmp_path / "clip.mp4", 2.0, size="160x120", fps=25)
    make_tone(tmp_path / "beep.wav", 1000.0, 0.3)
    spec = {
        "assets": {"video": {"id": "clip", "source": video}, "audio": [{"id": "beep", "source": "beep.wav"}]},
        "timeline": [{"type": "audio", "start": 0.5, "data": {"assetId": "beep"}}],
        "output": {"filename": "out.mp4"},
    }
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec))
    return path


def test_the_early_measure_is_the_probed_length(tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    measure = start_video_measure(str(spec))
    assert measure is not None
    try:
        assert measure.duration() == probe(tmp_path / "clip.mp4", expect_video=True).duration
    finally:
        measure.close()


def test_a_video_that_is_not_a_local_file_is_not_measured_early(tmp_path: Path) -> None:
    assert start_video_measure(str(_spec(tmp_path, "missing.mp4"))) is None
    assert start_video_measure(str(_spec(tmp_path, "s3://bucket/inputs/clip.mp4"))) is None
    assert start_video_measure(str(tmp_path / "no-spec.json")) is None


def test_the_command_renders_as_the_engine_alone_does(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    spec = _spec(tmp_path)
    assert main(["render", str(spec), "-o", str(tmp_path / "a.mp4"), "--json"]) == 0
    through_the_command = json.loads(capsys.readouterr().out)
    assert render_command(str(spec), str(tmp_path / "b.mp4"), progress=False, as_json=True) == 0
    engine_alone = json.loads(capsys.readouterr().out)
    assert through_the_command["duration"] == engine_alone["duration"] == probe(tmp_path / "a.mp4").duration
