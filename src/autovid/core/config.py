"""Configuration from the environment, read with pydantic-settings.

A handler reads it once per invocation (:meth:`Config.from_env`) and passes it down; nothing
below the handlers reads the environment.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Limits(BaseSettings):
    """Input limits. Each is an environment variable with a documented default."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore")

    max_request_body_bytes: int = Field(default=256 * 1024, alias="MAX_REQUEST_BODY_BYTES")
    max_timeline_events: int = Field(default=500, alias="MAX_TIMELINE_EVENTS")
    max_tts_chars: int = Field(default=3000, alias="MAX_TTS_CHARS")
    max_playlist_items: int = Field(default=50, alias="MAX_PLAYLIST_ITEMS")
    max_asset_bytes: int = Field(default=2 * 1024**3, alias="MAX_ASSET_BYTES")
    # An s3:// video is streamed, not written to /tmp, so it may be larger than the downloaded assets:
    # 6 GiB is three hours at 4.8 Mbps, within RenderVideo's budget (docs/job-spec.md, Video length).
    max_video_bytes: int = Field(default=6 * 1024**3, alias="MAX_VIDEO_BYTES")
    # Three hours: with the video stream copied, RenderVideo renders that well within its 900 s
    # (see autovid.render.budget); ValidateJob also refuses any job whose estimate does not fit.
    max_video_seconds: float = Field(default=3 * 3600.0, alias="MAX_VIDEO_SECONDS")
    max_video_pixels: int = Field(default=3840 * 2160, alias="MAX_VIDEO_PIXELS")
    allow_http_webhooks: bool = Field(default=False, alias="ALLOW_HTTP_WEBHOOKS")
    # Local mode and tests only: sources and webhooks may name 127.0.0.0/8, ::1 and localhost.
    allow_loopback_hosts: bool = Field(default=False, alias="ALLOW_LOOPBACK_FETCH")


class Settings(BaseSettings):
    """Where the job lives (the names the service has always used)."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore")

    jobs_table: str = Field(default="", alias="DYNAMODB_JOBS_TABLE")
    job_queue_url: str = Field(default="", alias="SQS_JOB_QUEUE_URL")
    # Powertools idempotency records for submits with an Idempotency-Key.
    idempotency_table: str = Field(default="", alias="IDEMPOTENCY_TABLE_NAME")
    # Buckets besides the managed one that output.destination may name (comma-separated; the
    # template's ExtraOutputBuckets, whose PutObject the upload step's role is granted).
    extra_output_buckets_text: str = Field(default="", alias="ALLOWED_OUTPUT_BUCKETS")

    @property
    def extra_output_buckets(self) -> frozenset[str]:
        return frozenset(b.strip() for b in self.extra_output_buckets_text.split(",") if b.strip())

    bucket_name: str = Field(default="", alias="S3_BUCKET_NAME")
    jobs_ttl_seconds: int = Field(default=7 * 24 * 3600, alias="DYNAMODB_JOBS_TTL_SECONDS")
    presigned_url_expiration: int = Field(default=86400, alias="S3_PRESIGNED_URL_EXPIRATION")
    cors_allow_origin: str = Field(default="", alias="CORS_ALLOW_ORIGIN")
    # ReconcileJobs looks at jobs processing or retrying unchanged for this long.
    reconcile_after_seconds: int = Field(default=900, alias="RECONCILE_AFTER_SECONDS")
    # Set when the service runs against a local or emulated AWS; the console links are then left out.
    aws_endpoint_url: str = Field(default="", alias="AWS_ENDPOINT_URL")


class RenderSettings(BaseSettings):
    """Render engine knobs: asset fetching and text-to-speech."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore")

    # Overrides every event's `provider` (e.g. "espeak-ng" for offline runs); logged when it applies.
    tts_provider: str | None = Field(default=None, alias="TTS_PROVIDER")
    # Directory shared between jobs for synthesized speech; empty means a per-job cache in the work dir.
    tts_cache_dir: str = Field(default="", alias="TTS_CACHE_DIR")
    # Local mode and tests only: lets https/http fetches reach 127.0.0.0/8 and ::1.
    allow_loopback_fetch: bool = Field(default=False, alias="ALLOW_LOOPBACK_FETCH")
    fetch_connect_timeout_seconds: float = Field(default=10.0, alias="FETCH_CONNECT_TIMEOUT_SECONDS")
    fetch_read_timeout_seconds: float = Field(default=30.0, alias="FETCH_READ_TIMEOUT_SECONDS")
    # Wall-clock cap for one download, so a server that drips bytes cannot hold the job forever.
    fetch_total_timeout_seconds: float = Field(default=600.0, alias="FETCH_TOTAL_TIMEOUT_SECONDS")
    fetch_max_redirects: int = Field(default=5, alias="FETCH_MAX_REDIRECTS")


class WebhookSettings(BaseSettings):
    """Webhook delivery: the signing secret and how patiently a notification is delivered."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore")

    secret_arn: str = Field(default="", alias="WEBHOOK_SECRET_ARN")
    timeout_seconds: float = Field(default=10.0, alias="WEBHOOK_TIMEOUT_SECONDS")
    max_attempts: int = Field(default=5, alias="WEBHOOK_MAX_ATTEMPTS")
    # Local mode and tests only: let webhooks reach 127.0.0.0/8 and ::1, like asset fetches.
    allow_loopback: bool = Field(default=False, alias="ALLOW_LOOPBACK_FETCH")


@dataclass(frozen=True)
class Config:
    """Everything a function is configured with, read from the environment at once."""

    settings: Settings
    limits: Limits
    render: RenderSettings
    webhook: WebhookSettings

    @classmethod
    def from_env(cls) -> Config:
        return cls(settings=Settings(), limits=Limits(), render=RenderSettings(), webhook=WebhookSettings())
