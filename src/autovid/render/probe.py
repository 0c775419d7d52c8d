"""Media probing by parsing ``ffmpeg -i`` (the imageio-ffmpeg wheel has no ffprobe).

Durations that the header only estimates (MP3 without a Xing header, missing durations) are
measured by demuxing or decoding the stream, so plans are built from real lengths.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from autovid.core.errors import InvalidAssetError
from autovid.render.ffmpeg import MediaInput, RemoteInput, input_args, run_ffmpeg

_DURATION = re.compile(r"^\s*Duration: (N/A|(\d+):(\d{2}):(\d{2}(?:\.\d+)?))", re.MULTILINE)
_STREAM = re.compile(
    r"^\s*Stream #0:(\d+)(?:\[0x[0-9a-fA-F]+\])?(?:\([^)]*\))?: (Video|Audio|Subtitle|Data|Attachment): (\S+)(.*)$",
    re.MULTILINE,
)
_SIZE = re.compile(r"[ ,](\d{1,5})x(\d{1,5})(?:[ ,\[]|$)")
_FPS = re.compile(r"([\d.]+k?) (?:fps|tbr)")
_SAMPLE_RATE = re.compile(r"(\d+) Hz")
_CHANNELS = re.compile(r"\d+ Hz, ([^,]+)")
_OUT_TIME = re.compile(r"^out_time_us=(\d+)$", re.MULTILINE)


@dataclass(frozen=True)
class StreamInfo:
    index: int
    kind: str  # "video", "audio", "subtitle", "data", "attachment"
    codec: str
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    sample_rate: int | None = None
    channels: str | None = None
    attached_picture: bool = False


@dataclass(frozen=True)
class MediaInfo:
    path: MediaInput  # a local file, or a source ffmpeg streams
    duration: float
    streams: tuple[StreamInfo, ...] = field(default_factory=tuple)

    @property
    def video(self) -> StreamInfo | None:
        return next((s for s in self.streams if s.kind == "video" and not s.attached_picture), None)

    @property
    def audio(self) -> StreamInfo | None:
        return next((s for s in self.streams if s.kind == "audio"), None)

    @property
    def has_audio(self) -> bool:
        return self.audio is not None

    @property
    def has_video(self) -> bool:
        return self.video is not None


def probe(
    path: str | MediaInput, *, asset_id: str | None = None, exact: bool = True, expect_video: bool = False
) -> MediaInfo:
    """Describe ``path``. Undecodable or stream-less files raise InvalidAssetError naming the asset.

    With ``exact`` the duration is measured rather than read from the header when the header
    only estimates it (and, for video, always: the video stream's own end, not the container's).
    ``expect_video`` (with ``exact``) reads the header and measures the video stream in one ffmpeg
    run instead of two; the result is the same, and a file without video is handled as usual.
    """
    path = path if isinstance(path, RemoteInput) else Path(path)
    packets: str | None = None
    if exact and expect_video:
        result = run_ffmpeg(["-nostats", *input_args(path), *_VIDEO_PACKETS])
        text = _input_section(result.stderr)
        packets = result.stdout if result.returncode == 0 else None
    else:
        result = run_ffmpeg(input_args(path))
        text = result.stderr
    streams = tuple(_parse_stream(m) for m in _STREAM.finditer(text))
    usable = [s for s in streams if s.kind == "audio" or (s.kind == "video" and not s.attached_picture)]
    if not usable:
        raise InvalidAssetError(f"{_name(path, asset_id)} is not decodable audio or video", asset_id=asset_id)
    header = _header_duration(text)
    info = MediaInfo(path=path, duration=header or 0.0, streams=streams)
    if exact and info.has_video:
        measured = packet_duration(packets) if packets is not None else None
        duration = measured if measured is not None else video_stream_duration(path, asset_id=asset_id)
    elif exact and (header is None or "Estimating duration from bitrate" in text):
        duration = decoded_audio_duration(path, asset_id=asset_id)
    else:
        duration = header
    if not duration or duration <= 0:
        raise InvalidAssetError(f"{_name(path, asset_id)} has no playable length", asset_id=asset_id)
    return MediaInfo(path=path, duration=duration, streams=streams)


# The first video stream's packets, copied (not decoded) into a listing of their timestamps.
_VIDEO_PACKETS = ("-map", "0:V:0", "-c", "copy", "-f", "framecrc", "-")


def video_packets_args(path: MediaInput) -> list[str]:
    """ffmpeg's arguments (after the binary) that list the first video stream's packets on stdout;
    :func:`packet_duration` reads the length from that listing, as :func:`probe` does."""
    return ["-hide_banner", "-nostdin", "-loglevel", "error", *input_args(path), *_VIDEO_PACKETS]


def video_stream_duration(path: MediaInput, *, asset_id: str | None = None) -> float:
    """Length of the first video stream from its packets, without decoding.

    The sum of packet durations is what a stream copy carries over (it is robust to B-frame
    reordering and to gaps at the tail); the pts span is the fallback when durations are absent.
    """
    result = run_ffmpeg(["-loglevel", "error", *input_args(path), *_VIDEO_PACKETS])
    duration = packet_duration(result.stdout) if result.returncode == 0 else None
    if duration is None:
        raise InvalidAssetError(f"{_name(path, asset_id)}: the video stream cannot be read", asset_id=asset_id)
    return duration


def packet_duration(framecrc: str) -> float | None:
    """The stream length in a ``framecrc`` listing of one stream, or None if it lists no packets."""
    time_base: Fraction | None = None
    first, end, total = None, None, 0
    for line in framecrc.splitlines():
        if line.startswith("#tb 0:"):
            num, den = line.split(":", 1)[1].strip().split("/")
            time_base = Fraction(int(num), int(den))
        elif line and not line.startswith("#"):
            parts = [p.strip() for p in line.split(",")]  # stream, dts, pts, duration, size, hash
            pts, duration = int(parts[2]), int(parts[3])
            first = pts if first is None else min(first, pts)
            end = pts + duration if end is None else max(end, pts + duration)
            total += max(duration, 0)
    if time_base is None or first is None or end is None:
        return None
    return float((total or (end - first)) * time_base)


def _input_section(stderr: str) -> str:
    """The input file's description, without the output streams ffmpeg lists after it."""
    cut = [i for i in (stderr.find("\nStream mapping:"), stderr.find("\nOutput #0")) if i >= 0]
    return stderr[: min(cut)] if cut else stderr


def decoded_audio_duration(path: MediaInput, *, asset_id: str | None = None) -> float:
    """Decode the first audio stream to nowhere and read how much came out."""
    result = run_ffmpeg(
        ["-loglevel", "error", *input_args(path), "-map", "0:a:0", "-f", "null", "-", "-progress", "pipe:1"]
    )
    times = _OUT_TIME.findall(result.stdout)
    if result.returncode != 0 or not times:
        raise InvalidAssetError(f"{_name(path, asset_id)}: the audio stream cannot be decoded", asset_id=asset_id)
    return int(times[-1]) / 1_000_000


def _parse_stream(match: re.Match[str]) -> StreamInfo:
    index, kind, codec, rest = int(match[1]), match[2].lower(), match[3].rstrip(","), match[4]
    if kind == "video":
        size = _SIZE.search(rest)
        fps = _FPS.search(rest)
        return StreamInfo(
            index=index,
            kind=kind,
            codec=codec,
            width=int(size[1]) if size else None,
            height=int(size[2]) if size else None,
            fps=_fps_value(fps[1]) if fps else None,
            attached_picture="(attached pic)" in rest,
        )
    if kind == "audio":
        rate = _SAMPLE_RATE.search(rest)
        channels = _CHANNELS.search(rest)
        return StreamInfo(
            index=index,
            kind=kind,
            codec=codec,
            sample_rate=int(rate[1]) if rate else None,
            channels=channels[1].strip() if channels else None,
        )
    return StreamInfo(index=index, kind=kind, codec=codec)


def _fps_value(text: str) -> float:
    return float(text[:-1]) * 1000 if text.endswith("k") else float(text)


def _header_duration(text: str) -> float | None:
    match = _DURATION.search(text)
    if not match or match[1] == "N/A":
        return None
    return int(match[2]) * 3600 + int(match[3]) * 60 + float(match[4])


def _name(path: MediaInput, asset_id: str | None) -> str:
    return f"asset {asset_id!r}" if asset_id else f"file {path.name!r}"
