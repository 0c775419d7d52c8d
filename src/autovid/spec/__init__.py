"""The job spec: its models (:mod:`autovid.spec.models`) and validation (:mod:`autovid.spec.parse`)."""

from autovid.spec.models import (
    AudioEvent,
    Encoding,
    JobSpec,
    TtsData,
    TtsEvent,
)
from autovid.spec.parse import format_path, parse_spec

__all__ = ["AudioEvent", "Encoding", "JobSpec", "TtsData", "TtsEvent", "format_path", "parse_spec"]
