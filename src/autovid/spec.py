"""The job spec: pydantic models, cross-field rules and the submit-time limits.

``parse_spec(raw)`` returns a :class:`JobSpec` or raises :class:`InvalidSpecError` listing
every problem at once, each with its field path (``timeline[3].data.assetId``).
"""

from __future__ import annotations

import decimal
import math
import re
from collections.abc import Callable
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
)

from autovid.config import Limits, RenderSettings
from autovid.errors import FieldError, InvalidSpecError
from autovid.render.netguard import forbidden_reason, literal_address

LOCAL_SOURCE_HINT = "`autovid submit SPEC.json` uploads local files and rewrites them to s3:// URIs"

_X264_PRESETS = (
    "ultrafast",
    "superfast",
    "veryfast",
    "faster",
    "fast",
    "medium",
    "slow",
    "slower",
    "veryslow",
)
_BITRATE = re.compile(r"^[1-9][0-9]{0,5}(\.[0-9]+)?[kKmM]?$")
_ASSET_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/some/key#1.mp4`` -> ("bucket", "some/key#1.mp4"): the key is taken literally,
    as the AWS CLI does (no URL decoding; ``#`` and ``?`` are part of it)."""
    bucket, _, key = uri[len("s3://") :].partition("/")
    return bucket, key


def _check_source(value: str) -> str:
    scheme = urlsplit(value).scheme.lower()
    if scheme == "s3":
        bucket, key = split_s3_uri(value)
        if not bucket or not key.strip("/"):
            raise ValueError("s3 source must look like s3://bucket/key")
        return value
    if scheme == "https":
        host = urlsplit(value).hostname
        if not host:
            raise ValueError("https source has no host")
        _check_public_host(host)
        return value
    raise ValueError(f"unsupported source {value!r}: the API accepts s3:// and https:// only; {LOCAL_SOURCE_HINT}")


def _check_public_host(host: str, what: str = "https source") -> None:
    """Refuse, at submit, the hosts known without DNS not to be public: IP literals that are
    loopback, private, link-local (the instance metadata service)... and ``localhost`` names.
    Names are resolved and checked again, per address, when the asset is fetched (netguard)."""
    name = host.rstrip(".")
    address = literal_address(host)
    if name == "localhost" or name.endswith(".localhost"):
        reason, loopback = "loopback", True
    elif address is not None:
        reason = forbidden_reason(address)
        loopback = reason is not None and forbidden_reason(address, allow_loopback=True) is None
    else:
        return
    if reason is None or (loopback and RenderSettings.from_env().allow_loopback_fetch):  # local mode, tests
        return
    # IPv6 as written in URLs; a legacy IPv4 spelling (2130706433) with the address it means
    shown = f"[{host}]" if ":" in host else host if address in (None, name) else f"{host} ({address})"
    raise ValueError(f"{what} host {shown} is {reason}; it must be on the public internet")


def _check_asset_id(value: str) -> str:
    if not _ASSET_ID.match(value):
        raise ValueError("must be 1-64 characters of letters, digits, '_', '.' or '-', starting with a letter or digit")
    return value


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


Source = Annotated[str, StringConstraints(min_length=1, max_length=2048), AfterValidator(_check_source)]
AssetId = Annotated[str, AfterValidator(_check_asset_id)]
Volume = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
Seconds = Annotated[float, Field(ge=0, allow_inf_nan=False), AfterValidator(_finite)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, str_strip_whitespace=False)


class JobInfo(_Model):
    project_id: Annotated[str, StringConstraints(min_length=1, max_length=100)] | None = Field(
        default=None, alias="projectId"
    )
    title: Annotated[str, StringConstraints(max_length=200)] | None = None
    tags: list[Annotated[str, StringConstraints(min_length=1, max_length=50)]] = Field(
        default_factory=list, max_length=10
    )


class VideoAsset(_Model):
    id: AssetId
    source: Source
    volume: Volume = 0.0


class AudioAsset(_Model):
    id: AssetId
    source: Source


class Assets(_Model):
    video: VideoAsset
    audio: list[AudioAsset] = Field(default_factory=list)


class BackgroundMusic(_Model):
    playlist: list[AssetId] = Field(min_length=1)
    loop: bool = True
    volume: Volume = 0.3
    crossfade_duration: Seconds = Field(default=2.0, alias="crossfadeDuration")


class ProviderConfig(_Model):
    voice_id: Annotated[str, StringConstraints(min_length=1, max_length=64)] = Field(default="Joanna", alias="voiceId")
    engine: Literal["standard", "neural", "long-form", "generative"] = "standard"
    language_code: Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")] | None = Field(
        default=None, alias="languageCode"
    )
    text_type: Literal["text", "ssml"] = Field(default="text", alias="textType")


class TtsData(_Model):
    text: Annotated[str, StringConstraints(min_length=1)]
    provider: Literal["aws-polly", "espeak-ng"] = "aws-polly"
    provider_config: ProviderConfig = Field(default_factory=ProviderConfig, alias="providerConfig")
    volume: Volume = 1.0
    ducking_level: Volume | None = Field(default=None, alias="duckingLevel")
    ducking_fade_duration: Seconds = Field(default=0.5, alias="duckingFadeDuration")

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value


class AudioData(_Model):
    asset_id: AssetId = Field(alias="assetId")
    volume: Volume = 0.5
    ducking_level: Volume | None = Field(default=None, alias="duckingLevel")
    ducking_fade_duration: Seconds = Field(default=0.5, alias="duckingFadeDuration")


class TtsEvent(_Model):
    type: Literal["tts"]
    start: Seconds
    data: TtsData


class AudioEvent(_Model):
    type: Literal["audio"]
    start: Seconds
    data: AudioData


TimelineEvent = Annotated[TtsEvent | AudioEvent, Field(discriminator="type")]


class Encoding(_Model):
    preset: Literal[_X264_PRESETS] | None = None  # type: ignore[valid-type]
    bitrate: Annotated[str, StringConstraints(pattern=_BITRATE.pattern)] | None = None
    audio_bitrate: Annotated[str, StringConstraints(pattern=_BITRATE.pattern)] | None = None
    fps: Annotated[float, Field(gt=0, le=120, allow_inf_nan=False)] | None = None

    @property
    def requires_video_encode(self) -> bool:
        """Preset, bitrate or fps ask for a re-encode; audio_bitrate alone does not."""
        return any(v is not None for v in (self.preset, self.bitrate, self.fps))


class Output(_Model):
    destination: Annotated[str, StringConstraints(max_length=1024)] | None = None
    filename: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    encoding: Encoding = Field(default_factory=Encoding)

    @field_validator("destination")
    @classmethod
    def _s3_prefix(cls, value: str | None) -> str | None:
        if value is None:
            return None
        bucket, prefix = split_s3_uri(value) if value.startswith("s3://") else ("", "")
        if not bucket:
            raise ValueError(
                "must be an s3:// prefix such as s3://bucket/path/; `autovid submit` keeps a local "
                "destination on the client and downloads the result there"
            )
        if ".." in prefix.split("/"):
            raise ValueError("must not contain '..' segments")
        return value

    @field_validator("filename")
    @classmethod
    def _plain_filename(cls, value: str) -> str:
        if "/" in value or "\\" in value:
            raise ValueError("must be a plain file name without path separators")
        if ".." in value:
            raise ValueError("must not contain '..'")
        if _CONTROL_CHARS.search(value):
            raise ValueError("must not contain control characters")
        if value.strip() in ("", "."):
            raise ValueError("must not be empty")
        return value if value.lower().endswith(".mp4") else f"{value}.mp4"


class Webhook(_Model):
    url: Annotated[str, StringConstraints(min_length=1, max_length=2048)]
    method: Literal["POST", "PUT"] = "POST"
    headers: dict[str, str] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)

    @field_validator("url")
    @classmethod
    def _https_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValueError("must be an https:// URL")
        if parts.scheme == "http" and not Limits.from_env().allow_http_webhooks:
            raise ValueError("must be an https:// URL (http:// is allowed only when ALLOW_HTTP_WEBHOOKS is set)")
        _check_public_host(parts.hostname, what="webhook")  # names are checked per address at delivery
        return value

    @field_validator("headers", "metadata")
    @classmethod
    def _at_most_1kb(cls, value: dict[str, Any]) -> dict[str, Any]:
        size = sum(len(str(k).encode()) + len(str(v).encode()) for k, v in value.items())
        if size > 1024:
            raise ValueError(f"must be at most 1 KB of keys and values (got {size} bytes)")
        for key, item in value.items():
            if not isinstance(item, str | bool | int | float):
                raise ValueError(f"value of {key!r} must be a string, number or boolean")
            if isinstance(item, float) and not math.isfinite(item):
                raise ValueError(f"value of {key!r} must be a finite number")
        return value

    @field_validator("headers")
    @classmethod
    def _sendable_headers(cls, value: dict[str, str]) -> dict[str, str]:
        from autovid.webhooks import RESERVED_HEADERS  # noqa: PLC0415 - webhooks imports this module

        for name, item in value.items():
            if not _HEADER_NAME.fullmatch(name):
                raise ValueError(f"header name {name!r} must be an HTTP token (letters, digits and !#$%&'*+-.^_`|~)")
            if name.lower() in RESERVED_HEADERS:
                raise ValueError(f"header {name!r} is set by the service")
            if not isinstance(item, str) or not _HEADER_VALUE.fullmatch(item):
                raise ValueError(f"value of header {name!r} must be printable ASCII, without line breaks")
        return value


_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_HEADER_VALUE = re.compile(r"[ -~]*")


class Notifications(_Model):
    webhook: Webhook | None = None


class JobSpec(_Model):
    schema_: str | None = Field(default=None, alias="$schema")
    job_info: JobInfo = Field(default_factory=JobInfo, alias="jobInfo")
    assets: Assets
    background_music: BackgroundMusic | None = Field(default=None, alias="backgroundMusic")
    timeline: list[TimelineEvent] = Field(default_factory=list)
    output: Output
    notifications: Notifications | None = None

    def audio_asset(self, asset_id: str) -> AudioAsset:
        return next(a for a in self.assets.audio if a.id == asset_id)

    def metadata(self) -> dict[str, Any]:
        """The searchable summary stored beside the spec on the job record."""
        meta: dict[str, Any] = {"outputFilename": self.output.filename}
        if self.job_info.project_id is not None:
            meta["projectId"] = self.job_info.project_id
        if self.job_info.title is not None:
            meta["title"] = self.job_info.title
        if self.job_info.tags:
            meta["tags"] = list(self.job_info.tags)
        return meta

    def to_json_dict(self) -> dict[str, Any]:
        """The spec as the user would write it (camelCase keys, defaults filled in)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


# --- validation entry point --------------------------------------------------------------


def format_path(loc: tuple[int | str, ...]) -> str:
    """('timeline', 3, 'tts', 'data', 'assetId') -> 'timeline[3].data.assetId'."""
    parts = [
        part
        for i, part in enumerate(loc)
        # pydantic inserts the discriminator tag after the event index; users never wrote it.
        if not (part in ("tts", "audio") and i >= 2 and loc[i - 2] == "timeline" and isinstance(loc[i - 1], int))
    ]
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part == "":
            out += '[""]'  # an empty key, which a dotted path cannot show
        else:
            out += f".{part}" if out else str(part)
    return out


def _message(error: dict[str, Any]) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "missing":
        return "is required"
    if kind == "union_tag_invalid":
        return f"unknown event type {error.get('input', {}).get('type')!r}: expected 'tts' or 'audio'"
    if kind == "union_tag_not_found":
        return "is missing 'type': expected 'tts' or 'audio'"
    message = error["msg"]
    return message.removeprefix("Value error, ")


def _cross_field_errors(raw: dict[str, Any]) -> list[FieldError]:
    """Asset ids are unique; playlist ids and assetIds name audio assets. Tolerates bad structure."""
    errors: list[FieldError] = []
    assets = raw.get("assets") if isinstance(raw.get("assets"), dict) else {}
    video = assets.get("video") if isinstance(assets.get("video"), dict) else {}
    audio = assets.get("audio") if isinstance(assets.get("audio"), list) else []

    seen: dict[str, str] = {}
    if isinstance(video.get("id"), str):
        seen[video["id"]] = "assets.video.id"
    audio_ids: set[str] = set()
    for i, asset in enumerate(audio):
        asset_id = asset.get("id") if isinstance(asset, dict) else None
        if not isinstance(asset_id, str):
            continue
        if asset_id in seen:
            errors.append(
                FieldError(f"assets.audio[{i}].id", f"duplicate asset id {asset_id!r} (also {seen[asset_id]})")
            )
        else:
            seen[asset_id] = f"assets.audio[{i}].id"
        audio_ids.add(asset_id)

    music = raw.get("backgroundMusic")
    if isinstance(music, dict) and isinstance(music.get("playlist"), list):
        for i, asset_id in enumerate(music["playlist"]):
            if isinstance(asset_id, str) and asset_id not in audio_ids:
                errors.append(FieldError(f"backgroundMusic.playlist[{i}]", f"unknown audio asset {asset_id!r}"))

    timeline = raw.get("timeline")
    if isinstance(timeline, list):
        for i, event in enumerate(timeline):
            if not (isinstance(event, dict) and event.get("type") == "audio" and isinstance(event.get("data"), dict)):
                continue
            asset_id = event["data"].get("assetId")
            if isinstance(asset_id, str) and asset_id not in audio_ids:
                errors.append(FieldError(f"timeline[{i}].data.assetId", f"unknown audio asset {asset_id!r}"))
    return errors


def _limit_errors(raw: dict[str, Any], limits: Limits) -> list[FieldError]:
    errors: list[FieldError] = []
    timeline = raw.get("timeline")
    if isinstance(timeline, list):
        if len(timeline) > limits.max_timeline_events:
            errors.append(
                FieldError("timeline", f"has {len(timeline)} events; the limit is {limits.max_timeline_events}")
            )
        else:
            for i, event in enumerate(timeline):
                data = event.get("data") if isinstance(event, dict) else None
                text = data.get("text") if isinstance(data, dict) else None
                if isinstance(text, str) and len(text) > limits.max_tts_chars:
                    errors.append(
                        FieldError(
                            f"timeline[{i}].data.text",
                            f"has {len(text)} characters; the limit is {limits.max_tts_chars}",
                        )
                    )
    music = raw.get("backgroundMusic")
    if isinstance(music, dict) and isinstance(music.get("playlist"), list):
        if len(music["playlist"]) > limits.max_playlist_items:
            errors.append(
                FieldError(
                    "backgroundMusic.playlist",
                    f"has {len(music['playlist'])} items; the limit is {limits.max_playlist_items}",
                )
            )
    return errors


# DynamoDB's number type: 38 significant digits, magnitudes 1e-130 to below 1e126 (this context is
# boto3's). The spec is stored there, so a number outside it is a field error, not a failed write.
_STORED_NUMBERS = decimal.Context(
    prec=38,
    Emin=-128,
    Emax=126,
    traps=[decimal.Clamped, decimal.Overflow, decimal.Inexact, decimal.Rounded, decimal.Underflow],
)


def _unstorable_numbers(value: Any, loc: tuple[int | str, ...] = ()) -> list[FieldError]:
    """Field errors for the numbers of a spec's stored form that the jobs table cannot hold."""
    if isinstance(value, dict):
        return [e for key, item in value.items() for e in _unstorable_numbers(item, (*loc, key))]
    if isinstance(value, list):
        return [e for i, item in enumerate(value) for e in _unstorable_numbers(item, (*loc, i))]
    if isinstance(value, bool) or not isinstance(value, int | float):
        return []
    # repr is the text json.dumps writes for a float, so this is the number the write sends.
    number = decimal.Decimal(value if isinstance(value, int) else repr(value))
    try:
        _STORED_NUMBERS.create_decimal(number)  # boto3 refuses these before sending
        storable = number.is_zero() or (number.is_finite() and -130 <= number.adjusted() <= 125)
    except decimal.DecimalException:
        storable = False
    if not storable:
        return [
            FieldError(
                format_path(loc),
                "is out of range: numbers must be 0 or have a magnitude from 1e-130 to below 1e126, "
                "with at most 38 significant digits",
            )
        ]
    return []


def parse_spec(raw: Any, limits: Limits | None = None) -> JobSpec:
    """Validate a decoded JSON body. Raises InvalidSpecError with every field error."""
    if not isinstance(raw, dict):
        raise InvalidSpecError([FieldError("body", "the job spec must be a JSON object")])
    limits = limits or Limits.from_env()
    errors = _limit_errors(raw, limits)
    if any(e.field == "timeline" for e in errors):
        # 10,000 events would produce 10,000 errors; the count is the one that matters.
        raise InvalidSpecError(errors)
    spec: JobSpec | None = None
    try:
        spec = JobSpec.model_validate(raw)
    except ValidationError as exc:
        errors.extend(FieldError(format_path(e["loc"]), _message(e)) for e in exc.errors())
    errors.extend(_cross_field_errors(raw))
    if spec is not None:
        errors.extend(_unstorable_numbers(spec.to_json_dict()))
    if errors or spec is None:
        raise InvalidSpecError(sorted(set(errors), key=lambda e: (e.field, e.message)))
    return spec


def resolve_local_sources(raw: dict[str, Any], resolve: Callable[[str], str]) -> tuple[dict[str, Any], str | None]:
    """Rewrite every non-URL source with ``resolve`` (for example an upload that returns an
    ``s3://`` URI). A local ``output.destination`` is removed and returned, so the caller can
    download the result there; an ``s3://`` destination is left alone."""
    spec = dict(raw)
    assets = dict(spec.get("assets") or {})
    if isinstance(assets.get("video"), dict):
        video = dict(assets["video"])
        video["source"] = _resolved(video.get("source"), resolve)
        assets["video"] = video
    if isinstance(assets.get("audio"), list):
        assets["audio"] = [
            {**a, "source": _resolved(a.get("source"), resolve)} if isinstance(a, dict) else a for a in assets["audio"]
        ]
    spec["assets"] = assets
    local_destination = None
    output = spec.get("output")
    if isinstance(output, dict) and isinstance(output.get("destination"), str):
        if not urlsplit(output["destination"]).scheme:
            output = dict(output)
            local_destination = output.pop("destination")
            spec["output"] = output
    return spec, local_destination


def _resolved(source: Any, resolve: Callable[[str], str]) -> Any:
    if isinstance(source, str) and not urlsplit(source).scheme:
        return resolve(source)
    return source
