"""One ffmpeg invocation for a plan: inputs, a filter graph (written to a script file) and output options.

Graph shape::

    [music item k] -> resample -> fades -> delay --\
                                                     amix -> ducking volume --\
    [video audio]  -> resample -> volume -------------------------------------- amix -> pad/trim -> [aout]
    [event i]      -> resample -> volume -> delay ----------------------------/

Every input is its own ``-i`` (with ``-t`` so nothing past the video's end is decoded), which keeps
memory flat: the graph pulls each input only as far as the mix has progressed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from autovid.render.plan import GainSegment, RenderPlan
from autovid.spec import Encoding

DEFAULT_AUDIO_BITRATE = "192k"
DEFAULT_X264_PRESET = "medium"
# The ducking gain is evaluated once per frame at the frame's midpoint; 2.5 ms frames keep a
# 0.2 s ramp within 1% of the exact line.
DUCKING_FRAMES_PER_SECOND = 400


@dataclass(frozen=True)
class RenderInputs:
    """Local files for the plan: the video, each audio asset by id, each TTS event by timeline index."""

    video: Path
    video_stream_index: int
    audio_assets: dict[str, Path]
    tts: dict[int, Path]


@dataclass(frozen=True)
class FfmpegJob:
    args: list[str]  # everything after the ffmpeg binary
    filter_script: str
    reencode_video: bool


def needs_video_encode(encoding: Encoding, video_codec: str | None) -> bool:
    return encoding.requires_video_encode or video_codec != "h264"


def build_ffmpeg_job(
    plan: RenderPlan,
    inputs: RenderInputs,
    encoding: Encoding,
    *,
    video_codec: str | None,
    video_has_audio: bool,
    filter_script_path: Path,
    output_path: Path,
) -> FfmpegJob:
    """The argument list and graph for ``plan``; the caller writes ``filter_script`` to its path."""
    args: list[str] = ["-i", str(inputs.video)]
    filters: list[str] = []
    sr = plan.sample_rate
    fmt = f"aresample={sr},aformat=sample_fmts=fltp:channel_layouts=stereo,asetpts=PTS-STARTPTS"

    input_count = 1  # the video is input 0

    def add_input(path: Path, seconds: float) -> int:
        nonlocal input_count
        args.extend(["-t", _num(seconds), "-i", str(path)])
        input_count += 1
        return input_count - 1

    music_labels: list[str] = []
    for k, item in enumerate(plan.music):
        index = add_input(inputs.audio_assets[item.asset_id], item.length)
        chain = [fmt]
        if item.fade_in > 0:
            chain.append(f"afade=t=in:st=0:d={_num(item.fade_in)}")
        if item.fade_out > 0:
            chain.append(f"afade=t=out:st={_num(item.duration - item.fade_out)}:d={_num(item.fade_out)}")
        chain.append(_delay(item.offset, sr))
        filters.append(f"[{index}:a]{','.join(chain)}[m{k}]")
        music_labels.append(f"[m{k}]")

    bus: list[str] = []
    if music_labels:
        mixed = _mix(filters, music_labels, "musicmix")
        filters.append(f"{mixed}{_music_gain(plan)}[music]")
        bus.append("[music]")

    if video_has_audio and plan.video_volume > 0:
        filters.append(f"[0:a:0]{fmt},volume={_num(plan.video_volume)}[base]")
        bus.append("[base]")

    for event in plan.events:
        path = inputs.tts[event.index] if event.kind == "tts" else inputs.audio_assets[event.asset_id or ""]
        index = add_input(path, event.length)
        filters.append(f"[{index}:a]{fmt},volume={_num(event.volume)},{_delay(event.start, sr)}[e{event.index}]")
        bus.append(f"[e{event.index}]")

    # The finished mix goes to the AAC encoder as 16-bit PCM: ffmpeg's encoder runs about 2.5x
    # faster on it than on 32-bit float, and the rounding sits at -96 dBFS, far below AAC's own noise.
    end = f"apad=whole_len={plan.total_samples},atrim=end_sample={plan.total_samples},aformat=sample_fmts=s16"
    if bus:
        mixed = _mix(filters, bus, "mix")
        filters.append(f"{mixed}{end}[aout]")
    else:
        filters.append(f"anullsrc=r={sr}:cl=stereo,{end}[aout]")

    reencode = needs_video_encode(encoding, video_codec)
    video_map = f"0:{inputs.video_stream_index}"
    if reencode:
        # The fps filter drops/duplicates to exactly round(duration * fps) frames.
        rate = f"fps={_num(encoding.fps)}," if encoding.fps else ""
        filters.append(f"[{video_map}]{rate}format=yuv420p[vout]")
        video_map = "[vout]"
    args += ["-/filter_complex", str(filter_script_path), "-map", video_map, "-map", "[aout]"]
    args += _video_options(encoding) if reencode else ["-c:v", "copy"]
    args += ["-c:a", "aac", "-b:a", encoding.audio_bitrate or DEFAULT_AUDIO_BITRATE, "-ar", str(sr)]
    args += ["-movflags", "+faststart", "-map_metadata", "-1", "-y", str(output_path)]
    return FfmpegJob(args=args, filter_script=";\n".join(filters) + "\n", reencode_video=reencode)


def _video_options(encoding: Encoding) -> list[str]:
    options = ["-c:v", "libx264", "-preset", encoding.preset or DEFAULT_X264_PRESET, "-pix_fmt", "yuv420p"]
    options += ["-b:v", encoding.bitrate] if encoding.bitrate else ["-crf", "23"]
    if encoding.fps:
        options += ["-r", _num(encoding.fps)]  # the stream's declared rate; the graph already resampled
    return options


def _mix(filters: list[str], labels: Sequence[str], name: str) -> str:
    """A plain sum of ``labels`` (no normalisation); returns the filter prefix that reads it."""
    if len(labels) == 1:
        return labels[0]
    filters.append(f"{''.join(labels)}amix=inputs={len(labels)}:normalize=0:duration=longest[{name}]")
    return f"[{name}]"


def _music_gain(plan: RenderPlan) -> str:
    if not plan.ducking:
        return f"volume={_num(plan.music_volume)}"
    frame = max(1, plan.sample_rate // DUCKING_FRAMES_PER_SECOND)
    # The volume filter has no usable nb_samples, so the frame midpoint offset is a constant.
    midpoint = _num(frame / 2 / plan.sample_rate)
    expression = f"st(0,t+{midpoint});{_num(plan.music_volume)}*({gain_expression(plan.ducking)})"
    return f"asetnsamples=n={frame}:p=0,volume='{expression}':eval=frame,asetnsamples=n=1024:p=0"


def gain_expression(segments: Sequence[GainSegment]) -> str:
    """A balanced if/else tree over the segments of time ``ld(0)``: log-depth to evaluate."""
    if len(segments) == 1:
        seg = segments[0]
        if seg.start_gain == seg.end_gain or seg.end <= seg.start:
            return _num(seg.start_gain)
        slope = (seg.end_gain - seg.start_gain) / (seg.end - seg.start)
        sign = "-" if slope < 0 else "+"
        return f"{_num(seg.start_gain)}{sign}{_num(abs(slope))}*(ld(0)-{_num(seg.start)})"
    middle = len(segments) // 2
    left, right = gain_expression(segments[:middle]), gain_expression(segments[middle:])
    return f"if(lt(ld(0),{_num(segments[middle].start)}),{left},{right})"


def _delay(seconds: float, sample_rate: int) -> str:
    return f"adelay=delays={round(seconds * sample_rate)}S:all=1"


def _num(value: float) -> str:
    text = f"{value:.9f}".rstrip("0").rstrip(".")
    return text if text not in ("", "-0") else "0"
