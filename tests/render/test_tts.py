"""TTS: Polly with a stubbed HTTP body of real speech, espeak-ng offline, selection and cache."""

from __future__ import annotations

import io
import logging
import subprocess
import wave

import numpy as np
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from autovid.aws.clients import client, reset_clients
from autovid.core.config import RenderSettings
from autovid.core.errors import (
    InvalidTtsRequestError,
    InvalidVoiceError,
    PermanentError,
    TransientError,
    UpstreamUnavailableError,
)
from autovid.render.ffmpeg import ffmpeg_exe
from autovid.render.tts import SpeechSynthesizer
from autovid.render.tts.espeak import EspeakProvider, espeak_voice, ssml_to_text
from autovid.spec import TtsData


@pytest.fixture(scope="module")
def speech_pcm(tmp_path_factory) -> bytes:
    """Real speech from espeak-ng, as Polly's 16 kHz mono s16le PCM."""
    wav = EspeakProvider(tmp_path_factory.mktemp("speech")).synthesize("Testing one two", "en-us", "", None, "text")
    return subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-i", str(wav.path), "-f", "s16le", "-ac", "1", "-ar", "16000", "-"],
        check=True,
        capture_output=True,
    ).stdout


@pytest.fixture
def polly(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_REGION", "eu-west-2")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    reset_clients()
    with Stubber(client("polly")) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()
    reset_clients()


def _data(**config) -> TtsData:
    return TtsData.model_validate({"text": "<speak>Hello</speak>", "providerConfig": config})


def _synth(tmp_path, data: TtsData):
    return SpeechSynthesizer(tmp_path, RenderSettings()).synthesize(data, field="timeline[0].data")


def test_polly_sends_engine_ssml_and_language_and_returns_wav(polly, speech_pcm, tmp_path):
    assert client("polly").meta.region_name == "eu-west-2"
    polly.add_response(
        "synthesize_speech",
        {"AudioStream": StreamingBody(io.BytesIO(speech_pcm), len(speech_pcm)), "ContentType": "audio/pcm"},
        expected_params={
            "Text": "<speak>Hello</speak>",
            "TextType": "ssml",
            "VoiceId": "Lea",
            "Engine": "neural",
            "LanguageCode": "fr-FR",
            "OutputFormat": "pcm",
            "SampleRate": "16000",
        },
    )
    speech = _synth(tmp_path, _data(voiceId="Lea", engine="neural", languageCode="fr-FR", textType="ssml"))
    with wave.open(str(speech.path)) as wav:
        assert wav.getframerate() == 16000 and wav.getnchannels() == 1
        samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    assert speech.duration == pytest.approx(len(speech_pcm) / 32000)
    assert np.abs(samples).max() > 1000  # it is the speech we sent, not silence


def test_polly_result_is_cached_by_provider_voice_engine_language_and_text(polly, speech_pcm, tmp_path):
    polly.add_response(
        "synthesize_speech",
        {"AudioStream": StreamingBody(io.BytesIO(speech_pcm), len(speech_pcm)), "ContentType": "audio/pcm"},
    )
    synthesizer = SpeechSynthesizer(tmp_path, RenderSettings())
    first = synthesizer.synthesize(_data(voiceId="Joanna"))
    again = synthesizer.synthesize(_data(voiceId="Joanna"))  # no second response is stubbed
    assert again == first


def test_polly_empty_audio_is_a_permanent_error(polly, tmp_path):
    polly.add_response(
        "synthesize_speech",
        {"AudioStream": StreamingBody(io.BytesIO(b"\0" * 8), 8), "ContentType": "audio/pcm"},
    )
    with pytest.raises(InvalidTtsRequestError) as caught:
        _synth(tmp_path, _data())
    assert caught.value.field == "timeline[0].data"
    assert isinstance(caught.value, PermanentError)


@pytest.mark.parametrize(
    ("code", "status", "error", "kind"),
    [
        ("EngineNotSupportedException", 400, InvalidVoiceError, PermanentError),
        ("ValidationException", 400, InvalidVoiceError, PermanentError),
        ("LanguageNotSupportedException", 400, InvalidVoiceError, PermanentError),
        ("InvalidSsmlException", 400, InvalidTtsRequestError, PermanentError),
        ("ThrottlingException", 400, UpstreamUnavailableError, TransientError),
        ("ServiceFailureException", 500, UpstreamUnavailableError, TransientError),
        ("ServiceUnavailable", 503, UpstreamUnavailableError, TransientError),
    ],
)
def test_polly_errors_map_to_the_taxonomy(polly, tmp_path, code, status, error, kind):
    polly.add_client_error("synthesize_speech", service_error_code=code, http_status_code=status)
    with pytest.raises(error) as caught:
        _synth(tmp_path, _data(voiceId="Nobody", engine="generative"))
    assert isinstance(caught.value, kind)


def test_tts_provider_override_applies_and_is_logged(tmp_path, caplog):
    synthesizer = SpeechSynthesizer(tmp_path, RenderSettings(TTS_PROVIDER="espeak-ng"))
    with caplog.at_level(logging.WARNING):
        speech = synthesizer.synthesize(TtsData.model_validate({"text": "Offline speech works"}))
    assert "TTS_PROVIDER=espeak-ng overrides" in caplog.text
    with wave.open(str(speech.path)) as wav:
        samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    assert speech.duration > 0.5 and np.abs(samples).max() > 1000


def test_espeak_follows_language_and_voice():
    assert espeak_voice("Lea", "fr-FR") == "fr+f3"
    assert espeak_voice("Pedro", "es-US") == "es-419"
    assert espeak_voice("Matthew", None) == "en-us"
    assert espeak_voice("de", None) == "de"
    assert ssml_to_text('<speak>Hi <break time="1s"/> <emphasis>there</emphasis></speak>') == "Hi there"


def test_espeak_unknown_voice_is_a_permanent_error(tmp_path):
    with pytest.raises(InvalidVoiceError):
        EspeakProvider(tmp_path).synthesize("hello", "no-such-voice", "standard", None, "text")


def test_unknown_override_provider_is_refused(tmp_path):
    synthesizer = SpeechSynthesizer(tmp_path, RenderSettings(TTS_PROVIDER="carrier-pigeon"))
    with pytest.raises(InvalidVoiceError):
        synthesizer.synthesize(TtsData.model_validate({"text": "x"}))
