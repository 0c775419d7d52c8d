"""Render benchmark: our engine vs the moviepy reference vs one hand-written ffmpeg command.

    python bench/render.py [--workdir DIR] [--skip-moviepy]

Generates the job (60 s 1280x720 30 fps H.264, a 2-track playlist with crossfade, 3 TTS events and
2 ducking SFX), then times each renderer in a fresh subprocess while sampling the resident memory
of that whole process tree (ffmpeg children included) from /proc. Prints a table.

The input is testsrc2 with light temporal grain, like camera footage: flat synthetic frames make
x264 (and so the moviepy re-encode) unrealistically fast. ``--flat`` drops the grain.

Two wall times are shown: the whole process (interpreter start and imports included) and the
``render()`` call alone, which is what a warm worker pays per job. Ratios use the call.

The speech is synthesized once before anything is timed, and every renderer reads the same cached
WAV files; the "speech not cached" row shows our engine synthesizing it inside the call, as a job
with the default per-job cache does. The hand-written command and moviepy write 48 kHz audio; our
engine writes the video's own rate (44.1 kHz here), as the mix semantics require. The "44.1 kHz"
hand-written row is the same command at the video's rate, the like-for-like comparison. The
hand-written command feeds the encoder 32-bit float, as a person typing it would; our engine
feeds it 16-bit PCM, which ffmpeg's AAC encoder handles about 2.5 times faster.

Targets on the 2-core reference machine: ours <= 1/15 of moviepy's wall time, <= 1.25x the
hand-written command, peak RSS <= 150 MB on the 5-minute input.

    python bench/render.py --jingle 60,600,3600 [--skip-hand-written]

The looped-jingle case instead: a 1280x720 video of each length (the 60 s clip concatenated with
``-c copy``), a looped playlist of a 7 s and a 6 s track with a 1 s crossfade, and two ducking
sound effects. Each length is rendered by ``autovid render`` (a fresh process: start-up included)
and by one hand-written ffmpeg command (``acrossfade`` + ``aloop``, the same ducking as a
``volume`` expression, the video copied) at the same sample rate, both like for like (the AAC
encoder fed 16-bit PCM, as ours does) and as typed (fed 32-bit float). It prints wall time and the
peak RSS of each process tree, the ratio per length and the ratio's slope as the length grows.
Lengths up to 600 s are the best of ``--repeat`` runs each, as the machine may be shared.
Targets: ratio <= 1.25x at every length, not growing with length; peak RSS <= 150 MB at 3600 s.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from autovid.core.config import Limits
from autovid.render.ffmpeg import ffmpeg_exe
from autovid.render.probe import probe
from autovid_cli.offline_render import LocalFileFetcher

SOURCE = "s3://bench-media/"
SPEECH = [
    "Welcome to the benchmark. This sentence is spoken over the music.",
    "Here is the second announcement, with the music ducked underneath.",
    "And a final word before the music comes back up.",
]


# --- job generation --------------------------------------------------------------------


def copy_video_mix_args(script: Path, output: Path) -> list[str]:
    """The hand-written commands' tail: the mix from ``script``, the video stream copied, AAC audio."""
    return ["-/filter_complex", str(script), "-map", "0:v:0", "-map", "[a]", "-c:v", "copy",
            "-c:a", "aac", "-b:a", "192k", "-movflags", "+faststart", str(output)]  # fmt: skip


def ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg_exe(), "-v", "error", "-nostdin", "-y", *args], check=True)


def generate_media(root: Path, *, flat: bool = False) -> dict[str, Path]:
    root = root / ("flat" if flat else "grain")
    root.mkdir(parents=True, exist_ok=True)
    files = {
        "video60": root / "input_60s.mp4",
        "video300": root / "input_300s.mp4",
        "track1": root / "track1.mp3",
        "track2": root / "track2.mp3",
        "whoosh": root / "whoosh.wav",
        "ding": root / "ding.wav",
    }
    if not files["video60"].exists():
        ffmpeg(
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=1280x720:rate=30:duration=60",
            "-f",
            "lavfi",
            "-i",
            "sine=f=220:d=60",
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            str(files["video60"]),
        )
    if not files["video300"].exists():
        playlist = root / "concat.txt"
        playlist.write_text(f"file '{files['video60'].name}'\n" * 5)
        ffmpeg("-f", "concat", "-safe", "0", "-i", str(playlist), "-c", "copy", str(files["video300"]))
    for name, expr, seconds in [
        ("track1", "0.4*sin(2*PI*330*t)*(0.6+0.4*sin(2*PI*0.5*t))", 35),
        ("track2", "0.4*sin(2*PI*523*t)*(0.6+0.4*sin(2*PI*0.3*t))", 30),
        ("whoosh", "0.5*sin(2*PI*(400+3000*t)*t)*exp(-3*t)", 1.2),
        ("ding", "0.5*sin(2*PI*1760*t)*exp(-4*t)", 1.5),
    ]:
        if not files[name].exists():
            extra = ["-b:a", "192k", "-metadata", f"title={name}"] if name.startswith("track") else []
            ffmpeg("-f", "lavfi", "-i", f"aevalsrc={expr}:s=44100:d={seconds}", "-ac", "2", *extra, str(files[name]))
    return files


def job_spec(video: str, minutes: int) -> dict:
    timeline = []
    for m in range(minutes):
        base = 60.0 * m
        timeline += [
            {"type": "tts", "start": base + 5, "data": {"text": SPEECH[0], "duckingLevel": 0.2}},
            {
                "type": "audio",
                "start": base + 18,
                "data": {"assetId": "whoosh", "volume": 0.8, "duckingLevel": 0.5, "duckingFadeDuration": 0.2},
            },
            {
                "type": "tts",
                "start": base + 26,
                "data": {"text": SPEECH[1], "duckingLevel": 0.25, "duckingFadeDuration": 0.8},
            },
            {"type": "audio", "start": base + 40, "data": {"assetId": "ding", "volume": 0.6, "duckingLevel": 0.4}},
            {"type": "tts", "start": base + 47, "data": {"text": SPEECH[2], "duckingLevel": 0.2}},
        ]
    return {
        "assets": {
            "video": {"id": "main", "source": SOURCE + video},
            "audio": [{"id": n, "source": SOURCE + n} for n in ("track1", "track2", "whoosh", "ding")],
        },
        "backgroundMusic": {"playlist": ["track1", "track2"], "loop": True, "volume": 0.4, "crossfadeDuration": 2},
        "timeline": timeline,
        "output": {"filename": f"ours_{minutes}min.mp4"},
    }


# --- the measured runs (each in its own process) ------------------------------------------


def run_engine(work: Path, files: dict[str, Path], minutes: int, *, cached_speech: bool = True) -> None:
    from autovid.core.config import RenderSettings
    from autovid.render.engine import render
    from autovid.spec import parse_spec

    spec = parse_spec(job_spec("video60" if minutes == 1 else "video300", minutes), Limits())
    # Without the shared cache, speech is cached per job in the fetcher's directory, as in production.
    cache = {"TTS_CACHE_DIR": str(work / "tts")} if cached_speech else {}
    settings = RenderSettings(TTS_PROVIDER="espeak-ng", **cache)
    local = {SOURCE + name: path for name, path in files.items()}
    start = time.perf_counter()
    with LocalFileFetcher(work, local, settings=settings, max_bytes=Limits().max_asset_bytes) as fetcher:
        render(spec, work / "out", fetcher=fetcher)
    _record_call_time(work, time.perf_counter() - start)


def _record_call_time(work: Path, seconds: float) -> None:
    (work / "call_seconds.txt").write_text(f"{seconds:.4f}")


def speech_files(work: Path) -> dict[int, Path]:
    """The three utterances (timeline indexes 0, 2, 4 of the first minute), from the shared TTS cache."""
    from autovid.core.config import RenderSettings
    from autovid.render.tts import SpeechSynthesizer
    from autovid.spec import TtsEvent, parse_spec

    spec = parse_spec(job_spec("video60", 1), Limits())
    synthesizer = SpeechSynthesizer(work, RenderSettings(TTS_PROVIDER="espeak-ng", TTS_CACHE_DIR=str(work / "tts")))
    return {i: synthesizer.synthesize(e.data).path for i, e in enumerate(spec.timeline) if isinstance(e, TtsEvent)}


def run_moviepy(work: Path, files: dict[str, Path]) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "render"))
    from oracle import oracle_render

    from autovid.spec import parse_spec

    spec = parse_spec(job_spec("video60", 1), Limits())
    sources = {"main": files["video60"], **{n: files[n] for n in ("track1", "track2", "whoosh", "ding")}}
    speech = speech_files(work)
    start = time.perf_counter()
    oracle_render(spec, sources, speech, work / "out" / "moviepy.mp4", preset="medium")
    _record_call_time(work, time.perf_counter() - start)


def handwritten_command(work: Path, files: dict[str, Path], rate: int = 48_000) -> list[str]:
    """The 60 s job as a person would type it: the same filters, ducking as min() of clipped ramps,
    mixed and encoded at ``rate``."""
    speech = speech_files(work)
    durations = {i: _wav_seconds(p) for i, p in speech.items()}
    t1, t2 = 35.0, 30.0  # track lengths
    # Playlist: track1 @0, track2 @33, track1 @61 (2 s crossfades), cut at 60 s.
    ducks = [
        (5, 5 + durations[0], 0.5, 0.2),
        (18, 19.2, 0.2, 0.5),
        (26, 26 + durations[2], 0.8, 0.25),
        (40, 41.5, 0.5, 0.4),
        (47, 47 + durations[4], 0.5, 0.2),
    ]
    gain = "1"
    for s, e, f, level in ducks:
        gain = f"min({gain},1-{1 - level}*clip(min((t-{s - f})/{f},({e + f}-t)/{f}),0,1))"
    fmt = f"aresample={rate},aformat=sample_fmts=fltp:channel_layouts=stereo,asetpts=PTS-STARTPTS"
    graph = ";".join(
        [
            f"[1:a]{fmt},afade=t=out:st={t1 - 2}:d=2[m0]",
            f"[2:a]{fmt},afade=t=in:d=2,afade=t=out:st={t2 - 2}:d=2,adelay=33s:all=1[m1]",
            "[m0][m1]amix=inputs=2:normalize=0[bed]",
            f"[bed]asetnsamples=n=120,volume='0.4*{gain}':eval=frame[music]",
            f"[3:a]{fmt},adelay=5s:all=1[s0]",
            f"[4:a]{fmt},volume=0.8,adelay=18s:all=1[x0]",
            f"[5:a]{fmt},adelay=26s:all=1[s1]",
            f"[6:a]{fmt},volume=0.6,adelay=40s:all=1[x1]",
            f"[7:a]{fmt},adelay=47s:all=1[s2]",
            f"[music][s0][x0][s1][x1][s2]amix=inputs=6:normalize=0,apad=whole_len={60 * rate},"
            f"atrim=end_sample={60 * rate}[a]",
        ]
    )
    name = "handwritten" if rate == 48_000 else f"handwritten_{rate}"
    script = work / f"{name}.txt"
    script.write_text(graph)
    inputs = [
        files["video60"],
        files["track1"],
        files["track2"],
        speech[0],
        files["whoosh"],
        speech[2],
        files["ding"],
        speech[4],
    ]
    command = [ffmpeg_exe(), "-v", "error", "-nostdin", "-y"]
    for path in inputs:
        command += ["-i", str(path)]
    return command + copy_video_mix_args(script, work / "out" / f"{name}.mp4")


def _wav_seconds(path: Path) -> float:
    import wave

    with wave.open(str(path)) as wav:
        return wav.getnframes() / wav.getframerate()


# --- the looped-jingle case ---------------------------------------------------------------

JINGLES = [("jingle1", 330, 7.0), ("jingle2", 523, 6.0)]
JINGLE_DUCKS = [("whoosh", 5.0, 0.8, 0.3, 0.5), ("ding", 18.0, 0.6, 0.5, 0.2)]  # asset, start, volume, level, fade


def jingle_media(root: Path, files: dict[str, Path], seconds: int) -> Path:
    """The two jingles (once) and the input of ``seconds`` (the 60 s clip concatenated with -c copy)."""
    for name, hz, length in JINGLES:
        path = root / f"{name}.mp3"
        if not path.exists():
            expr = f"0.4*sin(2*PI*{hz}*t)*(0.6+0.4*sin(2*PI*0.5*t))"
            ffmpeg("-f", "lavfi", "-i", f"aevalsrc={expr}:s=44100:d={length}", "-ac", "2", "-b:a", "192k", str(path))
        files[name] = path
    if seconds == 60:
        return files["video60"]
    video = root / f"input_{seconds}s.mp4"
    if not video.exists():
        if seconds % 60:
            raise SystemExit("lengths must be multiples of 60 s")
        playlist = root / f"concat_{seconds}.txt"
        playlist.write_text(f"file '{files['video60'].name}'\n" * (seconds // 60))
        ffmpeg("-f", "concat", "-safe", "0", "-i", str(playlist), "-c", "copy", str(video))
    return video


def jingle_spec(root: Path, video: Path, seconds: int) -> Path:
    """The job as a spec file for ``autovid render`` (sources relative to it)."""
    spec = {
        "assets": {
            "video": {"id": "main", "source": video.name},
            "audio": [{"id": n, "source": f"{n}.mp3"} for n, _hz, _s in JINGLES]
            + [{"id": n, "source": f"{n}.wav"} for n in ("whoosh", "ding")],
        },
        "backgroundMusic": {"playlist": ["jingle1", "jingle2"], "loop": True, "volume": 0.4, "crossfadeDuration": 1},
        "timeline": [
            {
                "type": "audio",
                "start": start,
                "data": {"assetId": asset, "volume": volume, "duckingLevel": level, "duckingFadeDuration": fade},
            }
            for asset, start, volume, level, fade in JINGLE_DUCKS
        ],
        "output": {"filename": f"jingle_{seconds}s.mp4"},
    }
    path = root / f"jingle_{seconds}s.json"
    path.write_text(json.dumps(spec))
    return path


def handwritten_jingle_command(
    work: Path, files: dict[str, Path], video: Path, seconds: int, rate: int, s16: bool = True
) -> list[str]:
    """The looped-jingle job as a person would type it: the two tracks crossfaded, looped with
    aloop (a hard cut at the loop point), ducked by a volume expression, the sound effects delayed
    and mixed, the video copied. With ``s16``, like our engine, it feeds the AAC encoder 16-bit PCM
    (much faster than float), so the comparison is of the graphs; without, it is as typed."""
    (t1, t2), fade = (length for _n, _hz, length in JINGLES), 1.0
    gain = "1"
    for asset, start, _volume, level, f in JINGLE_DUCKS:
        end = start + (1.2 if asset == "whoosh" else 1.5)
        gain = f"min({gain},1-{1 - level}*clip(min((t-{start - f})/{f},({end + f}-t)/{f}),0,1))"
    fmt = f"aresample={rate},aformat=sample_fmts=fltp:channel_layouts=stereo"
    total = seconds * rate
    graph = ";".join(
        [
            f"[1:a]{fmt}[j1]",
            f"[2:a]{fmt}[j2]",
            f"[j1][j2]acrossfade=d={fade}:c1=tri:c2=tri,aloop=loop=-1:size={round((t1 + t2 - fade) * rate)},"
            f"atrim=end_sample={total},asetnsamples=n=120,volume='0.4*{gain}':eval=frame[music]",
            f"[3:a]{fmt},volume=0.8,adelay=5s:all=1[s0]",
            f"[4:a]{fmt},volume=0.6,adelay=18s:all=1[s1]",
            "[music][s0][s1]amix=inputs=3:normalize=0:duration=first"
            + (",aformat=sample_fmts=s16[a]" if s16 else "[a]"),
        ]
    )
    script = work / f"handwritten_jingle_{seconds}{'' if s16 else '_float'}.txt"
    script.write_text(graph)
    command = [ffmpeg_exe(), "-v", "error", "-nostdin", "-y", "-i", str(video)]
    for name in ("jingle1", "jingle2", "whoosh", "ding"):
        command += ["-i", str(files[name])]
    return command + copy_video_mix_args(
        script, work / "out" / f"handwritten_jingle_{seconds}s{'' if s16 else '_float'}.mp4"
    )


def _best(results: list[tuple[float, float, float, float]]) -> tuple[float, float, float, float]:
    """The fastest of several measurements (the machine may be shared), with the highest peak RSS
    and the least CPU time."""
    fastest = min(results)
    return fastest[0], fastest[1], max(r[2] for r in results), min(r[3] for r in results)


def run_jingle(work: Path, files: dict[str, Path], lengths: list[int], *, hand_written: bool, repeat: int) -> None:
    root = files["video60"].parent
    autovid = Path(sys.executable).with_name("autovid")
    rate = probe(files["video60"]).audio.sample_rate  # type: ignore[union-attr]
    rows = []
    for seconds in lengths:
        video = jingle_media(root, files, seconds)
        spec = jingle_spec(root, video, seconds)
        runs = repeat if seconds <= 600 else 1
        out = work / "out" / f"{spec.stem}.mp4"
        commands = [[str(autovid), "render", str(spec), "-o", str(out), "--json"]]
        if hand_written:
            commands += [handwritten_jingle_command(work, files, video, seconds, rate, s16) for s16 in (True, False)]
        # Interleaved, so a change in the machine's load affects every command alike; best of the runs.
        results = [[(*measure(command, work), last_cpu_seconds) for command in commands] for _ in range(runs)]
        ours, *hands = (_best([run[k] for run in results]) for k in range(len(commands)))
        rows.append((seconds, ours, hands))
        print(f"  {seconds} s: ours {ours[0]:.2f} s, {ours[2]:.0f} MB; hand-written {[round(h[0], 2) for h in hands]}")
    print(f"\nlooped jingle (7 s + 6 s, 1 s crossfade) + 2 ducking SFX under 1280x720 30 fps H.264, {rate} Hz")
    print("hand A: the hand-written command feeding the AAC encoder 16-bit PCM, as ours does (like for like);")
    print("hand B: the same command as typed, the encoder fed 32-bit float")
    header = f"{'length':>8}{'ours (s)':>10}{'RSS (MB)':>10}"
    if hand_written:
        header += f"{'A (s)':>9}{'RSS (MB)':>10}{'ours/A':>8}{'B (s)':>9}{'RSS (MB)':>10}{'ours/B':>8}"
    print(header)
    ratios: list[list[tuple[int, float]]] = [[], []]
    for seconds, ours, hands in rows:
        line = f"{seconds:>7}s{ours[0]:>10.2f}{ours[2]:>10.1f}"
        for k, hand in enumerate(hands):
            ratios[k].append((seconds, ours[0] / hand[0]))
            line += f"{hand[0]:>9.2f}{hand[2]:>10.1f}{ratios[k][-1][1]:>7.2f}x"
        print(line)
    for name, series in zip(("ours/A", "ours/B"), ratios, strict=True):
        if len(series) >= 2:
            print(f"{name} slope: {_slope(series):+.3f}x per hour of video (least squares over the lengths)")
    if hand_written:
        print("\nCPU seconds (user + system) of each process tree, which a busy machine hardly changes:")
        print(f"{'length':>8}{'ours':>9}{'A':>9}{'ours/A':>8}{'B':>9}{'ours/B':>8}")
        cpu_ratios: list[tuple[int, float]] = []
        for seconds, ours, hands in rows:
            cpu_ratios.append((seconds, ours[3] / hands[0][3]))
            line = f"{seconds:>7}s{ours[3]:>9.2f}{hands[0][3]:>9.2f}{cpu_ratios[-1][1]:>7.2f}x"
            print(f"{line}{hands[1][3]:>9.2f}{ours[3] / hands[1][3]:>7.2f}x")
        if len(cpu_ratios) >= 2:
            print(f"CPU ours/A slope: {_slope(cpu_ratios):+.3f}x per hour of video")
    print("targets: ratio <= 1.25x at every length and not growing; peak RSS <= 150 MB at 3600 s")


def _slope(series: list[tuple[int, float]]) -> float:
    hours = [s / 3600 for s, _r in series]
    values = [r for _s, r in series]
    mean_h, mean_r = sum(hours) / len(hours), sum(values) / len(values)
    spread = sum((h - mean_h) ** 2 for h in hours)
    return sum((h - mean_h) * (r - mean_r) for h, r in zip(hours, values, strict=True)) / spread


# --- measurement -----------------------------------------------------------------------


def tree_rss_kb(root_pid: int) -> int:
    """Sum of VmRSS over ``root_pid`` and all its descendants, read from /proc."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                ppid = int(stat.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/status") as status:
                kb = next((int(line.split()[1]) for line in status if line.startswith("VmRSS:")), 0)
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry))
        rss[int(entry)] = kb
    total, stack = 0, [root_pid]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(children.get(pid, []))
    return total


# CPU seconds (user + system) of the last measured process tree, its waited-for descendants included:
# unlike wall time, it hardly depends on what else the machine is running.
last_cpu_seconds = 0.0


def measure(command: list[str], work: Path) -> tuple[float, float, float]:
    """Process wall seconds, call wall seconds (the process's own if it records none) and peak
    tree RSS in MB of ``command``, sampled every 10 ms; its CPU seconds go to ``last_cpu_seconds``."""
    global last_cpu_seconds
    call_file = work / "call_seconds.txt"
    call_file.unlink(missing_ok=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    process = subprocess.Popen(command)
    peak = 0
    while process.poll() is None:
        peak = max(peak, tree_rss_kb(process.pid))
        time.sleep(0.01)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    last_cpu_seconds = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    if process.returncode != 0:
        raise SystemExit(f"measured command failed ({process.returncode}): {' '.join(command[:6])} ...")
    call = float(call_file.read_text()) if call_file.exists() else wall
    return wall, call, peak / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--skip-moviepy", action="store_true")
    parser.add_argument("--flat", action="store_true", help="plain testsrc2 frames, without grain")
    parser.add_argument("--jingle", metavar="SECONDS", help="the looped-jingle case at these lengths, e.g. 60,600")
    parser.add_argument("--skip-hand-written", action="store_true", help="with --jingle: only autovid render")
    parser.add_argument("--repeat", type=int, default=3, help="with --jingle: best of N runs up to 600 s")
    parser.add_argument("--run", choices=("engine1", "engine1-cold", "engine5", "moviepy"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    work = (args.workdir or Path(tempfile.gettempdir()) / "autovid-bench").resolve()
    (work / "out").mkdir(parents=True, exist_ok=True)
    files = generate_media(work / "media", flat=args.flat)

    if args.jingle:
        lengths = [int(x) for x in args.jingle.split(",")]
        return run_jingle(work, files, lengths, hand_written=not args.skip_hand_written, repeat=args.repeat)
    if args.run == "engine1":
        return run_engine(work, files, 1)
    if args.run == "engine1-cold":
        return run_engine(work, files, 1, cached_speech=False)
    if args.run == "engine5":
        return run_engine(work, files, 5)
    if args.run == "moviepy":
        return run_moviepy(work, files)

    speech_files(work)  # synthesize once, so every renderer uses the same cached speech
    me = [sys.executable, __file__, "--workdir", str(work), *(["--flat"] if args.flat else []), "--run"]
    results: dict[str, tuple[float, float, float]] = {}
    results["ours, 60 s"] = measure([*me, "engine1"], work)
    results["hand-written ffmpeg, 60 s"] = measure(handwritten_command(work, files), work)
    video_rate = probe(files["video60"]).audio.sample_rate  # type: ignore[union-attr]
    results[f"hand-written at {video_rate / 1000:g} kHz, 60 s"] = measure(
        handwritten_command(work, files, video_rate), work
    )
    results["ours, speech not cached, 60 s"] = measure([*me, "engine1-cold"], work)
    if not args.skip_moviepy:
        results["moviepy (preset medium), 60 s"] = measure([*me, "moviepy"], work)
    results["ours, 5 min"] = measure([*me, "engine5"], work)

    print(f"\ninput: 1280x720 30 fps H.264, {'flat testsrc2' if args.flat else 'testsrc2 with grain'}")
    print(f"{'renderer':<36}{'process (s)':>12}{'call (s)':>10}{'peak RSS (MB)':>16}")
    for name, (wall, call, rss) in results.items():
        print(f"{name:<36}{wall:>12.2f}{call:>10.2f}{rss:>16.1f}")
    print(
        "\nnotes: every row but 'speech not cached' reads the same pre-synthesized speech."
        f"\n       ours writes the video's audio rate ({video_rate} Hz) and feeds the AAC encoder 16-bit PCM;"
        "\n       the hand-written command and moviepy write 48000 Hz from 32-bit float."
    )
    ours, hand = results["ours, 60 s"][1], results["hand-written ffmpeg, 60 s"][1]
    same_rate = results[f"hand-written at {video_rate / 1000:g} kHz, 60 s"][1]
    print(f"\nours / hand-written ffmpeg: {ours / hand:.2f}x (target <= 1.25x)")
    print(f"ours / hand-written ffmpeg at {video_rate} Hz (like for like): {ours / same_rate:.2f}x")
    if "moviepy (preset medium), 60 s" in results:
        moviepy = results["moviepy (preset medium), 60 s"][1]
        print(f"moviepy / ours: {moviepy / ours:.1f}x (target >= 15x)")
    print(f"peak RSS, ours on 5 min: {results['ours, 5 min'][2]:.1f} MB (target <= 150 MB)")


if __name__ == "__main__":
    main()
