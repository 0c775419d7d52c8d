"""Offline speech with libespeak-ng from the ``espeakng-loader`` wheel, through ctypes, in-process.

The library is a process-wide singleton with global state, so every call holds one lock.
"""

from __future__ import annotations

import ctypes
import re
import threading
import uuid
import wave
from pathlib import Path
from xml.etree import ElementTree

from autovid.core.errors import InvalidTtsRequestError, InvalidVoiceError
from autovid.render.tts.base import Speech

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_DONT_EXIT = 0x8000
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_EE_OK = 0

# Polly voice ids that specs commonly carry, mapped to (language, female) so espeak picks a voice
# in the right language when only voiceId is given.
POLLY_VOICES: dict[str, tuple[str, bool]] = {
    "Joanna": ("en-us", True),
    "Salli": ("en-us", True),
    "Kimberly": ("en-us", True),
    "Kendra": ("en-us", True),
    "Ivy": ("en-us", True),
    "Ruth": ("en-us", True),
    "Danielle": ("en-us", True),
    "Matthew": ("en-us", False),
    "Joey": ("en-us", False),
    "Justin": ("en-us", False),
    "Kevin": ("en-us", False),
    "Stephen": ("en-us", False),
    "Gregory": ("en-us", False),
    "Amy": ("en-gb", True),
    "Emma": ("en-gb", True),
    "Brian": ("en-gb", False),
    "Arthur": ("en-gb", False),
    "Olivia": ("en-au", True),
    "Lea": ("fr", True),
    "Celine": ("fr", True),
    "Mathieu": ("fr", False),
    "Remi": ("fr", False),
    "Pedro": ("es-419", False),
    "Lupe": ("es-419", True),
    "Mia": ("es-419", True),
    "Lucia": ("es", True),
    "Sergio": ("es", False),
    "Conchita": ("es", True),
    "Enrique": ("es", False),
    "Vicki": ("de", True),
    "Marlene": ("de", True),
    "Hans": ("de", False),
    "Daniel": ("de", False),
    "Bianca": ("it", True),
    "Adriano": ("it", False),
    "Camila": ("pt-br", True),
    "Vitoria": ("pt-br", True),
    "Thiago": ("pt-br", False),
    "Ines": ("pt", True),
    "Takumi": ("ja", False),
    "Mizuki": ("ja", True),
    "Seoyeon": ("ko", True),
    "Zhiyu": ("cmn", True),
    "Laura": ("nl", True),
    "Ruben": ("nl", False),
}
# BCP-47 codes whose espeak voice name differs from the lowercased code or its primary subtag.
_LANGUAGE_ALIASES = {"es-us": "es-419", "es-mx": "es-419", "fr-fr": "fr", "fr-ca": "fr", "de-de": "de", "cmn-cn": "cmn"}

_SynthCallback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


class _Library:
    def __init__(self) -> None:
        import espeakng_loader

        self.lib = ctypes.CDLL(espeakng_loader.get_library_path())
        self.lib.espeak_Initialize.restype = ctypes.c_int
        self.lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        self.lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        self.lib.espeak_SetVoiceByName.restype = ctypes.c_int
        self.lib.espeak_SetSynthCallback.argtypes = [_SynthCallback]
        self.lib.espeak_Synth.argtypes = [
            ctypes.c_char_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.c_void_p,
            ctypes.c_void_p,
        ]
        self.lib.espeak_Synth.restype = ctypes.c_int
        data_parent = str(Path(espeakng_loader.get_data_path()).parent).encode()
        self.sample_rate = self.lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, data_parent, _INITIALIZE_DONT_EXIT)
        if self.sample_rate <= 0:
            raise RuntimeError("libespeak-ng failed to initialise")
        self.chunks: list[bytes] = []
        self._callback = _SynthCallback(self._on_audio)  # keep a reference: C holds the pointer
        self.lib.espeak_SetSynthCallback(self._callback)

    def _on_audio(self, samples, count, _events) -> int:  # noqa: ANN001 - ctypes callback
        if samples and count > 0:
            self.chunks.append(ctypes.string_at(samples, count * 2))
        return 0

    def synthesize(self, voice: str, text: str) -> bytes:
        if self.lib.espeak_SetVoiceByName(voice.encode()) != _EE_OK:
            raise InvalidVoiceError(f"espeak-ng has no voice {voice!r}")
        self.chunks = []
        data = text.encode("utf-8") + b"\0"
        status = self.lib.espeak_Synth(data, len(data), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
        self.lib.espeak_Synchronize()
        if status != _EE_OK:
            raise InvalidTtsRequestError(f"espeak-ng could not synthesize the text (error {status})")
        return b"".join(self.chunks)


_lock = threading.Lock()
_library: _Library | None = None


def _get_library() -> _Library:
    global _library
    if _library is None:
        _library = _Library()
    return _library


def espeak_voice(voice: str, language: str | None) -> str:
    """The espeak voice for a spec's voiceId and languageCode.

    A languageCode wins (``fr-FR`` -> ``fr``); otherwise a known Polly voice id gives the language;
    otherwise voiceId is taken as an espeak voice name. Female Polly voices get the ``+f3`` variant.
    """
    female = POLLY_VOICES.get(voice, ("", False))[1]
    if language:
        code = language.lower()
        name = _LANGUAGE_ALIASES.get(code, code)
    elif voice in POLLY_VOICES:
        name = POLLY_VOICES[voice][0]
    else:
        return voice
    return f"{name}+f3" if female else name


def ssml_to_text(ssml: str) -> str:
    """The text content of an SSML document (tags dropped)."""
    try:
        root = ElementTree.fromstring(ssml)  # noqa: S314 - parses the user's own SSML, no entities resolved
        text = "".join(root.itertext())
    except ElementTree.ParseError:
        text = re.sub(r"<[^>]*>", " ", ssml)
    return re.sub(r"\s+", " ", text).strip()


class EspeakProvider:
    name = "espeak-ng"

    def __init__(self, out_dir: Path):
        self.out_dir = out_dir

    def synthesize(self, text: str, voice: str, engine: str, language: str | None, text_type: str) -> Speech:
        """Engine is ignored (espeak has one); SSML is reduced to its text."""
        plain = ssml_to_text(text) if text_type == "ssml" else text
        if not plain:
            raise InvalidTtsRequestError("the text has nothing to say")
        name = espeak_voice(voice, language)
        with _lock:
            library = _get_library()
            try:
                pcm = library.synthesize(name, plain)
            except InvalidVoiceError:
                # A variant or regional name espeak lacks: fall back to the primary language.
                base = name.split("+")[0].split("-")[0]
                if base == name:
                    raise
                pcm = library.synthesize(base, plain)
            sample_rate = library.sample_rate
        if not pcm:
            raise InvalidTtsRequestError("espeak-ng produced no audio")
        self.out_dir.mkdir(parents=True, exist_ok=True)
        path = self.out_dir / f"espeak-{uuid.uuid4().hex}.wav"
        write_wav(path, pcm, sample_rate)
        return Speech(path=path, duration=len(pcm) / 2 / sample_rate)


def write_wav(path: Path, pcm: bytes, sample_rate: int, channels: int = 1) -> None:
    """16-bit little-endian PCM into a WAV file."""
    with wave.open(str(path), "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(pcm)
