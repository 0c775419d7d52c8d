"""Will a job fit RenderVideo's Lambda? Its /tmp and its time, estimated from the probed sizes.

RenderVideo has 10 GB of /tmp and 900 s (template.yaml). While ffmpeg runs, /tmp holds the
other assets and the speech, the output being written (``+faststart`` moves the index in place,
without a second copy) and, for a long looping playlist, its cycle rendered once. An ``s3://``
video is streamed into ffmpeg and never written to /tmp; an https one is downloaded first and
is there too. The inputs are deleted before the upload.

The time is the downloads and the upload, the probe, and the ffmpeg run. With the video stream
copied, the run's cost is the audio mix (linear in the output's length since the graph replays a
looping playlist rather than placing every loop) plus reading and writing the bytes; re-encoding
costs x264's time per pixel. The rates below were measured with ``bench/render.py`` on a 2-core
x86 machine and are scaled by ``LAMBDA_CPU_FACTOR`` for the ~1.7 vCPUs of a 3008 MB Lambda; a
job is accepted only when its estimate is within ``MARGIN`` of each limit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from autovid.core.errors import InvalidAssetError
from autovid.render.engine import ProbedAssets
from autovid.render.ffmpeg import RemoteInput, input_size
from autovid.render.graph import ALOOP_MAX_SAMPLES, needs_video_encode
from autovid.spec import Encoding, JobSpec, TtsEvent

RENDER_TMP_BYTES = 10 * 1024**3  # RenderVideo's EphemeralStorage
RENDER_TIMEOUT_SECONDS = 900.0  # RenderVideo's Timeout
MARGIN = 0.75  # plan for three quarters of each limit

LAMBDA_CPU_FACTOR = 1.2  # 2 cores here; a 3008 MB Lambda has about 1.7 vCPUs
TRANSFER_BYTES_PER_SECOND = 50e6  # S3 to and from Lambda, each way (conservative)
FIXED_SECONDS = 10.0  # start-up, probes, small assets, ffmpeg start
# Measured: autovid render with the video copied (looped jingle, two ducking effects, 720p).
MIX_SECONDS_PER_SECOND = 0.025  # audio graph and AAC encoding: 3 h of 720p (3.7 GB) took 275 s in all
COPY_SECONDS_PER_BYTE = 1 / 400e6  # reading the input and writing the output
# Measured: libx264 preset medium, CRF 23, on testsrc2 with grain: 27 Mpixel/s at 720p, 34 at 1080p.
ENCODE_PIXELS_PER_SECOND = 27e6
PRESET_COST = {
    "ultrafast": 0.15,
    "superfast": 0.2,
    "veryfast": 0.5,
    "faster": 0.55,
    "fast": 0.75,
    "medium": 1.0,
    "slow": 1.5,
    "slower": 3.0,
    "veryslow": 6.0,
    "placebo": 20.0,
}
CRF_BITS_PER_PIXEL = 0.15  # a generous output size for CRF 23 when no bitrate is given
SPEECH_SECONDS_PER_EVENT = 0.5  # a Polly request, when the speech is not cached
AUDIO_OUT_BITS_PER_SECOND = 192_000
MAX_SAMPLE_RATE = 48_000

_BITRATE = re.compile(r"^([0-9.]+)([kKmM]?)$")


@dataclass(frozen=True)
class RenderEstimate:
    tmp_bytes: int
    seconds: float
    reencode: bool


def estimate_render(
    *,
    duration: float,
    video_bytes: int,
    other_bytes: int,
    encoding: Encoding,
    video_codec: str | None,
    width: int | None,
    height: int | None,
    fps: float | None,
    speech_events: int = 0,
    music_cycle_seconds: float = 0.0,
    video_on_disk: bool = True,
) -> RenderEstimate:
    """What rendering needs: ``video_bytes`` is the video file (in /tmp unless it is streamed:
    ``video_on_disk``), ``other_bytes`` every other asset, ``music_cycle_seconds`` one pass of a
    playlist that loops (a long one is rendered to /tmp)."""
    reencode = needs_video_encode(encoding, video_codec)
    audio_out = duration * AUDIO_OUT_BITS_PER_SECOND / 8
    pixels = (width or 1920) * (height or 1080)
    frames = duration * (encoding.fps or fps or 30.0)
    if not reencode:
        output = video_bytes + audio_out  # the video stream copied, our audio in place of its own
        run = duration * MIX_SECONDS_PER_SECOND + (video_bytes + output) * COPY_SECONDS_PER_BYTE
    else:
        bits = _bits_per_second(encoding.bitrate)
        video_out = duration * bits / 8 if bits else frames * pixels * CRF_BITS_PER_PIXEL / 8
        output = video_out + audio_out
        cost = PRESET_COST.get(encoding.preset or "medium", 1.0)
        run = duration * MIX_SECONDS_PER_SECOND + frames * pixels * cost / ENCODE_PIXELS_PER_SECOND
    speech = speech_events * SPEECH_SECONDS_PER_EVENT
    transfers = (video_bytes + other_bytes + output) / TRANSFER_BYTES_PER_SECOND
    seconds = FIXED_SECONDS + transfers + speech + run * LAMBDA_CPU_FACTOR
    cycle_samples = music_cycle_seconds * MAX_SAMPLE_RATE
    cycle_bytes = cycle_samples * 8 if cycle_samples > ALOOP_MAX_SAMPLES else 0  # stereo 32-bit float
    tmp = (video_bytes if video_on_disk else 0) + other_bytes + output + cycle_bytes
    return RenderEstimate(tmp_bytes=int(tmp), seconds=seconds, reencode=reencode)


def estimate_job(spec: JobSpec, assets: ProbedAssets) -> RenderEstimate:
    """``estimate_render`` for a probed job; call it while the fetched files are still there."""
    video = assets.video.video
    music = spec.background_music
    cycle = sum(assets.audio[a].duration for a in music.playlist) if music and music.loop else 0.0
    return estimate_render(
        duration=assets.video.duration,
        video_bytes=input_size(assets.video.path),
        video_on_disk=not isinstance(assets.video.path, RemoteInput),
        other_bytes=sum(input_size(info.path) for info in assets.audio.values()),
        encoding=spec.output.encoding,
        video_codec=video.codec if video else None,
        width=video.width if video else None,
        height=video.height if video else None,
        fps=video.fps if video else None,
        speech_events=sum(1 for e in spec.timeline if isinstance(e, TtsEvent)),
        music_cycle_seconds=cycle if cycle < assets.video.duration else 0.0,
    )


def check_render_fits(estimate: RenderEstimate, *, asset_id: str | None = None, field: str | None = None) -> None:
    """Refuse, naming the limit, a job whose render would not fit RenderVideo's /tmp or time."""
    what = "re-encoding the video" if estimate.reencode else "copying the video stream"
    if estimate.tmp_bytes > MARGIN * RENDER_TMP_BYTES:
        raise InvalidAssetError(
            f"rendering this job needs about {estimate.tmp_bytes / 1e9:.1f} GB of /tmp (the assets it downloads "
            f"and the output at once, {what}); the render step has {RENDER_TMP_BYTES / 1024**3:g} GiB "
            f"and accepts jobs up to {MARGIN:.0%} of it",
            asset_id=asset_id,
            field=field,
        )
    if estimate.seconds > MARGIN * RENDER_TIMEOUT_SECONDS:
        raise InvalidAssetError(
            f"rendering this job would take about {estimate.seconds:.0f} s ({what}); the render step's limit "
            f"is {RENDER_TIMEOUT_SECONDS:g} s and it accepts jobs estimated at up to {MARGIN:.0%} of it",
            asset_id=asset_id,
            field=field,
        )


def _bits_per_second(text: str | None) -> float | None:
    match = _BITRATE.match(text or "")
    if not match:
        return None
    return float(match[1]) * {"": 1, "k": 1e3, "m": 1e6}[match[2].lower()]
