"""Reference renderer: the documented mix semantics implemented independently with moviepy 2.x.

Test and benchmark use only. It shares nothing with autovid.render's plan or graph: the playlist
layout, the ducking gain (a per-sample min over the ducks) and the mix are written out again here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from moviepy import AudioClip, AudioFileClip, CompositeAudioClip, VideoFileClip, afx

from autovid.spec import JobSpec, TtsEvent


@dataclass
class _Duck:
    start: float
    end: float
    fade: float
    level: float

    def gain(self, t: np.ndarray) -> np.ndarray:
        g = np.ones_like(t, dtype=float)
        drop = 1.0 - self.level
        if self.fade > 0:
            down = (t >= self.start - self.fade) & (t < self.start)
            g[down] = 1.0 - drop * (t[down] - (self.start - self.fade)) / self.fade
            up = (t > self.end) & (t <= self.end + self.fade)
            g[up] = self.level + drop * (t[up] - self.end) / self.fade
        g[(t >= self.start) & (t <= self.end)] = self.level
        return g


def oracle_render(
    spec: JobSpec,
    sources: dict[str, Path],
    tts: dict[int, Path],
    out: Path,
    *,
    sample_rate: int = 48_000,
    preset: str = "medium",
    audio_only: bool = False,
) -> Path:
    """``sources`` maps asset ids to local files, ``tts`` timeline indexes to speech WAVs."""
    video = VideoFileClip(str(sources[spec.assets.video.id]), audio=spec.assets.video.volume > 0, audio_fps=sample_rate)
    duration = video.duration
    layers = []
    if video.audio is not None:
        layers.append(video.audio.with_effects([afx.MultiplyVolume(spec.assets.video.volume)]))

    opened: dict[str, AudioFileClip] = {}

    def clip_of(asset_id: str) -> AudioFileClip:
        if asset_id not in opened:
            opened[asset_id] = AudioFileClip(str(sources[asset_id]), fps=sample_rate)
        return opened[asset_id]

    ducks: list[_Duck] = []
    events = []
    for i, event in enumerate(spec.timeline):
        clip = (
            AudioFileClip(str(tts[i]), fps=sample_rate) if isinstance(event, TtsEvent) else clip_of(event.data.asset_id)
        )
        if event.data.ducking_level is not None:
            ducks.append(
                _Duck(
                    event.start, event.start + clip.duration, event.data.ducking_fade_duration, event.data.ducking_level
                )
            )
        playable = min(clip.duration, duration - event.start)
        events.append(
            clip.subclipped(0, playable).with_effects([afx.MultiplyVolume(event.data.volume)]).with_start(event.start)
        )

    music = spec.background_music
    if music is not None:
        pieces, t, k, fade_in = [], 0.0, 0, 0.0
        items = [clip_of(a) for a in music.playlist]
        while t < duration and (music.loop or k < len(items)):
            item = items[k % len(items)]
            following = items[(k + 1) % len(items)]
            more = music.loop or k + 1 < len(items)
            fade_out = min(music.crossfade_duration, item.duration / 2, following.duration / 2) if more else 0.0
            effects = []
            if fade_in:
                effects.append(afx.AudioFadeIn(fade_in))
            if fade_out:
                effects.append(afx.AudioFadeOut(fade_out))
            pieces.append(item.with_effects(effects).with_start(t))
            t += item.duration - fade_out
            fade_in = fade_out
            k += 1
        bed = CompositeAudioClip(pieces).with_duration(duration)

        def ducked(t, bed=bed):
            frame = bed.get_frame(t)
            times = np.atleast_1d(np.asarray(t, dtype=float))
            gain = np.ones_like(times)
            for duck in ducks:
                gain = np.minimum(gain, duck.gain(times))
            gain = gain * music.volume
            return frame * (gain[:, None] if frame.ndim == 2 else gain[0])

        layers.append(AudioClip(ducked, duration=duration, fps=sample_rate))

    layers.extend(events)
    mix = CompositeAudioClip(layers).with_duration(duration).with_fps(sample_rate)
    if audio_only:
        mix.write_audiofile(str(out), fps=sample_rate, nbytes=2, codec="pcm_s16le", logger=None)
    else:
        encoding = spec.output.encoding
        video.with_audio(mix).write_videofile(
            str(out),
            codec="libx264",
            audio_codec="aac",
            audio_fps=sample_rate,
            audio_bitrate=encoding.audio_bitrate or "192k",
            preset=preset,
            logger=None,
        )
    video.close()
    for clip in opened.values():
        clip.close()
    return out
