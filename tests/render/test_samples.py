"""Every local sample spec of the earlier version renders with its real inputs and sound effects.

The reference tree is read-only and lacks the music tracks and two of the videos; generated
substitutes (tagged MP3s, H.264 videos of plausible length) are put in a temporary copy.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from render.media import decode, ffmpeg, make_video, rms

from autovid.render.probe import probe
from autovid_cli.offline_render import render_command

REPO_ROOT = Path(__file__).resolve().parents[2]
CORPUS = REPO_ROOT.parent / "shared" / "reference" / "auto-vid"
SPECS = sorted((CORPUS / "samples" / "local").glob("*.spec.json")) if CORPUS.is_dir() else []

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not SPECS, reason=f"reference corpus not found at {CORPUS}"),
]

MISSING_VIDEOS = {"short_video.mp4": 15, "data_video.mp4": 60}


def _tagged_mp3(path: Path, seconds: float, hz: float) -> None:
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        f"sine=f={hz}:d={seconds}:sample_rate=44100",
        "-ac",
        "2",
        "-b:a",
        "128k",
        "-metadata",
        f"title={path.stem}",
        "-metadata",
        "artist=generated",
        "-id3v2_version",
        "3",
        str(path),
    )


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("corpus")
    shutil.copytree(CORPUS / "media", root / "media")
    music = root / "media" / "assets" / "music"
    music.mkdir(exist_ok=True)
    for spec_path in SPECS:
        for asset in json.loads(spec_path.read_text())["assets"].get("audio", []):
            target = root / asset["source"]
            if not target.exists():
                assert target.parent == music, f"only music is expected to be missing, not {target}"
                _tagged_mp3(target, 40, 220 + 110 * len(list(music.iterdir())))
    for name, seconds in MISSING_VIDEOS.items():
        target = root / "media" / "inputs" / name
        if not target.exists():
            make_video(target, seconds, size="320x180", fps=30)
    for spec_path in SPECS:
        shutil.copy(spec_path, root / spec_path.name)  # sources are ./media/..., relative to the tree root
    return root


@pytest.mark.parametrize("spec_path", SPECS, ids=[p.name for p in SPECS])
def test_sample_spec_renders_with_the_video_length(tree, spec_path, tmp_path):
    raw = json.loads(spec_path.read_text())
    out = tmp_path / "out.mp4"
    assert render_command(str(tree / spec_path.name), str(out), progress=False, tts_provider="espeak-ng") == 0

    video = probe(tree / raw["assets"]["video"]["source"])
    fps = (raw["output"].get("encoding") or {}).get("fps") or video.video.fps
    rendered = probe(out)
    assert abs(rendered.duration - video.duration) <= 1 / fps
    samples = decode(out)
    assert abs(len(samples) / 48_000 - video.duration) <= 1 / fps
    first = raw["timeline"][0]["start"]
    assert rms(samples, first, first + 0.5) > 1e-3  # the first event is audible
