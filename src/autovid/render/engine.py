"""render(spec) -> MP4: fetch assets, synthesize speech, plan the mix and run one ffmpeg graph."""

from __future__ import annotations

import logging
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from autovid.config import RenderSettings
from autovid.errors import AutoVidError, InvalidAssetError, RenderFailedError
from autovid.render.fetch import AssetFetcher
from autovid.render.ffmpeg import ffmpeg_exe
from autovid.render.graph import RenderInputs, build_ffmpeg_job
from autovid.render.plan import RenderPlan, build_plan, check_timeline
from autovid.render.probe import MediaInfo, probe
from autovid.render.tts import SpeechSynthesizer
from autovid.spec import JobSpec, TtsEvent

log = logging.getLogger(__name__)

ProgressCallback = Callable[[int], None]
_OUT_TIME = re.compile(r"^out_time_us=(\d+)$")


@dataclass(frozen=True)
class RenderResult:
    output_path: Path
    duration: float
    size_bytes: int
    video_copied: bool
    plan: RenderPlan


@dataclass(frozen=True)
class ProbedAssets:
    video: MediaInfo
    audio: dict[str, MediaInfo]  # only the audio assets the playlist or timeline uses


def referenced_audio_ids(spec: JobSpec) -> list[str]:
    ids = list(spec.background_music.playlist) if spec.background_music else []
    ids += [e.data.asset_id for e in spec.timeline if not isinstance(e, TtsEvent)]
    return list(dict.fromkeys(ids))


def probe_assets(spec: JobSpec, fetcher: AssetFetcher) -> ProbedAssets:
    """Fetch and probe the video and every used audio asset; errors name the asset and its field."""
    video_asset = spec.assets.video
    video = _fetch_and_probe(fetcher, video_asset.source, video_asset.id, "assets.video.source")
    if not video.has_video:
        raise InvalidAssetError(
            f"asset {video_asset.id!r} has no video stream", asset_id=video_asset.id, field="assets.video.source"
        )
    audio: dict[str, MediaInfo] = {}
    for asset_id in referenced_audio_ids(spec):
        index = next(i for i, a in enumerate(spec.assets.audio) if a.id == asset_id)
        info = _fetch_and_probe(fetcher, spec.assets.audio[index].source, asset_id, f"assets.audio[{index}].source")
        if not info.has_audio:
            raise InvalidAssetError(
                f"asset {asset_id!r} has no audio stream", asset_id=asset_id, field=f"assets.audio[{index}].source"
            )
        audio[asset_id] = info
    return ProbedAssets(video=video, audio=audio)


def validate_media(spec: JobSpec, fetcher: AssetFetcher) -> ProbedAssets:
    """The validate step: every asset decodes and every event starts before the video ends."""
    assets = probe_assets(spec, fetcher)
    check_timeline(spec, assets.video.duration)
    return assets


def render(
    spec: JobSpec,
    workdir: str | Path,
    progress_callback: ProgressCallback | None = None,
    *,
    fetcher: AssetFetcher | None = None,
    synthesizer: SpeechSynthesizer | None = None,
    settings: RenderSettings | None = None,
) -> RenderResult:
    """Render ``spec`` to ``workdir / spec.output.filename``. Temporary files are removed on every path.

    ``progress_callback`` receives whole percentages 0-100, increasing, from ffmpeg's progress.
    """
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    settings = settings or RenderSettings.from_env()
    owned = fetcher is None
    fetcher = fetcher or AssetFetcher(workdir, settings=settings)
    try:
        report = _Progress(progress_callback)
        report(0)
        assets = probe_assets(spec, fetcher)
        check_timeline(spec, assets.video.duration)
        synthesizer = synthesizer or SpeechSynthesizer(fetcher.dir, settings)
        tts = {i: synthesizer.synthesize(e.data, field=f"timeline[{i}].data") for i, e in _tts_events(spec)}
        video_audio = assets.video.audio
        plan = build_plan(
            spec,
            video_duration=assets.video.duration,
            video_sample_rate=video_audio.sample_rate if video_audio else None,
            video_has_audio=video_audio is not None,
            asset_durations={asset_id: info.duration for asset_id, info in assets.audio.items()},
            tts_durations={i: speech.duration for i, speech in tts.items()},
        )
        output = workdir / spec.output.filename
        script = fetcher.dir / "filtergraph.txt"
        job = build_ffmpeg_job(
            plan,
            RenderInputs(
                video=assets.video.path,
                video_stream_index=assets.video.video.index,  # type: ignore[union-attr]
                audio_assets={asset_id: info.path for asset_id, info in assets.audio.items()},
                tts={i: speech.path for i, speech in tts.items()},
            ),
            spec.output.encoding,
            video_codec=assets.video.video.codec,  # type: ignore[union-attr]
            video_has_audio=video_audio is not None,
            filter_script_path=script,
            output_path=output,
        )
        script.write_text(job.filter_script)
        run_with_progress(job.args, plan.duration, report, log_path=fetcher.dir / "ffmpeg.log")
        report(100)
        return RenderResult(
            output_path=output,
            duration=plan.duration,
            size_bytes=output.stat().st_size,
            video_copied=not job.reencode_video,
            plan=plan,
        )
    finally:
        if owned:
            fetcher.close()


def run_with_progress(args: list[str], duration: float, report: Callable[[int], None], *, log_path: Path) -> None:
    """Run ffmpeg with ``-progress pipe:1``; stderr goes to ``log_path`` and its tail into the error."""
    command = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-nostats", "-progress", "pipe:1", *args]
    with log_path.open("w") as stderr:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, text=True)
        assert process.stdout is not None
        for line in process.stdout:
            match = _OUT_TIME.match(line.strip())
            if match and duration > 0:
                report(min(99, int(int(match[1]) / 1e6 / duration * 100)))
        code = process.wait()
    if code != 0:
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-15:])
        raise RenderFailedError(f"ffmpeg exited with {code}:\n{tail}")


class _Progress:
    """Forwards only increasing whole percentages."""

    def __init__(self, callback: ProgressCallback | None):
        self.callback = callback
        self.last = -1

    def __call__(self, percent: int) -> None:
        percent = max(0, min(100, percent))
        if self.callback and percent > self.last:
            self.last = percent
            self.callback(percent)


def _tts_events(spec: JobSpec) -> list[tuple[int, TtsEvent]]:
    return [(i, e) for i, e in enumerate(spec.timeline) if isinstance(e, TtsEvent)]


def _fetch_and_probe(fetcher: AssetFetcher, source: str, asset_id: str, field: str) -> MediaInfo:
    try:
        return probe(fetcher.fetch(source, asset_id=asset_id), asset_id=asset_id)
    except AutoVidError as exc:
        exc.asset_id = exc.asset_id or asset_id
        exc.field = exc.field or field
        raise
