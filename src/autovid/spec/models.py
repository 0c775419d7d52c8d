"""The job spec's pydantic models and their field rules.

Rules that depend on the deployment (whether loopback hosts or http:// webhooks are allowed) read
the :class:`~autovid.core.config.Limits` passed as the validation context; without one, the strict
defaults apply. Validate through :func:`autovid.spec.parse.parse_spec`.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from autovid.core.config import Limits
from autovid.core.netguard import forbidden_reason, literal_address
from autovid.core.s3_uri import split_s3_uri
from autovid.webhooks.protocol import RESERVED_HEADERS

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


def _limits(info: ValidationInfo) -> Limits:
    """The deployment's limits from the validation context; the strict defaults without one."""
    return info.context if isinstance(info.context, Limits) else _STRICT


_STRICT = Limits.model_construct()


def _check_source(value: str, info: ValidationInfo) -> str:
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
        _check_public_host(host, allow_loopback=_limits(info).allow_loopback_hosts)
        return value
    raise ValueError(f"unsupported source {value!r}: the API accepts s3:// and https:// only; {LOCAL_SOURCE_HINT}")


def _check_public_host(host: str, *, allow_loopback: bool, what: str = "https source") -> None:
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
    if reason is None or (loopback and allow_loopback):  # local mode, tests
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
    def _https_url(cls, value: str, info: ValidationInfo) -> str:
        limits = _limits(info)
        parts = urlsplit(value)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValueError("must be an https:// URL")
        if parts.scheme == "http" and not limits.allow_http_webhooks:
            raise ValueError("must be an https:// URL (http:// is allowed only when ALLOW_HTTP_WEBHOOKS is set)")
        # names are checked per address at delivery
        _check_public_host(parts.hostname, allow_loopback=limits.allow_loopback_hosts, what="webhook")
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
