"""The validate step's own checks: destination, media limits, and the plan it returns."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from support import minimal_spec

from autovid.core.config import Config, Limits, RenderSettings, Settings
from autovid.core.errors import ForbiddenDestinationError, InvalidAssetError
from autovid.render.budget import estimate_render
from autovid.render.engine import ProbedAssets
from autovid.render.probe import MediaInfo, StreamInfo
from autovid.spec import parse_spec
from autovid.workflow import validate_job as validate_job_module
from autovid.workflow.validate_job import MAX_LISTED_MUSIC_SLOTS, check_destination, check_media_limits, plan_summary

BUCKET = "auto-vid-s3-bucket-auto-vid-123456789012"


def probed(duration: float = 10.0, width: int = 1280, height: int = 720) -> ProbedAssets:
    video = MediaInfo(
        path=Path("v.mp4"),
        duration=duration,
        streams=(
            StreamInfo(index=0, kind="video", codec="h264", width=width, height=height, fps=30.0),
            StreamInfo(index=1, kind="audio", codec="aac", sample_rate=48000, channels="stereo"),
        ),
    )
    music = MediaInfo(
        path=Path("m.mp3"), duration=4.0, streams=(StreamInfo(index=0, kind="audio", codec="mp3", sample_rate=44100),)
    )
    sfx = MediaInfo(
        path=Path("s.mp3"), duration=0.5, streams=(StreamInfo(index=0, kind="audio", codec="mp3", sample_rate=44100),)
    )
    return ProbedAssets(video=video, audio={"music": music, "sfx": sfx})


@pytest.mark.parametrize(
    "destination",
    [None, f"s3://{BUCKET}/outputs/", f"s3://{BUCKET}/outputs/campaign-7/", f"s3://{BUCKET}/outputs"],
)
def test_destinations_under_outputs_are_allowed(destination: str | None) -> None:
    raw = minimal_spec()
    if destination:
        raw["output"]["destination"] = destination
    check_destination(parse_spec(raw, Limits()), BUCKET)


@pytest.mark.parametrize(
    "destination",
    ["s3://other-bucket/outputs/", f"s3://{BUCKET}/assets/", f"s3://{BUCKET}/outputsX/", f"s3://{BUCKET}/"],
)
def test_destinations_elsewhere_are_refused_before_rendering(destination: str) -> None:
    raw = minimal_spec()
    raw["output"]["destination"] = destination
    with pytest.raises(ForbiddenDestinationError) as caught:
        check_destination(parse_spec(raw, Limits()), BUCKET)
    assert caught.value.field == "output.destination"
    assert f"s3://{BUCKET}/outputs/" in caught.value.message


def test_video_limits_name_the_asset_and_the_limit() -> None:
    spec = parse_spec(minimal_spec(), Limits())
    limits = Limits(MAX_VIDEO_SECONDS=60, MAX_VIDEO_PIXELS=1920 * 1080)
    check_media_limits(spec, probed(duration=59.0), limits)
    with pytest.raises(InvalidAssetError, match="61.0 s long; the limit is 60 s") as caught:
        check_media_limits(spec, probed(duration=61.0), limits)
    assert (caught.value.asset_id, caught.value.field) == ("main", "assets.video.source")
    with pytest.raises(InvalidAssetError, match="3840x2160"):
        check_media_limits(spec, probed(width=3840, height=2160), limits)


def test_the_plan_lays_out_the_playlist_and_resolves_speech(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TTS_PROVIDER", "espeak-ng")
    raw = minimal_spec()
    raw["backgroundMusic"]["crossfadeDuration"] = 1.0
    plan = plan_summary(parse_spec(raw, Limits()), probed(duration=10.0), RenderSettings())
    assert [slot.assetId for slot in plan.music] == ["music"] * 4, "a 4 s track loops over 10 s"
    assert plan.music[1].offset == pytest.approx(3.0) and plan.music[1].fadeIn == pytest.approx(1.0)
    assert [(s.index, s.provider, s.voiceId) for s in plan.speech] == [(0, "espeak-ng", "Joanna")]
    assert plan.audioEvents == 1 and plan.videoDuration == 10.0


def test_a_long_looped_playlist_lists_only_the_first_slots(monkeypatch: pytest.MonkeyPatch) -> None:
    """The plan rides in the execution's state, so three hours of a 4 s loop must not list every slot."""
    monkeypatch.setenv("TTS_PROVIDER", "espeak-ng")
    raw = minimal_spec()
    raw["backgroundMusic"]["crossfadeDuration"] = 1.0
    plan = plan_summary(parse_spec(raw, Limits()), probed(duration=3 * 3600.0), RenderSettings())
    assert plan.musicSlots == 3600  # 3 s apart over 3 hours
    assert len(plan.music) == MAX_LISTED_MUSIC_SLOTS
    assert len(plan.model_dump_json()) < 32_000


def test_a_job_that_cannot_fit_the_render_step_is_refused_before_rendering(monkeypatch: pytest.MonkeyPatch) -> None:
    """ValidateJob estimates /tmp from the fetched sizes and refuses, naming the limit."""
    raw = minimal_spec()
    raw["assets"]["video"]["source"] = f"s3://{BUCKET}/inputs/video.mp4"
    raw["assets"]["audio"] = [{**a, "source": f"s3://{BUCKET}/assets/{a['id']}"} for a in raw["assets"]["audio"]]
    monkeypatch.setattr(validate_job_module, "validate_media", lambda spec, fetcher: probed(duration=7200.0))
    monkeypatch.setattr(
        validate_job_module,
        "estimate_job",
        lambda spec, assets: estimate_render(
            duration=7200.0,
            video_bytes=7_200_000_000,
            other_bytes=0,
            encoding=spec.output.encoding,
            video_codec="h264",
            width=1280,
            height=720,
            fps=30.0,
        ),
    )
    config = dataclasses.replace(Config.from_env(), settings=Settings(S3_BUCKET_NAME=BUCKET))
    with pytest.raises(InvalidAssetError, match="of /tmp") as caught:
        validate_job_module.validate_job({"spec": raw}, config)
    assert caught.value.field == "assets.video.source"
