from __future__ import annotations

from pathlib import Path

import pytest
from render.media import make_tone, make_video

from autovid.core.config import Limits, RenderSettings
from autovid.render.engine import RenderResult, render
from autovid.spec import JobSpec, parse_spec
from autovid_cli.offline_render import LocalFileFetcher

# Distinct frequencies so every source can be measured separately in the mix.
MUSIC_A_HZ, MUSIC_B_HZ, SFX_HZ, VIDEO_HZ = 300.0, 700.0, 3000.0, 1500.0


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("media")
    return {
        "video": make_video(root / "video.mp4", 12),
        "video_with_audio": make_video(root / "video_audio.mp4", 6, audio_hz=VIDEO_HZ),
        "music_a": make_tone(root / "a.wav", MUSIC_A_HZ, 6),
        "music_b": make_tone(root / "b.mp3", MUSIC_B_HZ, 6),
        "sfx": make_tone(root / "sfx.wav", SFX_HZ, 1.0, amplitude=0.4, channels=1),
    }


def offline_settings(**extra) -> RenderSettings:
    return RenderSettings(TTS_PROVIDER="espeak-ng", **extra)


def source_of(name: str) -> str:
    return f"s3://test-media/{name}"


def run_render(tmp_path: Path, raw: dict, files: dict[str, Path], progress=None) -> tuple[JobSpec, RenderResult]:
    """Render ``raw`` where every source ``s3://test-media/<name>`` is the local file ``files[name]``."""
    spec = parse_spec(raw, Limits())
    local = {source_of(name): path for name, path in files.items()}
    settings = offline_settings()
    with LocalFileFetcher(tmp_path, local, settings=settings, max_bytes=Limits().max_asset_bytes) as fetcher:
        result = render(spec, tmp_path / "out", progress, fetcher=fetcher)
    return spec, result
