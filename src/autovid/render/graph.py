"""One ffmpeg invocation for a plan: inputs, a filter graph (written to a script file) and output options.

Graph shape::

    [track]* -> trim/pad/fades -> lanes -> amix: one pass of the playlist (or its steady cycle,
                repeated when the playlist loops) -> ducking volume -> [music] -----------\
    [video audio] -> volume --------------------------------------------------------------- amix -> [aout]
    [event]* -> volume -> lanes (events that never overlap, with silence between) ---------/

The cost is linear in the output's length whatever the loop count or the number of events:

* every distinct file is one ``-i`` input, decoded once (``asplit`` when it is used more than
  once), so the number of inputs depends only on the distinct files, never on the video's length
  or on how often the music loops;
* a looping playlist is built once, as its steady cycle, and replayed by ``aloop``, which keeps
  only that cycle's samples in memory; a cycle too long for that is rendered first, by a
  separate ffmpeg run, to a raw file that the main run reads with ``-stream_loop``;
* sounds that never overlap share a lane: one stream that plays each in turn with silence in
  between (``adelay`` / ``apad`` + ``concat``), so the mix sums a few lanes instead of padding
  every sound to the whole timeline.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from autovid.render.ffmpeg import MediaInput, input_args
from autovid.render.plan import GainSegment, MusicPlacement, RenderPlan
from autovid.spec import Encoding

DEFAULT_AUDIO_BITRATE = "192k"
DEFAULT_X264_PRESET = "medium"
# The ducking gain is evaluated once per frame at the frame's midpoint; 2.5 ms frames keep a
# 0.2 s ramp within 1% of the exact line.
DUCKING_FRAMES_PER_SECOND = 400
# aloop keeps the whole cycle in memory (8 bytes a stereo sample): up to about 90 s at 44.1 kHz.
# A longer cycle is rendered once to a raw file that the main run streams with -stream_loop.
ALOOP_MAX_SAMPLES = 4_000_000


@dataclass(frozen=True)
class RenderInputs:
    """Inputs for the plan: the video (a local file or a stream), each audio asset by id, each TTS
    event by timeline index."""

    video: MediaInput
    video_stream_index: int
    audio_assets: dict[str, Path]
    tts: dict[int, Path]


@dataclass(frozen=True)
class FfmpegJob:
    args: list[str]  # everything after the ffmpeg binary
    filter_script: str
    reencode_video: bool
    # Run first, its script written to ``prepare_script_path``: renders a long music cycle to a file.
    prepare: FfmpegJob | None = None
    prepare_script_path: Path | None = None


def needs_video_encode(encoding: Encoding, video_codec: str | None) -> bool:
    return encoding.requires_video_encode or video_codec != "h264"


class _Sources:
    """One ``-i`` per distinct audio file; each use gets its own label (``asplit`` when shared).

    With ``split=False`` every use is its own input instead, so no use waits in memory for another.
    """

    def __init__(self, args: list[str], fmt: str, first_index: int, *, split: bool = True):
        self.args, self.fmt, self.next_index, self.split = args, fmt, first_index, split
        self.index: dict[Path, int] = {}
        self.uses: dict[int, int] = {}

    def add(self, *options: str) -> int:
        """A further input (``options`` end with ``-i PATH``); returns its index."""
        self.args.extend(options)
        self.next_index += 1
        return self.next_index - 1

    def use(self, path: Path) -> str:
        if path not in self.index or not self.split:
            self.index[path] = self.add("-i", str(path))
        i = self.index[path]
        self.uses[i] = self.uses.get(i, 0) + 1
        return f"[a{i}u{self.uses[i] - 1}]"

    def filters(self) -> list[str]:
        out = []
        for i, count in self.uses.items():
            labels = "".join(f"[a{i}u{u}]" for u in range(count))
            out.append(f"[{i}:a:0]{self.fmt}{f',asplit={count}' if count > 1 else ''}{labels}")
        return out


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
    args: list[str] = input_args(inputs.video)
    filters: list[str] = []
    sr = plan.sample_rate
    fmt = f"aresample={sr},aformat=sample_fmts=fltp:channel_layouts=stereo,asetpts=PTS-STARTPTS"
    sources = _Sources(args, fmt, first_index=1)  # the video is input 0

    bus: list[str] = []
    prepare: FfmpegJob | None = None
    if plan.music:
        cycle_script = filter_script_path.with_name("music_cycle.txt")
        bed, prepare = _music_bed(filters, plan, inputs, sources, cycle_script)
        filters.append(f"{bed}atrim=end_sample={plan.total_samples},{_music_gain(plan)}[music]")
        bus.append("[music]")

    if video_has_audio and plan.video_volume > 0:
        filters.append(f"[0:a:0]{fmt},volume={_num(plan.video_volume)}[base]")
        bus.append("[base]")

    events = [
        _Sound(
            sources.use(inputs.tts[e.index] if e.kind == "tts" else inputs.audio_assets[e.asset_id or ""]),
            [f"volume={_num(e.volume)}"],
            _samples(e.start, sr),
            _samples(e.length, sr),
        )
        for e in plan.events
    ]
    bus += _lanes(filters, events, "e")
    filters[:0] = sources.filters()

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
    return FfmpegJob(
        args=args,
        filter_script=";\n".join(filters) + "\n",
        reencode_video=reencode,
        prepare=prepare,
        prepare_script_path=cycle_script if prepare else None,
    )


@dataclass(frozen=True)
class _Sound:
    """One use of a source: ``chain`` applied, then placed at sample ``start`` for ``length`` samples."""

    source: str  # the label of this use
    chain: list[str]
    start: int
    length: int


def _lanes(filters: list[str], sounds: Sequence[_Sound], name: str) -> list[str]:
    """Sounds in as few lanes as possible (never overlapping within a lane); returns the lane labels.

    A lane is one stream: its first sound delayed to its start, each sound trimmed to its length
    and padded with silence up to the next one, concatenated. Each lane ends with its last sound.
    """
    lanes: list[list[_Sound]] = []
    for sound in sorted(sounds, key=lambda x: x.start):
        lane = next((lane for lane in lanes if lane[-1].start + lane[-1].length <= sound.start), None)
        if lane is None:
            lanes.append([sound])
        else:
            lane.append(sound)
    labels = []
    for k, lane in enumerate(lanes):
        parts = []
        for j, sound in enumerate(lane):
            chain = [*sound.chain, f"atrim=end_sample={sound.length}"]
            if j == 0 and sound.start > 0:
                chain.append(f"adelay=delays={sound.start}S:all=1")
            if j + 1 < len(lane):  # silence up to the next sound of the lane
                chain.append(f"apad=whole_len={lane[j + 1].start - (0 if j == 0 else sound.start)}")
            filters.append(f"{sound.source}{','.join(chain)}[{name}{k}s{j}]")
            parts.append(f"[{name}{k}s{j}]")
        if len(parts) == 1:
            labels.append(parts[0])
        else:
            filters.append(f"{''.join(parts)}concat=n={len(parts)}:v=0:a=1[{name}{k}]")
            labels.append(f"[{name}{k}]")
    return labels


def _music_bed(
    filters: list[str], plan: RenderPlan, inputs: RenderInputs, sources: _Sources, cycle_script: Path
) -> tuple[str, FfmpegJob | None]:
    """The playlist as one stream (unbounded when it loops; the caller trims it), and the job that
    must run first when its cycle is rendered to a file.

    Without looping (or when the video ends during the first pass) the bed is the placements as
    they are. A looping bed, from time F (the crossfade from the last item back to the first) on,
    repeats with period P = one pass minus F: the bed is the first item's first F samples followed
    by the cycle [F, F + P) of the timeline, forever. The cycle is built from one pass (the first
    item from its F-th sample) plus the next pass's first item fading in, and replayed by
    ``aloop`` when it is short; a longer one is rendered once to a raw file, streamed in a loop.
    """
    sr = plan.sample_rate
    n = plan.playlist_length or len(plan.music)
    first_pass = plan.music[:n]

    def sound(item: MusicPlacement, start: int, skip: int = 0, length: int | None = None, *, via=sources) -> _Sound:
        full = _samples(item.duration, sr)
        fade_in, fade_out = _samples(item.fade_in, sr), _samples(item.fade_out, sr)
        length = full - skip if length is None else length
        # Exactly the planned length, so every placement lands where the plan says.
        chain = [
            f"atrim=start_sample={skip}:end_sample={full},asetpts=PTS-STARTPTS" if skip else f"atrim=end_sample={full}"
        ]
        chain.append(f"apad=whole_len={full - skip}")
        if fade_in > skip:
            chain.append(f"afade=t=in:ss={-skip}:ns={fade_in}")
        if fade_out > 0 and skip + length > full - fade_out:
            chain.append(f"afade=t=out:ss={full - fade_out - skip}:ns={fade_out}")
        return _Sound(via.use(inputs.audio_assets[item.asset_id]), chain, start, length)

    if len(plan.music) <= n:  # no second pass starts before the video ends
        lanes = _lanes(filters, [sound(p, _samples(p.offset, sr)) for p in first_pass], "m")
        return _mix(filters, lanes, "bed"), None
    head = _samples(first_pass[-1].fade_out, sr)  # F
    period = _samples(plan.music[n].offset, sr)  # P: where the second pass starts

    def cycle(into: list[str], via: _Sources) -> str:
        first, again = first_pass[0], plan.music[n]
        parts = [sound(first, 0, skip=head, via=via)] if _samples(first.duration, sr) > head else []
        parts += [sound(p, _samples(p.offset, sr) - head, via=via) for p in first_pass[1:]]
        if head:
            parts.append(sound(again, period - head, length=head, via=via))
        mixed = _mix(into, _lanes(into, parts, "m"), "cycle")
        return f"{mixed}apad=whole_len={period},atrim=end_sample={period}"

    prepare = None
    if period <= ALOOP_MAX_SAMPLES:
        filters.append(f"{cycle(filters, sources)},aloop=loop=-1:size={period}[loop]")
    else:
        raw = cycle_script.with_suffix(".f32")
        prepare_args: list[str] = []
        prepare_filters: list[str] = []
        own = _Sources(prepare_args, sources.fmt, first_index=0, split=False)
        prepare_filters.append(f"{cycle(prepare_filters, own)}[looped]")
        prepare_filters[:0] = own.filters()
        prepare_args += ["-/filter_complex", str(cycle_script), "-map", "[looped]"]
        prepare_args += ["-c:a", "pcm_f32le", "-f", "f32le", "-y", str(raw)]
        prepare = FfmpegJob(args=prepare_args, filter_script=";\n".join(prepare_filters) + "\n", reencode_video=False)
        index = sources.add("-stream_loop", "-1", "-f", "f32le", "-ar", str(sr), "-ac", "2", "-i", str(raw))
        filters.append(f"[{index}:a:0]aformat=sample_fmts=fltp:channel_layouts=stereo[loop]")
    if not head:
        return "[loop]", prepare
    start = sound(plan.music[0], 0, length=head)
    filters.append(f"{start.source}{','.join(start.chain)},atrim=end_sample={head}[mhead]")
    filters.append("[mhead][loop]concat=n=2:v=0:a=1,asetpts=N/SR/TB[bed]")
    return "[bed]", prepare


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


def _samples(seconds: float, sample_rate: int) -> int:
    return round(seconds * sample_rate)


def _num(value: float) -> str:
    text = f"{value:.9f}".rstrip("0").rstrip(".")
    return text if text not in ("", "-0") else "0"
