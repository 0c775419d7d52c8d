"""Amazon Polly speech synthesis, with errors mapped onto the domain taxonomy by code and status."""

from __future__ import annotations

from botocore.exceptions import (
    ClientError,
)

from autovid.aws.clients import client
from autovid.aws.errors import AwsRequestError, aws_call, is_transient
from autovid.core.errors import (
    InvalidTtsRequestError,
    InvalidVoiceError,
    UpstreamUnavailableError,
)

# The voice, engine or language is wrong for this request.
VOICE_ERROR_CODES = frozenset({"EngineNotSupportedException", "LanguageNotSupportedException", "ValidationException"})
# The text itself cannot be spoken as sent.
TEXT_ERROR_CODES = frozenset(
    {
        "InvalidSsmlException",
        "TextLengthExceededException",
        "SsmlMarksNotSupportedForTextTypeException",
        "MarksNotSupportedForFormatException",
        "LexiconNotFoundException",
        "InvalidSampleRateException",
    }
)


def synthesize_pcm(
    *, text: str, voice_id: str, engine: str, language_code: str | None, text_type: str, sample_rate: int
) -> bytes:
    """16-bit mono little-endian PCM from Polly in the deployment's region."""
    params = {
        "Text": text,
        "TextType": text_type,
        "VoiceId": voice_id,
        "Engine": engine,
        "OutputFormat": "pcm",
        "SampleRate": str(sample_rate),
    }
    if language_code:
        params["LanguageCode"] = language_code
    with aws_call("Polly SynthesizeSpeech"):  # timeouts and connection errors, mapped the common way
        try:
            response = client("polly").synthesize_speech(**params)
            with response["AudioStream"] as stream:
                return stream.read()
        except ClientError as exc:
            raise polly_error(exc, voice_id, engine, language_code) from exc


def polly_error(exc: ClientError, voice_id: str, engine: str, language_code: str | None) -> Exception:
    code = exc.response.get("Error", {}).get("Code", "Unknown")
    message = exc.response.get("Error", {}).get("Message", "")
    if is_transient(exc):
        return UpstreamUnavailableError(f"Polly SynthesizeSpeech failed ({code}): {message}")
    if code in VOICE_ERROR_CODES:
        language = f", language {language_code}" if language_code else ""
        return InvalidVoiceError(f"Polly rejected voice {voice_id} with engine {engine}{language} ({code}): {message}")
    if code in TEXT_ERROR_CODES:
        return InvalidTtsRequestError(f"Polly rejected the text ({code}): {message}")
    return AwsRequestError(f"Polly SynthesizeSpeech failed ({code}): {message}")
