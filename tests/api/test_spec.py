"""The job spec model: every field rule and cross-field rule, with the exact error path."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from support import REFERENCE_DIR, minimal_spec

from autovid.core.config import Limits
from autovid.core.errors import InvalidSpecError
from autovid.spec import parse_spec
from autovid_cli.local_sources import resolve_local_sources

SAMPLES = REFERENCE_DIR / "samples"
needs_corpus = pytest.mark.skipif(not SAMPLES.is_dir(), reason="reference corpus (../shared/reference) not present")


def errors_of(raw: dict, limits: Limits | None = None) -> dict[str, str]:
    with pytest.raises(InvalidSpecError) as caught:
        parse_spec(raw, limits or Limits())
    return {e.field: e.message for e in caught.value.errors}


def mutated(path: str, value: object) -> dict:
    """minimal_spec() with the dotted/indexed ``path`` set to ``value`` (``DELETE`` removes it)."""
    spec = minimal_spec()
    parts = path.replace("[", ".").replace("]", "").split(".")
    target = spec
    for part in parts[:-1]:
        target = target[int(part)] if part.isdigit() else target.setdefault(part, {})
    last = parts[-1]
    if value is DELETE:
        del target[int(last) if last.isdigit() else last]
    elif last.isdigit():
        target[int(last)] = value
    else:
        target[last] = value
    return spec


DELETE = object()


@needs_corpus
@pytest.mark.parametrize("path", sorted((SAMPLES / "production").glob("*.spec.json")), ids=lambda p: p.name)
def test_production_samples_validate_as_is(path: Path) -> None:
    spec = parse_spec(json.loads(path.read_text()), Limits())
    assert spec.output.filename.endswith(".mp4")


@needs_corpus
@pytest.mark.parametrize("path", sorted((SAMPLES / "local").glob("*.spec.json")), ids=lambda p: p.name)
def test_local_samples_validate_once_sources_are_rewritten(path: Path) -> None:
    raw = json.loads(path.read_text())
    with pytest.raises(InvalidSpecError) as caught:
        parse_spec(raw, Limits())
    assert any("autovid submit" in e.message for e in caught.value.errors)

    uploaded: list[str] = []

    def upload(local: str) -> str:
        uploaded.append(local)
        return f"s3://stack-bucket/assets/{local.removeprefix('./')}"

    rewritten, destination = resolve_local_sources(raw, upload)
    spec = parse_spec(rewritten, Limits())
    assert destination == "./media/outputs/samples"
    assert spec.assets.video.source.startswith("s3://stack-bucket/assets/media/")
    assert len(uploaded) == 1 + len(raw["assets"]["audio"])
    assert raw["assets"]["video"]["source"].startswith("./"), "the caller's dict is not modified"


def test_defaults_are_filled_in() -> None:
    spec = parse_spec(minimal_spec(), Limits())
    assert spec.assets.video.volume == 0.0
    assert spec.background_music is not None
    assert (spec.background_music.loop, spec.background_music.volume, spec.background_music.crossfade_duration) == (
        True,
        0.3,
        2.0,
    )
    tts, audio = spec.timeline
    assert tts.data.provider == "aws-polly"
    assert tts.data.provider_config.voice_id == "Joanna"
    assert tts.data.provider_config.text_type == "text"
    assert audio.data.volume == 0.5
    assert audio.data.ducking_fade_duration == 0.5


@pytest.mark.parametrize(
    ("given", "stored"), [("video", "video.mp4"), ("clip.MP4", "clip.MP4"), ("a.mov", "a.mov.mp4")]
)
def test_mp4_is_appended_to_the_filename(given: str, stored: str) -> None:
    assert parse_spec(mutated("output.filename", given), Limits()).output.filename == stored


@pytest.mark.parametrize(
    ("path", "value", "field", "reason"),
    [
        ("jobInfo.projectId", "p" * 101, "jobInfo.projectId", "at most 100 characters"),
        ("jobInfo.title", "t" * 201, "jobInfo.title", "at most 200 characters"),
        ("jobInfo.tags", [f"t{i}" for i in range(11)], "jobInfo.tags", "at most 10 items"),
        ("jobInfo.tags", ["x" * 51], "jobInfo.tags[0]", "at most 50 characters"),
        ("assets.video.id", "", "assets.video.id", "1-64 characters"),
        ("assets.video.source", DELETE, "assets.video.source", "is required"),
        ("assets.video.source", "http://example.com/v.mp4", "assets.video.source", "autovid submit"),
        ("assets.video.source", "/tmp/v.mp4", "assets.video.source", "autovid submit"),
        ("assets.video.source", "file:///etc/passwd", "assets.video.source", "s3:// and https:// only"),
        ("assets.video.source", "s3://bucket-only", "assets.video.source", "s3://bucket/key"),
        ("assets.video.volume", 1.5, "assets.video.volume", "less than or equal to 1"),
        ("assets.video.volume", -0.1, "assets.video.volume", "greater than or equal to 0"),
        ("assets.audio[1].source", "ftp://x/y", "assets.audio[1].source", "s3:// and https:// only"),
        ("backgroundMusic.playlist", [], "backgroundMusic.playlist", "at least 1 item"),
        ("backgroundMusic.loop", "sometimes", "backgroundMusic.loop", "valid boolean"),
        ("backgroundMusic.volume", 2, "backgroundMusic.volume", "less than or equal to 1"),
        ("backgroundMusic.crossfadeDuration", -1, "backgroundMusic.crossfadeDuration", "greater than or equal to 0"),
        ("timeline[0].type", "video", "timeline[0]", "unknown event type 'video'"),
        ("timeline[0].type", DELETE, "timeline[0]", "is missing 'type'"),
        ("timeline[0].start", -1, "timeline[0].start", "greater than or equal to 0"),
        ("timeline[0].data.text", "   ", "timeline[0].data.text", "must not be blank"),
        ("timeline[0].data.provider", "azure", "timeline[0].data.provider", "'aws-polly' or 'espeak-ng'"),
        ("timeline[0].data.providerConfig", {"engine": "turbo"}, "timeline[0].data.providerConfig.engine", "generative"),
        ("timeline[0].data.providerConfig", {"textType": "xml"}, "timeline[0].data.providerConfig.textType", "'ssml'"),
        ("timeline[0].data.providerConfig", {"languageCode": "french"}, "timeline[0].data.providerConfig.languageCode", "match pattern"),
        ("timeline[0].data.duckingLevel", 3, "timeline[0].data.duckingLevel", "less than or equal to 1"),
        ("timeline[0].data.duckingFadeDuration", -2, "timeline[0].data.duckingFadeDuration", "greater than or equal to 0"),
        ("timeline[1].data.assetId", DELETE, "timeline[1].data.assetId", "is required"),
        ("timeline[1].data.volume", -0.5, "timeline[1].data.volume", "greater than or equal to 0"),
        ("timeline[1].data.text", "not for audio", "timeline[1].data.text", "unknown field"),
        ("output.filename", DELETE, "output.filename", "is required"),
        ("output.filename", "../../x.mp4", "output.filename", "path separators"),
        ("output.filename", "a..b.mp4", "output.filename", "'..'"),
        ("output.filename", "bad\nname.mp4", "output.filename", "control characters"),
        ("output.destination", "./media/outputs", "output.destination", "s3:// prefix"),
        ("output.destination", "s3://bucket/../x/", "output.destination", "'..'"),
        ("output.encoding.preset", "warp", "output.encoding.preset", "'medium'"),
        ("output.encoding.bitrate", "fast", "output.encoding.bitrate", "match pattern"),
        ("output.encoding.fps", 0, "output.encoding.fps", "greater than 0"),
        ("notifications", {"webhook": {"url": "ftp://x"}}, "notifications.webhook.url", "https://"),
        ("notifications", {"webhook": {"url": "http://x.example"}}, "notifications.webhook.url", "ALLOW_HTTP_WEBHOOKS"),
        ("notifications", {"webhook": {"url": "https://x.example", "method": "GET"}}, "notifications.webhook.method", "'POST' or 'PUT'"),
        ("notifications", {"webhook": {"url": "https://x.example", "headers": {"X-Big": "v" * 1100}}}, "notifications.webhook.headers", "at most 1 KB"),
        ("notifications", {"webhook": {"url": "https://x.example", "metadata": {"m": "v" * 1100}}}, "notifications.webhook.metadata", "at most 1 KB"),
        ("notifications", {"webhook": {"url": "https://x.example", "metadata": {"m": {"nested": 1}}}}, "notifications.webhook.metadata", "'m' must be a string, number or boolean"),
        ("surprise", 1, "surprise", "unknown field"),
    ],
)  # fmt: skip
def test_field_rule(path: str, value: object, field: str, reason: str) -> None:
    errors = errors_of(mutated(path, value))
    assert field in errors, errors
    assert reason in errors[field]


def test_schema_key_is_the_one_allowed_extra_top_level_key() -> None:
    spec = minimal_spec()
    spec["$schema"] = "https://example.com/auto-vid.schema.json"
    parse_spec(spec, Limits())


def test_duplicate_asset_ids_are_refused() -> None:
    spec = minimal_spec()
    spec["assets"]["audio"].append({"id": "main", "source": "s3://b/k.mp3"})
    spec["assets"]["audio"].append({"id": "music", "source": "s3://b/k2.mp3"})
    errors = errors_of(spec)
    assert errors["assets.audio[2].id"] == "duplicate asset id 'main' (also assets.video.id)"
    assert errors["assets.audio[3].id"] == "duplicate asset id 'music' (also assets.audio[0].id)"


def test_references_must_name_audio_assets() -> None:
    spec = minimal_spec()
    spec["backgroundMusic"]["playlist"] = ["music", "main", "ghost"]
    spec["timeline"].append({"type": "audio", "start": 3, "data": {"assetId": "sfx_x"}})
    errors = errors_of(spec)
    assert errors["backgroundMusic.playlist[1]"] == "unknown audio asset 'main'"
    assert errors["backgroundMusic.playlist[2]"] == "unknown audio asset 'ghost'"
    assert errors["timeline[2].data.assetId"] == "unknown audio asset 'sfx_x'"


def test_every_error_is_reported_at_once() -> None:
    spec = minimal_spec()
    spec["assets"]["video"]["source"] = "./local.mp4"
    spec["timeline"][0]["start"] = -3
    spec["timeline"][1]["data"]["assetId"] = "nope"
    spec["output"]["filename"] = "a/b.mp4"
    spec["bogus"] = True
    assert set(errors_of(spec)) == {
        "assets.video.source",
        "timeline[0].start",
        "timeline[1].data.assetId",
        "output.filename",
        "bogus",
    }


def test_the_message_joins_path_and_reason() -> None:
    spec = minimal_spec()
    spec["timeline"].extend([{"type": "audio", "start": 1, "data": {"assetId": "music"}}] * 2)
    spec["timeline"][3]["data"] = {"assetId": "sfx_x"}
    with pytest.raises(InvalidSpecError) as caught:
        parse_spec(spec, Limits())
    assert "timeline[3].data.assetId: unknown audio asset 'sfx_x'" in str(caught.value)


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_numbers_are_refused(value: float) -> None:
    errors = errors_of(mutated("timeline[1].data.volume", value))
    assert "timeline[1].data.volume" in errors


def test_limits_name_the_field_and_the_limit() -> None:
    limits = Limits(MAX_TIMELINE_EVENTS=3, MAX_TTS_CHARS=10, MAX_PLAYLIST_ITEMS=1)
    spec = minimal_spec()
    spec["backgroundMusic"]["playlist"] = ["music", "music"]
    spec["timeline"][0]["data"]["text"] = "x" * 11
    errors = errors_of(spec, limits)
    assert errors["timeline[0].data.text"] == "has 11 characters; the limit is 10"
    assert errors["backgroundMusic.playlist"] == "has 2 items; the limit is 1"

    many = copy.deepcopy(minimal_spec())
    many["timeline"] = [{"type": "audio", "start": 0, "data": {"assetId": "sfx"}}] * 10_000
    assert errors_of(many) == {"timeline": "has 10000 events; the limit is 500"}


def test_default_limits_match_the_documented_ones() -> None:
    limits = Limits()
    assert limits.max_request_body_bytes == 256 * 1024
    assert limits.max_timeline_events == 500
    assert limits.max_tts_chars == 3000
    assert limits.max_playlist_items == 50


def test_metadata_is_extracted() -> None:
    spec = minimal_spec()
    spec["jobInfo"] = {"projectId": "p1", "title": "T", "tags": ["a", "b"]}
    assert parse_spec(spec, Limits()).metadata() == {
        "projectId": "p1",
        "title": "T",
        "tags": ["a", "b"],
        "outputFilename": "out.mp4",
    }


def test_non_object_spec_is_refused() -> None:
    with pytest.raises(InvalidSpecError) as caught:
        parse_spec(["not", "an", "object"], Limits())
    assert caught.value.errors[0].message == "the job spec must be a JSON object"
