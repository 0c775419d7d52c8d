"""render(spec) -> MP4: fetch assets, synthesize speech, plan the mix and run one ffmpeg graph."""

from __future__ import annotations

import logging
import re
import subprocess
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

from autovid.core.errors import AutoVidError, InvalidAssetError, RenderFailedError
from autovid.render.fetch import AssetFetcher
from autovid.render.ffmpeg import MediaInput, RemoteInput, ffmpeg_exe, raise_stream_failures
from autovid.render.graph import RenderInputs, build_ffmpeg_job
from autovid.render.plan import RenderPlan, build_plan, check_timeline
from autovid.render.probe import MediaInfo, probe
from autovid.render.tts import Speech, SpeechSynthesizer
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
    """The audio assets the playlist or the timeline uses, in the order ``assets.audio`` lists them."""
    used = set(spec.background_music.playlist) if spec.background_music else set()
    used |= {e.data.asset_id for e in spec.timeline if not isinstance(e, TtsEvent)}
    return [asset.id for asset in spec.assets.audio if asset.id in used]


# Probes are short ffmpeg subprocesses, so a few threads overlap them with each other and with
# the remaining downloads.
PROBE_WORKERS = 4


def probe_assets(spec: JobSpec, fetcher: AssetFetcher, *, video_duration: float | None = None) -> ProbedAssets:
    """Fetch and probe the video and every used audio asset; errors name the asset and its field.

    Fetches run one at a time, in spec order (the video streamed where the fetcher can, the
    rest downloaded); each asset is probed as soon as it is there, concurrently with the next
    downloads and probes. When several assets are bad, the error is
    the first one in spec order, exactly as if they were checked one by one, and no further
    asset is fetched once an earlier one has failed.

    ``video_duration``, when an earlier step measured it on the same (pinned) bytes, is taken as
    the video's length, so the video's header is read but its packets are not listed again.
    """
    video_asset = spec.assets.video
    wanted = [(video_asset.id, video_asset.source, "assets.video.source", True)]
    for asset_id in referenced_audio_ids(spec):
        index = next(i for i, a in enumerate(spec.assets.audio) if a.id == asset_id)
        wanted.append((asset_id, spec.assets.audio[index].source, f"assets.audio[{index}].source", False))

    ffmpeg_exe()  # found once here, not by each probe thread at once
    outcomes: list[Future[MediaInfo] | BaseException] = []
    with ThreadPoolExecutor(max_workers=min(PROBE_WORKERS, len(wanted)), thread_name_prefix="probe") as pool:
        for asset_id, source, field, is_video in wanted:
            if any(isinstance(o, Future) and o.done() and o.exception() for o in outcomes):
                break  # an earlier asset already failed, and its error is the one raised
            try:  # the video is streamed where it can be (it is the one large file), the rest fetched
                path = fetcher.open(source, asset_id=asset_id) if is_video else fetcher.fetch(source, asset_id=asset_id)
            except Exception as exc:  # noqa: BLE001 - raised below, after any earlier asset's error
                outcomes.append(_named(exc, asset_id, field) if isinstance(exc, AutoVidError) else exc)
                break
            known = video_duration if is_video else None
            outcomes.append(pool.submit(_probe_checked, path, asset_id, field, is_video, known))
        # Leaving the block waits for every probe, so none outlives the fetcher's directory.
    infos: list[MediaInfo] = []
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome
        infos.append(outcome.result())
    return ProbedAssets(video=infos[0], audio={w[0]: info for w, info in zip(wanted[1:], infos[1:], strict=True)})


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
    fetcher: AssetFetcher,
    synthesizer: SpeechSynthesizer | None = None,
    video_duration: float | None = None,
) -> RenderResult:
    """Render ``spec`` to ``workdir / spec.output.filename`` with the assets ``fetcher`` gets (the
    caller closes it). Speech comes from ``synthesizer``, by default one configured like the fetcher.

    ``progress_callback`` receives whole percentages 0-100, increasing, from ffmpeg's progress.
    ``video_duration`` is the video's length as an earlier step measured it on the same pinned bytes.
    """
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    report = _Progress(progress_callback)
    report(0)
    synthesizer = synthesizer or SpeechSynthesizer(fetcher.dir, fetcher.settings)
    assets, tts = _probe_and_synthesize(spec, fetcher, synthesizer, video_duration)
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
    if job.prepare is not None and job.prepare_script_path is not None:  # a long music cycle, rendered once
        job.prepare_script_path.write_text(job.prepare.filter_script)
        run_with_progress(job.prepare.args, 0, report, log_path=fetcher.dir / "ffmpeg-music.log")
    script.write_text(job.filter_script)
    try:
        run_with_progress(
            job.args, plan.duration, report, log_path=fetcher.dir / "ffmpeg.log", streamed=[assets.video.path]
        )
    except AutoVidError as exc:
        if exc.asset_id == spec.assets.video.id:  # the streamed video failed: name its field too
            _named(exc, spec.assets.video.id, "assets.video.source")
        raise
    report(100)
    return RenderResult(
        output_path=output,
        duration=plan.duration,
        size_bytes=output.stat().st_size,
        video_copied=not job.reencode_video,
        plan=plan,
    )


def run_with_progress(
    args: list[str],
    duration: float,
    report: Callable[[int], None],
    *,
    log_path: Path,
    streamed: Sequence[MediaInput] = (),
) -> None:
    """Run ffmpeg with ``-progress pipe:1``; stderr goes to ``log_path`` and its tail into the error.

    A streamed input that failed (replaced, gone, S3 unavailable) raises its own typed error,
    even when ffmpeg exited 0: ffmpeg takes an input that breaks off for one that ended.
    """
    command = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-nostats", "-progress", "pipe:1", *args]
    with (
        log_path.open("w") as stderr,
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, text=True) as process,
    ):
        assert process.stdout is not None
        try:
            for line in process.stdout:
                match = _OUT_TIME.match(line.strip())
                if match and duration > 0:
                    report(min(99, int(int(match[1]) / 1e6 / duration * 100)))
        except BaseException:
            process.kill()  # never leave ffmpeg writing into a directory that is about to go
            raise
        code = process.wait()
    raise_stream_failures(streamed)
    if code != 0:
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-15:])
        for media in streamed:
            if isinstance(media, RemoteInput):
                tail = tail.replace(media.url, media.source)
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


def _probe_and_synthesize(
    spec: JobSpec, fetcher: AssetFetcher, synthesizer: SpeechSynthesizer, video_duration: float | None = None
) -> tuple[ProbedAssets, dict[int, Speech]]:
    """Probe the assets and check the timeline while one background thread synthesizes the speech.

    The speech is synthesized in timeline order, one utterance at a time, as before, so repeated
    texts still come from the cache. Errors keep their precedence: an asset error first, then a
    timeline error, then a speech error. Once probing or the timeline check has failed, no
    further utterance is synthesized.
    """
    events = _tts_events(spec)
    if not events:
        assets = probe_assets(spec, fetcher, video_duration=video_duration)
        check_timeline(spec, assets.video.duration)
        return assets, {}
    stop = threading.Event()

    def synthesize_all() -> dict[int, Speech]:
        speech: dict[int, Speech] = {}
        for i, event in events:
            if stop.is_set():
                break
            speech[i] = synthesizer.synthesize(event.data, field=f"timeline[{i}].data")
        return speech

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="tts") as pool:
        speech = pool.submit(synthesize_all)
        try:
            assets = probe_assets(spec, fetcher, video_duration=video_duration)
            check_timeline(spec, assets.video.duration)
        except BaseException:
            stop.set()
            raise
        # Leaving the block waits for the synthesis, so it never outlives the fetcher's directory.
        return assets, speech.result()


def _probe_checked(
    path: MediaInput, asset_id: str, field: str, is_video: bool, known_duration: float | None = None
) -> MediaInfo:
    """Probe one fetched (or streamed) asset and check it has the stream its role needs."""
    try:
        try:
            if known_duration is None:
                info = probe(path, asset_id=asset_id, expect_video=is_video)
            else:
                info = replace(probe(path, asset_id=asset_id, exact=False), duration=known_duration)
        finally:
            raise_stream_failures([path])  # a stream that broke off explains a probe's failure, or a short length
    except AutoVidError as exc:
        _named(exc, asset_id, field)
        raise
    if is_video and not info.has_video:
        raise InvalidAssetError(f"asset {asset_id!r} has no video stream", asset_id=asset_id, field=field)
    if not is_video and not info.has_audio:
        raise InvalidAssetError(f"asset {asset_id!r} has no audio stream", asset_id=asset_id, field=field)
    return info


def _named(exc: AutoVidError, asset_id: str, field: str) -> AutoVidError:
    exc.asset_id = exc.asset_id or asset_id
    exc.field = exc.field or field
    return exc
