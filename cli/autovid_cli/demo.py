"""``autovid demo``: one real job end to end on the local runtime.

It generates sample media (an H.264 clip, two music tracks, a sound effect), writes a spec with
speech, music, ducking and the effect, starts the stack from template.yaml, submits over HTTP,
follows the job to the end and downloads the MP4 through its presigned URL.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from autovid.render.ffmpeg import run_ffmpeg
from autovid_cli.jobs import EXIT_BAD_INPUT, EXIT_FAILED, finish
from autovid_cli.targets import (
    ApiError,
    ApiUnreachableError,
    StackTarget,
    TargetError,
    upload_local_sources,
)

DEMO_SECONDS = 10


def sample_spec() -> dict[str, Any]:
    return {
        "jobInfo": {"projectId": "demo", "title": "auto-vid demo", "tags": ["demo"]},
        "assets": {
            "video": {"id": "clip", "source": "media/clip.mp4"},
            "audio": [
                {"id": "music_a", "source": "media/music_a.mp3"},
                {"id": "music_b", "source": "media/music_b.mp3"},
                {"id": "ding", "source": "media/ding.wav"},
            ],
        },
        "backgroundMusic": {"playlist": ["music_a", "music_b"], "loop": True, "volume": 0.4, "crossfadeDuration": 1.5},
        "timeline": [
            {
                "type": "tts",
                "start": 0.8,
                "data": {
                    "text": "Welcome to auto-vid. Music, speech and sound effects, mixed onto your video.",
                    "duckingLevel": 0.25,
                    "duckingFadeDuration": 0.4,
                },
            },
            {
                "type": "audio",
                "start": 6.8,
                "data": {"assetId": "ding", "volume": 0.9, "duckingLevel": 0.5, "duckingFadeDuration": 0.2},
            },
            {"type": "tts", "start": 7.6, "data": {"text": "That's a wrap!", "duckingLevel": 0.25}},
        ],
        "output": {"filename": "demo.mp4", "destination": "."},
    }


def generate_media(media: Path) -> None:
    """A 10 s H.264 test clip without audio, two chord tracks and a bell-like ding."""
    media.mkdir(parents=True, exist_ok=True)
    jobs = {
        "clip.mp4": [
            "-f", "lavfi", "-i", f"testsrc2=size=640x360:rate=30:duration={DEMO_SECONDS}",
            "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
        ],
        "music_a.mp3": _chord([220.0, 277.18, 329.63], seconds=7),
        "music_b.mp3": _chord([196.0, 246.94, 293.66], seconds=7),
        "ding.wav": [
            "-f", "lavfi", "-i", "sine=frequency=1318.5:duration=0.6",
            "-af", "afade=t=out:st=0.05:d=0.55,volume=0.8",
        ],
    }  # fmt: skip
    for name, args in jobs.items():
        result = run_ffmpeg(["-y", "-loglevel", "error", *args, str(media / name)])
        if result.returncode != 0:
            raise TargetError(f"could not generate {name}: {result.stderr.strip()[-400:]}")


def _chord(frequencies: list[float], *, seconds: int) -> list[str]:
    inputs: list[str] = []
    for frequency in frequencies:
        inputs += ["-f", "lavfi", "-i", f"sine=frequency={frequency}:duration={seconds}"]
    mix = f"amix=inputs={len(frequencies)},tremolo=f=2:d=0.3,afade=t=in:d=0.3,afade=t=out:st={seconds - 0.5}:d=0.5"
    return [*inputs, "-filter_complex", mix, "-c:a", "libmp3lame", "-b:a", "128k"]


def run_demo(args: argparse.Namespace) -> int:
    from autovid_cli.commands.up import LOCAL_LOG_DIR, LOCAL_STACK_NAME
    from autovid_cli.up import CORRELATION_KEYS, local_parameter_defaults
    from sam_emulator.runtime import LocalRuntime

    logging.basicConfig(
        level=logging.WARNING if args.json else logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S"
    )
    for noisy in ("botocore", "urllib3", "moto", "werkzeug"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    logging.getLogger("moto.stepfunctions.parser.asl").setLevel(logging.CRITICAL)
    say = (lambda *_: None) if args.json else (lambda text: print(text, file=sys.stderr, flush=True))

    workdir = args.out.resolve() / "demo"
    say(f"1/4 generating sample media in {workdir / 'media'}")
    try:
        generate_media(workdir / "media")
    except TargetError as error:
        print(f"autovid demo: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    spec = sample_spec()
    spec["output"]["destination"] = str(args.out.resolve())
    (workdir / "demo.spec.json").write_text(json.dumps(spec, indent=2))

    say("2/4 starting the local stack from template.yaml (moto + Lambdas in worker processes, no Docker)")
    say("    text-to-speech: espeak-ng, offline (the local default; a deployed stack uses Amazon Polly)")
    runtime = LocalRuntime(
        args.template,
        api_port=args.api_port,
        aws_port=args.aws_port,
        stack_name=LOCAL_STACK_NAME,
        parameter_overrides=local_parameter_defaults(args.template),
        log_dir=LOCAL_LOG_DIR,
        correlation_keys=CORRELATION_KEYS,
        scratch_dir=workdir / "run",
    )
    with runtime:
        say(f"    REST API {runtime.api_url}  AWS endpoint {runtime.aws_endpoint_url}")
        target = StackTarget(
            api_url=runtime.api_url or "",
            bucket=runtime.outputs()["MediaBucketName"],
            aws_environment=runtime.client_environment(),
        )
        api = target.api()
        try:
            uploaded, destination = upload_local_sources(spec, workdir, target)
            job = api.submit(uploaded)
        except (TargetError, ApiError, ApiUnreachableError) as error:
            print(f"autovid demo: {error}", file=sys.stderr)
            return EXIT_FAILED if isinstance(error, ApiUnreachableError) else EXIT_BAD_INPUT
        say(f"3/4 submitted job {job['jobId']} (POST {target.api_url}/jobs); following it")
        code = finish(api, job["jobId"], destination, show_progress=not args.json, timeout=600, as_json=args.json)
    say(f"4/4 {'done' if code == 0 else 'the job did not complete'}: see the status JSON above")
    say(f"    function logs (one file per function): {runtime.log_dir}")
    return code
