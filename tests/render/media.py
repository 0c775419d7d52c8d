"""Test media made with ffmpeg's lavfi sources, and numpy measurements of decoded audio."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np

from autovid.render.ffmpeg import ffmpeg_exe

SR = 48_000


def ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg_exe(), "-v", "error", "-nostdin", "-y", *args], check=True)


def make_video(
    path: Path,
    seconds: float,
    *,
    size: str = "160x120",
    fps: int = 25,
    audio_hz: float | None = None,
    codec: str = "libx264",
) -> Path:
    args = ["-f", "lavfi", "-i", f"testsrc=size={size}:rate={fps}:duration={seconds}"]
    if audio_hz:
        args += ["-f", "lavfi", "-i", f"sine=f={audio_hz}:d={seconds}:sample_rate=44100", "-c:a", "aac"]
    video = ["-c:v", codec, "-pix_fmt", "yuv420p"] + (
        ["-preset", "ultrafast", "-g", "25"] if codec == "libx264" else []
    )
    ffmpeg(*args, *video, str(path))
    return path


def make_tone(
    path: Path, hz: float, seconds: float, *, amplitude: float = 0.5, rate: int = 44100, channels: int = 2
) -> Path:
    expr = f"{amplitude}*sin(2*PI*{hz}*t)"
    ffmpeg("-f", "lavfi", "-i", f"aevalsrc={expr}:s={rate}:d={seconds}", "-ac", str(channels), str(path))
    return path


def decode(path: Path, *, rate: int = SR) -> np.ndarray:
    """The first audio stream as a mono float array (channel mean)."""
    raw = subprocess.run(
        [
            ffmpeg_exe(),
            "-v",
            "error",
            "-i",
            str(path),
            "-map",
            "0:a:0",
            "-f",
            "f32le",
            "-ac",
            "2",
            "-ar",
            str(rate),
            "-",
        ],
        check=True,
        capture_output=True,
    ).stdout
    return np.frombuffer(raw, dtype="<f4").reshape(-1, 2).mean(axis=1)


def window(samples: np.ndarray, t0: float, t1: float, rate: int = SR) -> np.ndarray:
    return samples[int(round(t0 * rate)) : int(round(t1 * rate))]


def band_level(samples: np.ndarray, t0: float, t1: float, hz: float, *, width: float = 25.0, rate: int = SR) -> float:
    """Amplitude of the component near ``hz`` in [t0, t1] (Hann-windowed FFT, band power summed)."""
    segment = window(samples, t0, t1, rate)
    spectrum = np.fft.rfft(segment * np.hanning(len(segment)))
    freqs = np.fft.rfftfreq(len(segment), 1 / rate)
    band = (freqs > hz - width) & (freqs < hz + width)
    return float(np.sqrt(np.sum(np.abs(spectrum[band]) ** 2)) / len(segment))


def range_level(samples: np.ndarray, t0: float, t1: float, lo: float, hi: float, rate: int = SR) -> float:
    return band_level(samples, t0, t1, (lo + hi) / 2, width=(hi - lo) / 2, rate=rate)


def rms(samples: np.ndarray, t0: float, t1: float, rate: int = SR) -> float:
    segment = window(samples, t0, t1, rate)
    return float(np.sqrt(np.mean(segment.astype(np.float64) ** 2)))


def rms_per_block_db(
    samples: np.ndarray, block_seconds: float = 0.1, rate: int = SR, floor_db: float = -60
) -> np.ndarray:
    block = int(rate * block_seconds)
    count = len(samples) // block
    blocks = samples[: count * block].astype(np.float64).reshape(count, block)
    return np.maximum(20 * np.log10(np.sqrt(np.mean(blocks**2, axis=1)) + 1e-12), floor_db)


def video_packet_hashes(path: Path) -> list[str]:
    """Per-packet MD5s of the first video stream, copied (not decoded)."""
    out = subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-i", str(path), "-map", "0:v:0", "-c", "copy", "-f", "framemd5", "-"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return [line.rsplit(",", 1)[1].strip() for line in out.splitlines() if line and not line.startswith("#")]


def write_spec(path: Path, spec: dict) -> Path:
    path.write_text(json.dumps(spec))
    return path
