"""ValidateJob: re-validate the stored spec and probe every asset."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from autovid.render.engine import validate_media
from autovid.render.fetch import AssetFetcher
from autovid.workflow.runner import stored_spec


class AssetSummary(BaseModel):
    duration: float
    codec: str | None = None
    sampleRate: int | None = None


class ValidationResult(BaseModel):
    """The render plan's inputs: what every asset is, and how the timeline lays out."""

    videoDuration: float
    width: int | None = None
    height: int | None = None
    videoCodec: str | None = None
    videoHasAudio: bool
    audio: dict[str, AssetSummary]
    playlist: list[str]
    ttsEvents: int
    audioEvents: int


def validate_job(record: dict[str, Any]) -> ValidationResult:
    spec = stored_spec(record)
    with tempfile.TemporaryDirectory(prefix="autovid-validate-") as workdir, AssetFetcher(Path(workdir)) as fetcher:
        assets = validate_media(spec, fetcher)
    video = assets.video.video
    return ValidationResult(
        videoDuration=assets.video.duration,
        width=video.width if video else None,
        height=video.height if video else None,
        videoCodec=video.codec if video else None,
        videoHasAudio=assets.video.has_audio,
        audio={
            asset_id: AssetSummary(
                duration=info.duration,
                codec=info.audio.codec if info.audio else None,
                sampleRate=info.audio.sample_rate if info.audio else None,
            )
            for asset_id, info in assets.audio.items()
        },
        playlist=list(spec.background_music.playlist) if spec.background_music else [],
        ttsEvents=sum(1 for e in spec.timeline if e.type == "tts"),
        audioEvents=sum(1 for e in spec.timeline if e.type == "audio"),
    )
