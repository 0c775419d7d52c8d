"""Text-to-speech: provider selection (with a deployment override) and a content-addressed cache."""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import uuid
import wave
from pathlib import Path

from autovid.core.config import RenderSettings
from autovid.core.errors import AutoVidError, InvalidVoiceError
from autovid.render.tts.base import Speech, TtsProvider
from autovid.spec import TtsData

log = logging.getLogger(__name__)

PROVIDERS = ("aws-polly", "espeak-ng")

__all__ = ["PROVIDERS", "Speech", "SpeechSynthesizer", "TtsProvider", "cache_key", "make_provider"]


def make_provider(name: str, out_dir: Path) -> TtsProvider:
    if name == "aws-polly":
        from autovid.render.tts.polly import PollyProvider

        return PollyProvider(out_dir)
    if name == "espeak-ng":
        from autovid.render.tts.espeak import EspeakProvider

        return EspeakProvider(out_dir)
    raise InvalidVoiceError(f"unknown TTS provider {name!r}; expected one of {', '.join(PROVIDERS)}")


def cache_key(provider: str, voice: str, engine: str, language: str | None, text_type: str, text: str) -> str:
    payload = json.dumps([provider, voice, engine, language, text_type, text], ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()


class SpeechSynthesizer:
    """Synthesizes timeline TTS events, honouring ``TTS_PROVIDER`` and reusing cached audio."""

    def __init__(
        self,
        work_dir: Path,
        settings: RenderSettings,
        providers: dict[str, TtsProvider] | None = None,
    ):
        self.settings = settings
        self.cache_dir = Path(self.settings.tts_cache_dir) if self.settings.tts_cache_dir else work_dir / "tts-cache"
        self.scratch = work_dir / "tts-scratch"
        self.providers = dict(providers or {})
        self._override_logged = False

    def provider_name(self, requested: str) -> str:
        override = self.settings.tts_provider
        if override and override != requested:
            if not self._override_logged:
                log.warning("TTS_PROVIDER=%s overrides the spec's provider %r", override, requested)
                self._override_logged = True
            return override
        return requested

    def synthesize(self, data: TtsData, *, field: str | None = None) -> Speech:
        name = self.provider_name(data.provider)
        config = data.provider_config
        key = cache_key(name, config.voice_id, config.engine, config.language_code, config.text_type, data.text)
        cached = self.cache_dir / f"{key}.wav"
        if cached.exists():
            return Speech(path=cached, duration=wav_duration(cached))
        provider = self.providers.get(name) or self.providers.setdefault(name, make_provider(name, self.scratch))
        try:
            speech = provider.synthesize(
                data.text, config.voice_id, config.engine, config.language_code, config.text_type
            )
        except AutoVidError as exc:
            exc.field = exc.field or field
            raise
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        staged = cached.with_suffix(f".{uuid.uuid4().hex}.tmp")
        shutil.move(speech.path, staged)
        staged.replace(cached)  # atomic, so a concurrent reader never sees half a file
        return Speech(path=cached, duration=speech.duration)


def wav_duration(path: Path) -> float:
    with wave.open(str(path), "rb") as wav:
        return wav.getnframes() / wav.getframerate()
