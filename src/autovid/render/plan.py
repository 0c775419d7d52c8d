"""The mix plan: a pure function from the spec and measured durations to placements and gains.

Nothing here touches files or ffmpeg; :mod:`autovid.render.graph` turns a plan into a filter graph
and the test oracle turns the same semantics into a moviepy composition.
"""

from __future__ import annotations

from dataclasses import dataclass

from autovid.core.errors import FieldError, InvalidSpecError
from autovid.spec import JobSpec, TtsEvent

DEFAULT_SAMPLE_RATE = 48_000
# The filter graph does not grow with the placements (one pass of the playlist is looped), but the
# plan lists them: a 1 s track with a 0.5 s crossfade under 3 hours is about 21,600 placements.
MAX_MUSIC_PLACEMENTS = 25_000


@dataclass(frozen=True)
class MusicPlacement:
    """One playlist item on the timeline: it plays from ``offset`` for ``length`` seconds of its
    ``duration``, fading in over ``fade_in`` at its start and out over ``fade_out`` at its end."""

    asset_id: str
    offset: float
    duration: float
    length: float
    fade_in: float
    fade_out: float


@dataclass(frozen=True)
class EventPlacement:
    index: int
    kind: str  # "tts" or "audio"
    start: float
    duration: float  # the full length of the sound
    length: float  # what is heard before the video ends
    volume: float
    asset_id: str | None = None  # audio events


@dataclass(frozen=True)
class GainSegment:
    """The music gain goes linearly from ``start_gain`` at ``start`` to ``end_gain`` at ``end``."""

    start: float
    end: float
    start_gain: float
    end_gain: float

    def at(self, t: float) -> float:
        if self.end <= self.start:
            return self.start_gain
        return self.start_gain + (self.end_gain - self.start_gain) * (t - self.start) / (self.end - self.start)


@dataclass(frozen=True)
class RenderPlan:
    duration: float
    sample_rate: int
    video_volume: float  # 0 drops the video's own audio (or there is none)
    music: tuple[MusicPlacement, ...]
    music_volume: float
    events: tuple[EventPlacement, ...]
    ducking: tuple[GainSegment, ...]  # covers [0, duration]; empty when nothing ducks
    # Items in one pass of the playlist: ``music`` repeats with this period when it loops.
    playlist_length: int = 0

    @property
    def total_samples(self) -> int:
        return round(self.duration * self.sample_rate)

    def music_gain(self, t: float) -> float:
        """Ducking gain at time ``t`` (1 where nothing ducks), before ``music_volume``."""
        for segment in self.ducking:
            if segment.start <= t < segment.end:
                return segment.at(t)
        return 1.0


def check_timeline(spec: JobSpec, video_duration: float) -> None:
    """Every event must start before the video ends; raises InvalidSpecError naming each one."""
    errors = [
        FieldError(
            f"timeline[{i}].start",
            f"starts at {event.start:g}s, at or after the end of the video ({video_duration:.3f}s)",
        )
        for i, event in enumerate(spec.timeline)
        if event.start >= video_duration
    ]
    if errors:
        raise InvalidSpecError(errors)


def build_plan(
    spec: JobSpec,
    *,
    video_duration: float,
    video_sample_rate: int | None,
    video_has_audio: bool,
    asset_durations: dict[str, float],
    tts_durations: dict[int, float],
) -> RenderPlan:
    """Place everything. ``asset_durations`` maps audio asset ids, ``tts_durations`` timeline indexes."""
    check_timeline(spec, video_duration)
    events = tuple(
        _place_event(i, event, video_duration, asset_durations, tts_durations) for i, event in enumerate(spec.timeline)
    )
    music: tuple[MusicPlacement, ...] = ()
    music_volume = 0.0
    if spec.background_music is not None:
        bgm = spec.background_music
        music = layout_playlist(
            [(asset_id, asset_durations[asset_id]) for asset_id in bgm.playlist],
            crossfade=bgm.crossfade_duration,
            loop=bgm.loop,
            total=video_duration,
        )
        music_volume = bgm.volume
    ducks = [
        Duck(
            start=p.start, end=p.start + p.duration, fade=_event_data(spec, p.index).ducking_fade_duration, level=level
        )
        for p in events
        if (level := _event_data(spec, p.index).ducking_level) is not None
    ]
    return RenderPlan(
        duration=video_duration,
        sample_rate=video_sample_rate if video_has_audio and video_sample_rate else DEFAULT_SAMPLE_RATE,
        video_volume=spec.assets.video.volume if video_has_audio else 0.0,
        music=music,
        music_volume=music_volume,
        events=events,
        ducking=ducking_envelope(ducks, video_duration) if ducks and music else (),
        playlist_length=len(spec.background_music.playlist) if spec.background_music else 0,
    )


def _event_data(spec: JobSpec, index: int):  # noqa: ANN202 - TtsData | AudioData
    return spec.timeline[index].data


def _place_event(
    index: int, event, video_duration: float, asset_durations: dict[str, float], tts_durations: dict[int, float]
) -> EventPlacement:
    if isinstance(event, TtsEvent):
        duration, asset_id, kind = tts_durations[index], None, "tts"
    else:
        duration, asset_id, kind = asset_durations[event.data.asset_id], event.data.asset_id, "audio"
    return EventPlacement(
        index=index,
        kind=kind,
        start=event.start,
        duration=duration,
        length=min(duration, video_duration - event.start),
        volume=event.data.volume,
        asset_id=asset_id,
    )


def layout_playlist(
    items: list[tuple[str, float]], *, crossfade: float, loop: bool, total: float
) -> tuple[MusicPlacement, ...]:
    """Items in order, each crossfading into the next; repeated until ``total`` when looping.

    A crossfade is shortened to half the shorter of the two tracks, so no track fades in and out
    at the same time. Without ``loop`` the last item plays to its end and silence follows.
    """
    placements: list[MusicPlacement] = []
    offset, fade_in, k = 0.0, 0.0, 0
    while offset < total and (loop or k < len(items)):
        if len(placements) >= MAX_MUSIC_PLACEMENTS:
            raise InvalidSpecError(
                [FieldError("backgroundMusic.playlist", "is too short to loop over the whole video")]
            )
        asset_id, duration = items[k % len(items)]
        has_next = loop or k + 1 < len(items)
        fade_out = min(crossfade, duration / 2, items[(k + 1) % len(items)][1] / 2) if has_next else 0.0
        placements.append(
            MusicPlacement(
                asset_id=asset_id,
                offset=offset,
                duration=duration,
                length=min(duration, total - offset),
                fade_in=fade_in,
                fade_out=fade_out,
            )
        )
        offset += duration - fade_out
        fade_in = fade_out
        k += 1
    return tuple(placements)


# --- ducking ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Duck:
    """Music gain ramps to ``level`` over [start-fade, start], holds to ``end``, ramps back by end+fade."""

    start: float
    end: float
    fade: float
    level: float

    def breakpoints(self) -> tuple[float, ...]:
        return (self.start - self.fade, self.start, self.end, self.end + self.fade)

    def line(self, t: float) -> tuple[float, float]:
        """(slope, gain at 0) of the piece that contains ``t`` (t is never a breakpoint)."""
        drop = 1.0 - self.level
        if t < self.start - self.fade or t > self.end + self.fade:
            return 0.0, 1.0
        if t < self.start:  # ramp down: 1 at start-fade, level at start
            slope = -drop / self.fade
            return slope, 1.0 - slope * (self.start - self.fade)
        if t <= self.end:
            return 0.0, self.level
        slope = drop / self.fade  # ramp up: level at end, 1 at end+fade
        return slope, self.level - slope * self.end


def ducking_envelope(ducks: list[Duck], duration: float) -> tuple[GainSegment, ...]:
    """The exact lower envelope (lowest gain wins) of all ducks over [0, duration], as linear segments."""
    points = sorted({0.0, duration, *(b for d in ducks for b in d.breakpoints() if 0.0 < b < duration)})
    segments: list[GainSegment] = []
    for a, b in zip(points, points[1:], strict=False):
        if b <= a:
            continue
        lines = [d.line((a + b) / 2) for d in ducks] + [(0.0, 1.0)]
        cuts = sorted(
            {a, b}
            | {
                x
                for i, (m1, c1) in enumerate(lines)
                for m2, c2 in lines[i + 1 :]
                if m1 != m2 and a < (x := (c2 - c1) / (m1 - m2)) < b
            }
        )
        for x0, x1 in zip(cuts, cuts[1:], strict=False):
            mid = (x0 + x1) / 2
            slope, intercept = min(lines, key=lambda line: line[0] * mid + line[1])
            segments.append(GainSegment(x0, x1, slope * x0 + intercept, slope * x1 + intercept))
    return tuple(_merge(segments))


def _merge(segments: list[GainSegment]) -> list[GainSegment]:
    """Join neighbours that lie on one line, so the graph expression stays small."""
    merged: list[GainSegment] = []
    for seg in segments:
        if merged:
            last = merged[-1]
            joined = GainSegment(last.start, seg.end, last.start_gain, seg.end_gain)
            if abs(last.end_gain - seg.start_gain) < 1e-12 and abs(joined.at(last.end) - last.end_gain) < 1e-9:
                merged[-1] = joined
                continue
        merged.append(seg)
    return merged
