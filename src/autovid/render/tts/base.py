"""The provider interface shared by every TTS backend."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class Speech:
    """A synthesized utterance: a WAV file and its length in seconds."""

    path: Path
    duration: float


class TtsProvider(Protocol):
    name: str

    def synthesize(self, text: str, voice: str, engine: str, language: str | None, text_type: str) -> Speech: ...
