"""ValidateJob: re-validate the stored spec, probe every asset, check the limits, plan the render.

Everything that can be known before rendering is checked here, so a job that cannot succeed
fails in seconds instead of after a render: assets exist and decode, the video is within the
duration and resolution limits, every event starts before the video ends, the playlist can be
laid out, the s3:// sources are ones the service may read and the destination one it may
write to.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel

from autovid.core.config import Config, Limits, RenderSettings
from autovid.core.errors import ForbiddenSourceError, InvalidAssetError
from autovid.core.s3_uri import split_s3_uri
from autovid.jobs.destinations import check_destination
from autovid.render.budget import check_render_fits, estimate_job
from autovid.render.engine import ProbedAssets, validate_media
from autovid.render.fetch import AssetFetcher
from autovid.render.plan import layout_playlist
from autovid.render.tts import SpeechSynthesizer
from autovid.spec import JobSpec, TtsEvent
from autovid.workflow.runner import stored_spec

# Where s3:// sources may be read from: the managed bucket's prefixes the roles may GetObject.
SOURCE_PREFIXES = ("assets/", "inputs/")
# The plan rides in the execution's state (256 KB at most): a short track looped under hours of
# video has thousands of slots, so only the first ones are listed (``musicSlots`` counts them all).
MAX_LISTED_MUSIC_SLOTS = 100


class AssetSummary(BaseModel):
    duration: float
    codec: str | None = None
    sampleRate: int | None = None


class MusicSlot(BaseModel):
    assetId: str
    offset: float
    length: float
    fadeIn: float
    fadeOut: float


class SpeechEvent(BaseModel):
    index: int
    start: float
    provider: str  # after the deployment's TTS_PROVIDER override
    voiceId: str
    engine: str
    languageCode: str | None = None


class RenderPlanSummary(BaseModel):
    """What the render will do: every asset measured, the playlist laid out, the speech resolved."""

    videoDuration: float
    width: int | None = None
    height: int | None = None
    videoCodec: str | None = None
    videoHasAudio: bool
    audio: dict[str, AssetSummary]
    music: list[MusicSlot]
    musicSlots: int = 0
    speech: list[SpeechEvent]
    audioEvents: int
    # asset id -> "sha256:<hex>" of the bytes probed here, or "etag:<ETag>" of a streamed S3 video;
    # RenderVideo refuses any other bytes.
    assetDigests: dict[str, str] = {}


def validate_job(record: dict[str, Any], config: Config) -> RenderPlanSummary:
    settings = config.settings
    spec = stored_spec(record, config.limits)
    check_destination(spec, settings.bucket_name, settings.extra_output_buckets)
    check_sources(spec, settings.bucket_name)
    with (
        tempfile.TemporaryDirectory(prefix="autovid-validate-") as workdir,
        AssetFetcher(
            Path(workdir),
            settings=config.render,
            max_bytes=config.limits.max_asset_bytes,
            stream_s3=True,
            max_stream_bytes=config.limits.max_video_bytes,
        ) as fetcher,
    ):
        assets = validate_media(spec, fetcher)
        digests = asset_digests(spec, fetcher.digests)
        estimate = estimate_job(spec, assets)  # from the files' sizes, while they are here
    check_media_limits(spec, assets, config.limits)
    check_render_fits(estimate, asset_id=spec.assets.video.id, field="assets.video.source")
    return plan_summary(spec, assets, config.render).model_copy(update={"assetDigests": digests})


def asset_sources(spec: JobSpec) -> dict[str, str]:
    """asset id -> source, for the video and every audio asset."""
    return {spec.assets.video.id: spec.assets.video.source} | {a.id: a.source for a in spec.assets.audio}


def asset_digests(spec: JobSpec, by_source: dict[str, str]) -> dict[str, str]:
    return {asset_id: by_source[source] for asset_id, source in asset_sources(spec).items() if source in by_source}


def expected_digests(spec: JobSpec, plan: RenderPlanSummary) -> dict[str, str]:
    """source -> digest, from a plan's ``assetDigests``, for the fetcher of a later step."""
    sources = asset_sources(spec)
    return {sources[asset_id]: digest for asset_id, digest in plan.assetDigests.items() if asset_id in sources}


def check_sources(spec: JobSpec, managed_bucket: str) -> None:
    """Every ``s3://`` source is under ``assets/`` or ``inputs/`` of the managed bucket, checked
    before any fetch: no request goes to another bucket (on AWS the role would be refused, but
    an emulator or a broader role would serve it)."""
    fields = {spec.assets.video.id: "assets.video.source"} | {
        asset.id: f"assets.audio[{i}].source" for i, asset in enumerate(spec.assets.audio)
    }
    for asset_id, source in asset_sources(spec).items():
        if urlsplit(source).scheme.lower() != "s3":
            continue  # https sources are checked per address by the fetcher's SSRF guard
        bucket, key = split_s3_uri(source)
        if bucket != managed_bucket or not key.startswith(SOURCE_PREFIXES) or ".." in key.split("/"):
            places = " or ".join(f"s3://{managed_bucket}/{prefix}" for prefix in SOURCE_PREFIXES)
            raise ForbiddenSourceError(
                f"{source} is outside {places}, the only places this deployment reads s3:// sources from",
                field=fields[asset_id],
                asset_id=asset_id,
            )


def check_media_limits(spec: JobSpec, assets: ProbedAssets, limits: Limits) -> None:
    video_id = spec.assets.video.id
    if assets.video.duration > limits.max_video_seconds:
        raise InvalidAssetError(
            f"the video is {assets.video.duration:.1f} s long; the limit is {limits.max_video_seconds:g} s",
            asset_id=video_id,
            field="assets.video.source",
        )
    stream = assets.video.video
    if stream and stream.width and stream.height and stream.width * stream.height > limits.max_video_pixels:
        raise InvalidAssetError(
            f"the video is {stream.width}x{stream.height}; the limit is {limits.max_video_pixels} pixels (4K)",
            asset_id=video_id,
            field="assets.video.source",
        )


def plan_summary(spec: JobSpec, assets: ProbedAssets, render_settings: RenderSettings) -> RenderPlanSummary:
    video = assets.video.video
    music = spec.background_music
    slots = (
        layout_playlist(
            [(asset_id, assets.audio[asset_id].duration) for asset_id in music.playlist],
            crossfade=music.crossfade_duration,
            loop=music.loop,
            total=assets.video.duration,
        )
        if music
        else ()
    )
    synthesizer = SpeechSynthesizer(Path(tempfile.gettempdir()), render_settings)
    return RenderPlanSummary(
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
        music=[
            MusicSlot(assetId=s.asset_id, offset=s.offset, length=s.length, fadeIn=s.fade_in, fadeOut=s.fade_out)
            for s in slots[:MAX_LISTED_MUSIC_SLOTS]
        ],
        musicSlots=len(slots),
        speech=[
            SpeechEvent(
                index=i,
                start=event.start,
                provider=synthesizer.provider_name(event.data.provider),
                voiceId=event.data.provider_config.voice_id,
                engine=event.data.provider_config.engine,
                languageCode=event.data.provider_config.language_code,
            )
            for i, event in enumerate(spec.timeline)
            if isinstance(event, TtsEvent)
        ],
        audioEvents=sum(1 for e in spec.timeline if e.type == "audio"),
    )
