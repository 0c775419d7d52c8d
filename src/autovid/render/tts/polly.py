"""Amazon Polly: 16 kHz mono PCM, wrapped in a WAV, checked for real audio."""

from __future__ import annotations

import array
import uuid
from pathlib import Path

from autovid.core.errors import InvalidTtsRequestError
from autovid.render.tts.base import Speech
from autovid.render.tts.espeak import write_wav

POLLY_SAMPLE_RATE = 16_000


class PollyProvider:
    name = "aws-polly"

    def __init__(self, out_dir: Path):
        self.out_dir = out_dir

    def synthesize(self, text: str, voice: str, engine: str, language: str | None, text_type: str) -> Speech:
        from autovid.aws.polly import synthesize_pcm

        pcm = synthesize_pcm(
            text=text,
            voice_id=voice,
            engine=engine,
            language_code=language,
            text_type=text_type,
            sample_rate=POLLY_SAMPLE_RATE,
        )
        check_pcm(pcm)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        path = self.out_dir / f"polly-{uuid.uuid4().hex}.wav"
        write_wav(path, pcm, POLLY_SAMPLE_RATE)
        return Speech(path=path, duration=len(pcm) / 2 / POLLY_SAMPLE_RATE)


def check_pcm(pcm: bytes) -> None:
    """16-bit PCM that is whole samples, at least 10 ms long and not pure silence."""
    if len(pcm) % 2 or len(pcm) < 2 * POLLY_SAMPLE_RATE // 100:
        raise InvalidTtsRequestError(f"Polly returned {len(pcm)} bytes, which is not decodable speech")
    samples = array.array("h", pcm)
    if not any(samples):
        raise InvalidTtsRequestError("Polly returned only silence")
