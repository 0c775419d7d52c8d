"""Load benchmark: N concurrent submits over HTTP to ``autovid up``, each a 2-second job, then the counts.

    python bench/load.py [--jobs 200] [--template template.yaml] [--workdir DIR] [--timeout 1800] [--json]

Starts the stack as ``autovid up`` does, in its own process (``python -m sam_emulator up --json``,
free ports, the local defaults such as espeak-ng speech, a private ``AUTOVID_STATE_DIR``; stopped
with SIGINT, then killed, however the benchmark ends). Generates a 2-second clip and the demo's
music once, uploads them once, then N threads POST /jobs at the same moment: each job is the clip
with the music playlist (no speech, no effects). It waits for every job to end (GET /jobs/{id}),
then counts, with boto3 against the stack's AWS endpoint:

* records: items in the jobs table (all of them, and those of our job ids);
* executions: of the video job state machine (all, and those whose input carries one of our ids);
* DLQ messages: visible plus in-flight messages in the job DLQ and the status-sync DLQ;
* render invocations: RenderVideo Lambda invocations, the ``START RequestId`` lines of
  ``<log-dir>/RenderVideoFunction.log``, cross-checked with the RenderVideo tasks scheduled in the
  execution histories;
* duplicate renders: job ids with more than one succeeded RenderVideo task across all executions
  (and missing renders: completed or not, job ids with none).

It prints those with throughput (jobs completed per second, from the first submit to the last
``completedAt``), submit latency p50/p95 (the POST alone) and end-to-end p50/p95 (from just before
the POST to the job's ``completedAt``). Exit code 0 when every count is as expected (N completed,
N records, N executions, no DLQ message, N render invocations, no duplicate), else 1 naming the
counts that are off. Times are printed, never checked.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import boto3

from autovid.core.clock import parse_iso
from autovid.jobs.records import TERMINAL_STATUSES
from autovid.render.ffmpeg import run_ffmpeg
from autovid_cli.demo import generate_media, sample_spec
from autovid_cli.targets import ApiClient, ApiError, ApiUnreachableError, StackTarget, upload_local_sources

JOB_SECONDS = 2.0
RENDER_STATE = "RenderVideo"
RENDER_FUNCTION = "RenderVideoFunction"
#: How long ``autovid up`` may take to print its endpoints, and to stop after SIGINT.
STARTUP_SECONDS = 180
STOP_SECONDS = 60
#: Pause between two sweeps over the jobs still running (one GET at a time, so that polling does
#: not itself load the stack; the times come from the records, not from when a poll saw them).
SWEEP_PAUSE_SECONDS = 1.0
PROGRESS_EVERY_SECONDS = 15.0
#: After the last job ended: how long to wait for executions still winding down (FinalizeJob marks
#: the job completed just before its execution ends).
SETTLE_SECONDS = 60
_SCHEDULED = ("TaskScheduled", "LambdaFunctionScheduled")
_SUCCEEDED = ("TaskSucceeded", "LambdaFunctionSucceeded")


@dataclass
class Submission:
    index: int
    job_id: str | None = None
    started: dt.datetime | None = None
    latency_ms: float | None = None
    error: str | None = None
    status: str | None = None
    completed_at: dt.datetime | None = None
    failure: str | None = None

    @property
    def end_to_end(self) -> float | None:
        if self.started is None or self.completed_at is None:
            return None
        return (self.completed_at - self.started).total_seconds()


@dataclass
class Counts:
    records_total: int = 0
    records_ours: int = 0
    executions_total: int = 0
    executions_ours: int = 0
    execution_statuses: Counter[str] = field(default_factory=Counter)
    dlq_messages: dict[str, int] = field(default_factory=dict)
    render_invocations: int = 0
    render_tasks_scheduled: int = 0
    duplicate_renders: list[str] = field(default_factory=list)
    missing_renders: list[str] = field(default_factory=list)


# --- the stack ----------------------------------------------------------------------------


class Stack:
    """``autovid up`` in a child process, with its endpoints (the ``--json`` line)."""

    def __init__(self, template: Path, workdir: Path, state_dir: Path, *, extra_args: tuple[str, ...] = ("--reset",)):
        self.log_dir = workdir / "logs"
        self._extra_args = extra_args
        self.stderr_path = workdir / "up.log"
        self._stderr: IO[str] | None = None
        self._template = template
        self._workdir = workdir
        self._state_dir = state_dir
        self._lines: queue.Queue[str | None] = queue.Queue()
        self.process: subprocess.Popen[str] | None = None
        self.summary: dict[str, Any] = {}

    def start(self) -> None:
        command = [
            sys.executable, "-m", "autovid_cli", "up", "--template", str(self._template),
            "--api-port", "0", "--aws-port", "0", "--log-dir", str(self.log_dir), "--json", *self._extra_args,
        ]  # fmt: skip
        env = {**os.environ, "AUTOVID_STATE_DIR": str(self._state_dir)}
        self._stderr = self.stderr_path.open("a")
        # A session (and process group) of its own: the whole stack can be signalled at once.
        self.process = subprocess.Popen(
            command, cwd=self._workdir, env=env, stdout=subprocess.PIPE, stderr=self._stderr, text=True,
            start_new_session=True,
        )  # fmt: skip
        self._lines = queue.Queue()
        threading.Thread(target=self._read_stdout, name="up-stdout", daemon=True).start()
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            try:
                line = self._lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                message = f"autovid up printed no endpoints in {STARTUP_SECONDS} s; see {self.stderr_path}"
                raise SystemExit(message) from None
            if line is None:
                raise SystemExit(f"autovid up exited before it was ready:\n{self.stderr_tail()}")
            if line.startswith("{"):
                self.summary = json.loads(line)
                return

    def _read_stdout(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:  # read to the end, so the pipe never fills up
            self._lines.put(line.strip())
        self._lines.put(None)

    def stop(self) -> None:
        """SIGINT (what Ctrl-C sends ``autovid up``), then kill if it does not stop in time."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(STOP_SECONDS)
            except subprocess.TimeoutExpired:
                print(f"autovid up did not stop in {STOP_SECONDS} s after SIGINT; killing it", file=sys.stderr)
                self.process.kill()
                self.process.wait()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def stderr_tail(self, lines: int = 30) -> str:
        if self._stderr is not None:
            self._stderr.flush()
        try:
            return "\n".join(self.stderr_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    @property
    def outputs(self) -> dict[str, str]:
        return self.summary["outputs"]

    def target(self) -> StackTarget:
        return StackTarget(
            api_url=self.summary["apiUrl"],
            bucket=self.outputs["MediaBucketName"],
            aws_environment=self.summary["environment"],
        )

    def client(self, service: str) -> Any:
        env = self.summary["environment"]
        return boto3.session.Session(
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
            region_name=env["AWS_REGION"],
        ).client(service, endpoint_url=self.summary["awsEndpoint"])


# --- the job ------------------------------------------------------------------------------


def prepare_media(workdir: Path) -> None:
    """The demo's sample media, with the clip cut to :data:`JOB_SECONDS`."""
    media = workdir / "media"
    generate_media(media)
    result = run_ffmpeg(
        ["-y", "-loglevel", "error", "-i", str(media / "clip.mp4"), "-t", f"{JOB_SECONDS}", "-c", "copy",
         str(media / "short_clip.mp4")]
    )  # fmt: skip
    if result.returncode != 0:
        raise SystemExit(f"could not cut the clip: {result.stderr.strip()[-400:]}")


def load_job_spec() -> dict[str, Any]:
    """The 2-second clip with the demo's music playlist: no speech, no sound effect."""
    spec = sample_spec()
    spec["jobInfo"] = {"projectId": "bench", "title": "auto-vid load benchmark", "tags": ["bench", "load"]}
    spec["assets"]["video"]["source"] = "media/short_clip.mp4"
    playlist = set(spec["backgroundMusic"]["playlist"])
    spec["assets"]["audio"] = [asset for asset in spec["assets"]["audio"] if asset["id"] in playlist]
    spec["backgroundMusic"]["crossfadeDuration"] = 0.5
    spec["timeline"] = []
    spec["output"] = {"filename": "load.mp4"}
    return spec


def job_spec(uploaded: dict[str, Any], index: int) -> dict[str, Any]:
    spec = json.loads(json.dumps(uploaded))
    spec["output"]["filename"] = f"load_{index + 1:03d}.mp4"
    return spec


# --- submitting and waiting ------------------------------------------------------------------


def submit_all(api_url: str, specs: list[dict[str, Any]]) -> list[Submission]:
    """One thread per job; all of them POST at the same moment."""
    submissions = [Submission(index) for index in range(len(specs))]
    go = threading.Event()

    def submit(submission: Submission) -> None:
        api = ApiClient(api_url)
        go.wait()
        submission.started = dt.datetime.now(dt.UTC)
        began = time.perf_counter()
        try:
            job = api.submit(specs[submission.index])
        except (ApiError, ApiUnreachableError) as error:
            submission.error = str(error)
            return
        finally:
            submission.latency_ms = (time.perf_counter() - began) * 1000
        submission.job_id = job["jobId"]
        submission.status = job["status"]

    threads = [threading.Thread(target=submit, args=(s,), name=f"submit-{s.index}") for s in submissions]
    for thread in threads:
        thread.start()
    go.set()
    for thread in threads:
        thread.join()
    return submissions


def wait_for_jobs(api_url: str, submissions: list[Submission], timeout: float) -> list[str]:
    """Sweep over the jobs still running, one GET at a time, until all ended or ``timeout``;
    returns the poll errors seen (unreachable API, 5xx)."""
    api = ApiClient(api_url)
    pending = [s for s in submissions if s.job_id is not None]
    poll_errors: list[str] = []
    deadline = time.monotonic() + timeout
    next_progress = time.monotonic() + PROGRESS_EVERY_SECONDS
    while pending and time.monotonic() < deadline:
        still: list[Submission] = []
        for submission in pending:
            assert submission.job_id is not None
            try:
                job = api.status(submission.job_id)
            except (ApiError, ApiUnreachableError) as error:
                poll_errors.append(f"GET /jobs/{submission.job_id}: {error}")
                still.append(submission)
                continue
            submission.status = job["status"]
            if job["status"] not in TERMINAL_STATUSES:
                still.append(submission)
                continue
            if job.get("completedAt"):
                submission.completed_at = parse_iso(job["completedAt"])
            if job.get("error"):
                submission.failure = f"{job['error'].get('type')}: {job['error'].get('message')}"
        pending = still
        if time.monotonic() >= next_progress:
            ended = Counter(s.status for s in submissions if s.status in TERMINAL_STATUSES)
            print(
                f"  {sum(ended.values())} of {len(submissions)} jobs ended ({dict(ended)}), {len(pending)} running",
                file=sys.stderr,
            )
            next_progress = time.monotonic() + PROGRESS_EVERY_SECONDS
        if pending:
            time.sleep(SWEEP_PAUSE_SECONDS)
    return poll_errors


# --- counting -----------------------------------------------------------------------------


def count_everything(stack: Stack, job_ids: set[str]) -> Counts:
    counts = Counts()
    count_records(stack.client("dynamodb"), stack.outputs["JobsTableName"], job_ids, counts)
    count_executions(stack.client("stepfunctions"), stack.outputs["StateMachineArn"], job_ids, counts)
    sqs = stack.client("sqs")
    for output in ("JobDeadLetterQueueUrl", "StatusSyncDeadLetterQueueUrl"):
        counts.dlq_messages[output.removesuffix("Url")] = queue_depth(sqs, stack.outputs[output])
    counts.render_invocations = count_invocations(stack.log_dir / f"{RENDER_FUNCTION}.log")
    return counts


def count_records(dynamodb: Any, table: str, job_ids: set[str], counts: Counts) -> None:
    for page in dynamodb.get_paginator("scan").paginate(TableName=table, ProjectionExpression="jobId"):
        for item in page["Items"]:
            counts.records_total += 1
            counts.records_ours += item.get("jobId", {}).get("S") in job_ids


def count_executions(sfn: Any, machine_arn: str, job_ids: set[str], counts: Counts) -> None:
    """Executions and, from their histories, the RenderVideo tasks scheduled and succeeded per job."""
    succeeded_renders: Counter[str] = Counter()
    for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=machine_arn):
        for execution in page["executions"]:
            counts.executions_total += 1
            counts.execution_statuses[execution["status"]] += 1
            described = sfn.describe_execution(executionArn=execution["executionArn"])
            job_id = execution_job_id(described.get("input"))
            if job_id not in job_ids:
                continue
            counts.executions_ours += 1
            scheduled, succeeded = render_tasks(execution_history(sfn, execution["executionArn"]))
            counts.render_tasks_scheduled += scheduled
            succeeded_renders[job_id] += succeeded
    counts.duplicate_renders = sorted(job_id for job_id, renders in succeeded_renders.items() if renders > 1)
    counts.missing_renders = sorted(job_id for job_id in job_ids if succeeded_renders[job_id] == 0)


def execution_job_id(text: str | None) -> str | None:
    """The job id in an execution's input: the Pipe's batch ``[{"jobId": ...}]`` or ``{"jobId": ...}``."""
    try:
        document = json.loads(text or "null")
    except ValueError:
        return None
    if isinstance(document, list) and document:
        document = document[0]
    return document.get("jobId") if isinstance(document, dict) else None


def execution_history(sfn: Any, execution_arn: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for page in sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn):
        events += page["events"]
    return events


def render_tasks(events: list[dict[str, Any]]) -> tuple[int, int]:
    """(attempts scheduled, attempts succeeded) of the RenderVideo task in one execution's history."""
    in_render_state = False
    scheduled = succeeded = 0
    for event in events:
        kind = event["type"]
        if kind.endswith("StateEntered"):
            in_render_state = event["stateEnteredEventDetails"]["name"] == RENDER_STATE
        elif kind.endswith("StateExited"):
            in_render_state = False
        elif in_render_state and kind in _SCHEDULED:
            scheduled += 1
        elif in_render_state and kind in _SUCCEEDED:
            succeeded += 1
    return scheduled, succeeded


def queue_depth(sqs: Any, queue_url: str) -> int:
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=names)["Attributes"]
    return sum(int(attributes.get(name, 0)) for name in names)


def count_invocations(log_file: Path) -> int:
    """Invocations in a function's log file: one ``START RequestId:`` line each (as on Lambda)."""
    if not log_file.is_file():
        return 0
    with log_file.open(encoding="utf-8", errors="replace") as lines:
        return sum(1 for line in lines if line.startswith("START RequestId:"))


def settle_executions(sfn: Any, machine_arn: str) -> None:
    """Wait (a little) for executions still running after their job ended."""
    deadline = time.monotonic() + SETTLE_SECONDS
    while time.monotonic() < deadline:
        running = sfn.list_executions(stateMachineArn=machine_arn, statusFilter="RUNNING", maxResults=1)
        if not running["executions"]:
            return
        time.sleep(0.5)


# --- report -------------------------------------------------------------------------------


def percentile(values: list[float], pct: float) -> float | None:
    """Nearest-rank percentile; None without values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)]


def summarize(submissions: list[Submission], counts: Counts, poll_errors: list[str]) -> dict[str, Any]:
    jobs = len(submissions)
    statuses = Counter(s.status or "not submitted" for s in submissions)
    first_submit = min((s.started for s in submissions if s.started), default=None)
    last_completion = max((s.completed_at for s in submissions if s.completed_at), default=None)
    wall = (last_completion - first_submit).total_seconds() if first_submit and last_completion else None
    completed = statuses["completed"]
    submitted = sum(1 for s in submissions if s.job_id)
    latencies = [s.latency_ms for s in submissions if s.job_id and s.latency_ms is not None]
    end_to_end = [s.end_to_end for s in submissions if s.status == "completed" and s.end_to_end is not None]
    return {
        "jobs": jobs,
        "submitted": submitted,
        "submitErrors": sum(1 for s in submissions if s.error),
        "completed": completed,
        "failed": statuses["failed"],
        "unfinished": submitted - completed - statuses["failed"],
        "records": counts.records_total,
        "recordsOfOurJobs": counts.records_ours,
        "executions": counts.executions_total,
        "executionsOfOurJobs": counts.executions_ours,
        "executionStatuses": dict(counts.execution_statuses),
        "dlqMessages": sum(counts.dlq_messages.values()),
        "dlqMessagesByQueue": counts.dlq_messages,
        "renderInvocations": counts.render_invocations,
        "renderTasksScheduled": counts.render_tasks_scheduled,
        "duplicateRenders": len(counts.duplicate_renders),
        "missingRenders": len(counts.missing_renders),
        "pollErrors": len(poll_errors),
        "wallSeconds": wall,
        "throughputJobsPerSecond": completed / wall if wall else None,
        "submitLatencyMs": {"p50": percentile(latencies, 50), "p95": percentile(latencies, 95)},
        "endToEndSeconds": {"p50": percentile(end_to_end, 50), "p95": percentile(end_to_end, 95)},
    }


def problems(summary: dict[str, Any]) -> list[str]:
    """The counts that are not what they should be."""
    jobs = summary["jobs"]
    expected = {
        "submitErrors": 0,
        "completed": jobs,
        "failed": 0,
        "records": jobs,
        "recordsOfOurJobs": jobs,
        "executions": jobs,
        "executionsOfOurJobs": jobs,
        "dlqMessages": 0,
        "renderInvocations": jobs,
        "renderTasksScheduled": jobs,
        "duplicateRenders": 0,
        "missingRenders": 0,
        "pollErrors": 0,
    }
    return [f"{name} is {summary[name]}, expected {want}" for name, want in expected.items() if summary[name] != want]


def _number(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def _pair(percentiles: dict[str, float | None], spec: str) -> str:
    return f"{_number(percentiles['p50'], spec)} / {_number(percentiles['p95'], spec)}"


def print_table(summary: dict[str, Any]) -> None:
    n = summary["jobs"]
    dlq = ", ".join(f"{name} {depth}" for name, depth in summary["dlqMessagesByQueue"].items())
    statuses = ", ".join(f"{status} {count}" for status, count in sorted(summary["executionStatuses"].items()))
    rows = [
        ("jobs (N)", n, ""),
        ("submitted", summary["submitted"], f"{summary['submitErrors']} submit errors"),
        ("completed", summary["completed"], f"expected {n}"),
        ("failed", summary["failed"], f"{summary['unfinished']} submitted but not ended"),
        ("records", summary["records"], f"{summary['recordsOfOurJobs']} of our jobs, expected {n}"),
        ("executions", summary["executions"], f"{summary['executionsOfOurJobs']} of our jobs; {statuses}"),
        ("DLQ messages", summary["dlqMessages"], dlq),
        ("render invocations", summary["renderInvocations"], f"{summary['renderTasksScheduled']} in histories"),
        ("duplicate renders", summary["duplicateRenders"], f"{summary['missingRenders']} jobs without a render"),
        ("poll errors", summary["pollErrors"], "GET /jobs/{id} unreachable or 5xx"),
        ("wall time s", _number(summary["wallSeconds"], ".1f"), "first submit to last completedAt"),
        ("throughput jobs/s", _number(summary["throughputJobsPerSecond"], ".2f"), "completed / wall time"),
        ("submit latency ms", _pair(summary["submitLatencyMs"], ".0f"), "p50 / p95, the POST /jobs alone"),
        ("end to end s", _pair(summary["endToEndSeconds"], ".1f"), "p50 / p95, POST to completedAt"),
    ]
    print(f"\nauto-vid load benchmark: {n} concurrent submits of {JOB_SECONDS:.0f}-second jobs to `autovid up`\n")
    for name, value, note in rows:
        print(f"  {name:<20}{value!s:>14}   {note}")


def print_details(submissions: list[Submission], counts: Counts, poll_errors: list[str]) -> None:
    """What went wrong, job by job (to stderr, a few of each)."""
    shown = 10
    for submission in [s for s in submissions if s.error][:shown]:
        print(f"  submit {submission.index + 1} failed: {submission.error}", file=sys.stderr)
    for submission in [s for s in submissions if s.status == "failed"][:shown]:
        print(f"  job {submission.job_id} failed: {submission.failure}", file=sys.stderr)
    for error in poll_errors[:shown]:
        print(f"  poll error: {error}", file=sys.stderr)
    for job_id in counts.duplicate_renders[:shown]:
        print(f"  job {job_id} was rendered more than once", file=sys.stderr)
    for job_id in counts.missing_renders[:shown]:
        print(f"  job {job_id} has no succeeded RenderVideo task", file=sys.stderr)


# --- main ---------------------------------------------------------------------------------


def run(args: argparse.Namespace, workdir: Path, state_dir: Path) -> int:
    print(f"generating media in {workdir / 'media'}", file=sys.stderr)
    prepare_media(workdir)
    stack = Stack(args.template.resolve(), workdir, state_dir)
    try:
        print(f"starting autovid up (its output: {stack.stderr_path})", file=sys.stderr)
        stack.start()
        target = stack.target()
        uploaded, _ = upload_local_sources(load_job_spec(), workdir, target)
        specs = [job_spec(uploaded, index) for index in range(args.jobs)]
        print(f"submitting {args.jobs} jobs at once to {target.api_url}", file=sys.stderr)
        submissions = submit_all(target.api_url, specs)
        submitted = sum(1 for s in submissions if s.job_id)
        print(f"{submitted} of {args.jobs} submitted; waiting for them to end", file=sys.stderr)
        poll_errors = wait_for_jobs(target.api_url, submissions, args.timeout)
        sfn = stack.client("stepfunctions")
        settle_executions(sfn, stack.outputs["StateMachineArn"])
        counts = count_everything(stack, {s.job_id for s in submissions if s.job_id})
    finally:
        stack.stop()
    summary = summarize(submissions, counts, poll_errors)
    print_table(summary)
    print_details(submissions, counts, poll_errors)
    if args.json:
        print(json.dumps(summary))
    off = problems(summary)
    if off:
        print("\ncounts off:\n  " + "\n  ".join(off), file=sys.stderr)
        print(f"stack output: {stack.stderr_path}; function logs: {stack.log_dir}", file=sys.stderr)
        return 1
    print("\nall counts as expected", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=200, help="jobs, all submitted at once (default: %(default)s)")
    parser.add_argument("--template", type=Path, default=Path("template.yaml"), help="(default: %(default)s)")
    parser.add_argument("--workdir", type=Path, help="media, logs (default: a temporary folder)")
    parser.add_argument(
        "--timeout", type=float, default=1800.0, help="seconds to wait for the jobs to end (default: %(default)s)"
    )
    parser.add_argument("--json", action="store_true", help="also print the summary as one JSON line on stdout")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")

    workdir = (args.workdir or Path(tempfile.mkdtemp(prefix="autovid-load-"))).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    # The child registers its stack here, not in the user's state directory.
    with tempfile.TemporaryDirectory(prefix="autovid-load-state-") as state_dir:
        try:
            return run(args, workdir, Path(state_dir))
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130


if __name__ == "__main__":
    sys.exit(main())
