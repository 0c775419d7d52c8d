"""End-to-end benchmark: short jobs through the local runtime, timed from HTTP submit to `completed`.

    python bench/e2e.py [--jobs 10] [--concurrent] [--seconds 4] [--template template.yaml]

Starts the stack from template.yaml in this process (moto, Lambdas in worker processes, espeak-ng speech, as
``autovid demo`` does), generates the demo's sample media once, trims the clip to a few seconds,
uploads the sources once, then runs N jobs (one after another, or all at once with --concurrent).
Each job has the H.264 clip, the music playlist, one speech event with ducking and a sound effect.

Per job it measures:

* end to end: from just before the POST /jobs request to the job's ``completedAt`` (the
  client polls every 0.5 s only to learn that the job ended; the time is the record's);
* render: the RenderVideo Lambda's own duration, from the execution history (the scheduled/started
  event to the succeeded event of the RenderVideo task that succeeded);
* overhead: end to end minus render, i.e. everything that is not rendering (API, queue, pipe,
  state machine, the validate, upload and finalize steps, status bookkeeping).

Target: median overhead <= 1 s per job. The table is printed; nothing is asserted.
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import logging
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autovid.core.clock import parse_iso
from autovid.jobs.records import TERMINAL_STATUSES
from autovid.render.ffmpeg import run_ffmpeg
from autovid_cli.demo import generate_media, sample_spec
from autovid_cli.targets import ApiClient, StackTarget, upload_local_sources
from sam_emulator.runtime import LocalRuntime

OVERHEAD_TARGET_SECONDS = 1.0
#: Slow enough that the polling of many concurrent jobs does not itself load the runtime; the
#: times come from the job's own timestamps, not from when a poll saw them.
POLL_SECONDS = 0.5
JOB_TIMEOUT_SECONDS = 300
RENDER_STATE = "RenderVideo"
#: History events that open a task attempt (the Lambda-ARN form and the lambda:invoke integration).
_ATTEMPT_STARTED = ("LambdaFunctionStarted", "TaskStarted")
_ATTEMPT_SCHEDULED = ("LambdaFunctionScheduled", "TaskScheduled")
_ATTEMPT_SUCCEEDED = ("LambdaFunctionSucceeded", "TaskSucceeded")


@dataclass
class JobTiming:
    index: int
    job_id: str
    status: str
    end_to_end: float
    render: float | None

    @property
    def overhead(self) -> float | None:
        return None if self.render is None else self.end_to_end - self.render


# --- the job ------------------------------------------------------------------------------


def prepare_media(workdir: Path, seconds: float) -> Path:
    """The demo's sample media, with the clip cut to ``seconds``; returns the media folder."""
    media = workdir / "media"
    generate_media(media)
    clip = media / "clip.mp4"
    short = media / "short_clip.mp4"
    result = run_ffmpeg(["-y", "-loglevel", "error", "-i", str(clip), "-t", f"{seconds}", "-c", "copy", str(short)])
    if result.returncode != 0:
        raise SystemExit(f"could not cut the clip: {result.stderr.strip()[-400:]}")
    return media


def short_job_spec(seconds: float) -> dict[str, Any]:
    """The demo spec cut down: the short clip, the playlist, one speech event and the sound effect."""
    spec = sample_spec()
    speech, effect = spec["timeline"][0], spec["timeline"][1]
    spec["jobInfo"] = {"projectId": "bench", "title": "auto-vid e2e benchmark", "tags": ["bench"]}
    spec["assets"]["video"]["source"] = "media/short_clip.mp4"
    speech["start"] = 0.3
    speech["data"]["text"] = "Benchmark job."
    effect["start"] = min(2.0, seconds - 1.0)
    spec["timeline"] = [speech, effect]
    spec["output"] = {"filename": "bench.mp4"}
    return spec


def job_spec(uploaded: dict[str, Any], index: int) -> dict[str, Any]:
    spec = copy.deepcopy(uploaded)
    spec["timeline"][0]["data"]["text"] = f"Benchmark job {index + 1}."
    spec["output"]["filename"] = f"bench_{index + 1:02d}.mp4"
    return spec


# --- measuring ------------------------------------------------------------------------------


def run_job(api_url: str, spec: dict[str, Any], index: int, runtime: LocalRuntime) -> JobTiming:
    api = ApiClient(api_url)
    submitted = dt.datetime.now(dt.UTC)
    job = api.submit(spec)
    deadline = time.monotonic() + JOB_TIMEOUT_SECONDS
    while job["status"] not in TERMINAL_STATUSES and time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
        job = api.status(job["jobId"])
    finished = job.get("completedAt") or job["updatedAt"]
    end_to_end = (parse_iso(finished) - submitted).total_seconds()
    render = render_seconds(runtime, job.get("executionArn"))
    return JobTiming(index + 1, job["jobId"], job["status"], end_to_end, render)


def render_seconds(runtime: LocalRuntime, execution_arn: str | None) -> float | None:
    """The RenderVideo task's duration in the execution history (its last, successful attempt)."""
    if not execution_arn:
        return None
    sfn = runtime.client("stepfunctions")
    events: list[dict[str, Any]] = []
    request: dict[str, Any] = {"executionArn": execution_arn, "maxResults": 1000}
    while True:
        page = sfn.get_execution_history(**request)
        events += page["events"]
        if not page.get("nextToken"):
            break
        request["nextToken"] = page["nextToken"]
    return render_duration(events)


def render_duration(events: list[dict[str, Any]]) -> float | None:
    in_render_state = False
    attempt: dict[str, dt.datetime] = {}  # event type -> timestamp, for the latest attempt
    duration = None
    for event in events:
        kind = event["type"]
        if kind.endswith("StateEntered"):
            in_render_state = event["stateEnteredEventDetails"]["name"] == RENDER_STATE
            attempt = {}
        elif in_render_state and kind in (*_ATTEMPT_SCHEDULED, *_ATTEMPT_STARTED):
            attempt[kind] = event["timestamp"]
        elif in_render_state and kind in _ATTEMPT_SUCCEEDED:
            # Started is closest to the Lambda's own run; Scheduled if there is no Started.
            began = next((attempt[k] for k in (*_ATTEMPT_STARTED, *_ATTEMPT_SCHEDULED) if k in attempt), None)
            if began is not None:
                duration = (event["timestamp"] - began).total_seconds()
    return duration


# --- report -------------------------------------------------------------------------------


def print_table(timings: list[JobTiming], *, mode: str, wall_seconds: float) -> None:
    print(f"\nauto-vid end-to-end benchmark: {len(timings)} jobs, {mode}, local runtime\n")
    print(f"{'job':>4}  {'job id':<10}{'status':<11}{'end to end s':>13}{'render s':>10}{'overhead s':>12}")
    for timing in timings:
        render = "-" if timing.render is None else f"{timing.render:.2f}"
        overhead = "-" if timing.overhead is None else f"{timing.overhead:.2f}"
        print(
            f"{timing.index:>4}  {timing.job_id[:8]:<10}{timing.status:<11}{timing.end_to_end:>13.2f}"
            f"{render:>10}{overhead:>12}"
        )
    measured = [timing for timing in timings if timing.status == "completed" and timing.overhead is not None]
    if not measured:
        print("\nno job completed with a measurable render; nothing to summarise")
        return
    median_e2e = statistics.median(timing.end_to_end for timing in measured)
    median_render = statistics.median(timing.render or 0.0 for timing in measured)
    median_overhead = statistics.median(timing.overhead or 0.0 for timing in measured)
    verdict = "met" if median_overhead <= OVERHEAD_TARGET_SECONDS else "NOT met"
    print("")
    print(f"median end to end        {median_e2e:6.2f} s   ({len(measured)} of {len(timings)} jobs completed)")
    print(f"median render            {median_render:6.2f} s")
    target = f"target <= {OVERHEAD_TARGET_SECONDS:.0f} s per job: {verdict}"
    print(f"median overhead          {median_overhead:6.2f} s   {target}")
    print(f"wall time, all jobs      {wall_seconds:6.2f} s")


# --- main ---------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10, help="how many jobs (default: %(default)s)")
    parser.add_argument("--concurrent", action="store_true", help="submit all jobs at once instead of one by one")
    parser.add_argument("--seconds", type=float, default=4.0, help="video length per job (default: %(default)s)")
    parser.add_argument("--template", type=Path, default=Path("template.yaml"), help="(default: %(default)s)")
    parser.add_argument("--workdir", type=Path, help="media and function logs (default: a temporary folder)")
    parser.add_argument("-v", "--verbose", action="store_true", help="show the runtime's activity log")
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO if args.verbose else logging.ERROR, format="%(asctime)s %(message)s")
    logging.getLogger("moto.stepfunctions.parser.asl").setLevel(logging.CRITICAL)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="autovid-e2e-"))
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"generating media in {workdir / 'media'}", file=sys.stderr)
    prepare_media(workdir, args.seconds)

    runtime = LocalRuntime(
        args.template,
        api_port=0,
        aws_port=0,
        parameter_overrides={"TtsProvider": "espeak-ng"},
        log_dir=workdir / "logs",
        scratch_dir=workdir / "run",
    )
    with runtime:
        target = StackTarget(
            api_url=runtime.api_url or "",
            bucket=runtime.outputs()["MediaBucketName"],
            aws_environment=runtime.client_environment(),
        )
        uploaded, _ = upload_local_sources(short_job_spec(args.seconds), workdir, target)
        specs = [job_spec(uploaded, index) for index in range(args.jobs)]
        mode = "concurrent" if args.concurrent else "sequential"
        print(f"running {args.jobs} jobs ({mode}); function logs in {runtime.log_dir}", file=sys.stderr)
        started = time.perf_counter()
        if args.concurrent:
            with ThreadPoolExecutor(max_workers=args.jobs) as pool:
                timings = list(
                    pool.map(lambda index: run_job(target.api_url, specs[index], index, runtime), range(args.jobs))
                )
        else:
            timings = [run_job(target.api_url, spec, index, runtime) for index, spec in enumerate(specs)]
        wall_seconds = time.perf_counter() - started
    print_table(timings, mode=mode, wall_seconds=wall_seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
