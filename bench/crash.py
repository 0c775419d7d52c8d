"""Crash benchmark: ``kill -9`` the whole local stack at random moments while jobs run; every job
must still end ``completed`` exactly once, with its output.

    python bench/crash.py [--jobs 10] [--long 3] [--kills 3] [--seed N] [--template template.yaml]
                          [--workdir DIR] [--timeout 900] [--json]

Starts ``autovid up --json`` in its own process group with a state folder in the work folder.
Submits one job and waits for it to complete (it must survive every kill with its MP4), then
submits the rest: ``--long`` of them render a longer clip, so that kills land while they render.
Then, ``--kills`` times: waits a random moment, ``SIGKILL``s the stack's whole process group,
checks that no process of the stack is left (none in its group, none holding the work folder in
its command line or environment), and starts the stack again on the same state folder. After the
last restart it waits for every job to end and checks, through the REST API and boto3:

* every job is ``completed`` with exactly one ``completed`` entry in its status history;
* its output downloads (an MP4: ``ftyp`` at byte 4) from the link the API gives now;
* the state machine's executions are exactly one per job;
* the job completed before the first kill still has its record and its MP4;
* its webhook (a receiver in this process) got the terminal notification, every time with the
  same delivery id: a notification may be repeated after a kill, never sent as a second delivery.

It prints a table of the kills (when, the jobs' statuses then, restart time) and of the checks.
Exit code 0 when every check holds, else 1 naming what failed. Times are printed, never checked.
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import random
import signal
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from load import Stack, execution_job_id, job_spec, load_job_spec, prepare_media

from autovid.jobs.records import TERMINAL_STATUSES
from autovid.render.ffmpeg import run_ffmpeg
from autovid_cli.targets import ApiClient, ApiError, ApiUnreachableError, upload_local_sources

LONG_CLIP_REPEATS = 30  # the demo clip looped: long enough that kills land in a render
KILL_DELAY_SECONDS = (0.5, 4.0)
ORPHAN_WAIT_SECONDS = 10.0


class WebhookReceiver:
    """Records every webhook POST: (job id, status, delivery id)."""

    def __init__(self) -> None:
        self.deliveries: list[tuple[str, str, str]] = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                delivery = self.headers.get("X-AutoVid-Delivery", "")
                receiver.deliveries.append((str(body.get("jobId")), str(body.get("status")), delivery))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, name="webhook-receiver", daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def terminal(self, job_id: str) -> list[str]:
        return [delivery for job, status, delivery in self.deliveries if job == job_id and status in TERMINAL_STATUSES]


@dataclass
class Kill:
    number: int
    after_seconds: float
    statuses: dict[str, int]
    restart_seconds: float = 0.0
    orphans: list[str] = field(default_factory=list)


def make_long_clip(workdir: Path) -> None:
    media = workdir / "media"
    result = run_ffmpeg(
        ["-y", "-loglevel", "error", "-stream_loop", str(LONG_CLIP_REPEATS - 1), "-i", str(media / "clip.mp4"),
         "-c", "copy", str(media / "long_clip.mp4")]
    )  # fmt: skip
    if result.returncode != 0:
        raise SystemExit(f"could not make the long clip: {result.stderr.strip()[-400:]}")


def stack_processes(marker: str, group: int) -> list[str]:
    """Processes left of a killed stack: in its process group, or with ``marker`` (the work
    folder) in their command line or environment."""
    found = []
    ours = _ancestors()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in ours:
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            environment = (entry / "environ").read_bytes()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] == "Z":
            continue  # a zombie holds nothing
        if int(fields[2]) == group or marker in command or marker.encode() in environment:
            found.append(f"{entry.name} {command[:120]}")
    return found


def _ancestors() -> set[int]:
    """This process and the ones that started it (their command lines name the work folder too)."""
    pids, pid = set(), os.getpid()
    while pid > 1:
        pids.add(pid)
        try:
            pid = int((Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except OSError:
            break
    return pids


def wait_without_orphans(marker: str, group: int) -> list[str]:
    deadline = time.monotonic() + ORPHAN_WAIT_SECONDS
    while True:
        left = stack_processes(marker, group)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.2)


def job_statuses(api: ApiClient, job_ids: list[str]) -> dict[str, str]:
    statuses = {}
    for job_id in job_ids:
        try:
            statuses[job_id] = api.status(job_id)["status"]
        except (ApiError, ApiUnreachableError) as error:
            statuses[job_id] = f"unreadable ({error})"
    return statuses


def wait_for_all(api: ApiClient, job_ids: list[str], timeout: float) -> dict[str, dict[str, Any]]:
    deadline = time.monotonic() + timeout
    jobs: dict[str, dict[str, Any]] = {}
    while time.monotonic() < deadline:
        for job_id in job_ids:
            if job_id in jobs:
                continue
            try:
                job = api.status(job_id)
            except (ApiError, ApiUnreachableError):
                continue
            if job["status"] in TERMINAL_STATUSES:
                jobs[job_id] = job
        if len(jobs) == len(job_ids):
            break
        time.sleep(1.0)
    return jobs


def is_mp4(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=60) as response:  # noqa: S310 - the stack's own link
        return response.read(12)[4:8] == b"ftyp"


def run(args: argparse.Namespace, workdir: Path, registry: Path) -> int:
    rng = random.Random(args.seed)
    print(f"generating media in {workdir / 'media'}", file=sys.stderr)
    prepare_media(workdir)
    make_long_clip(workdir)
    state = workdir / "state"
    receiver = WebhookReceiver()
    # The receiver is on this machine: loopback and http allowed for the webhook.
    local_hooks = ("--env", "ALLOW_LOOPBACK_FETCH=true", "--env", "ALLOW_HTTP_WEBHOOKS=true")
    keep = ("--state-dir", str(state), *local_hooks)
    stack = Stack(args.template.resolve(), workdir, registry, extra_args=(*keep, "--reset"))
    kills: list[Kill] = []
    problems: list[str] = []
    stack.start()
    try:
        stack._extra_args = keep  # every restart keeps the state
        target = stack.target()
        short_spec = load_job_spec()
        short_spec["notifications"] = {"webhook": {"url": receiver.url}}
        uploaded, _ = upload_local_sources(short_spec, workdir, target)
        long_spec = json.loads(json.dumps(short_spec))
        long_spec["assets"]["video"]["source"] = "media/long_clip.mp4"
        long_spec, _ = upload_local_sources(long_spec, workdir, target)
        api = ApiClient(target.api_url)
        first = api.submit(job_spec(uploaded, 0))["jobId"]
        done_first = wait_for_all(api, [first], args.timeout)
        if done_first.get(first, {}).get("status") != "completed":
            raise SystemExit(f"the first job did not complete before the kills: {done_first}")
        job_ids = [first]
        for index in range(1, args.jobs):
            spec = job_spec(long_spec if index <= args.long else uploaded, index)
            job_ids.append(api.submit(spec)["jobId"])
        print(f"{len(job_ids)} jobs submitted ({args.long} long); killing the stack {args.kills} times",
              file=sys.stderr)  # fmt: skip
        for number in range(1, args.kills + 1):
            delay = rng.uniform(*KILL_DELAY_SECONDS)
            time.sleep(delay)
            statuses = Counter(job_statuses(api, job_ids).values())
            assert stack.process is not None
            group = stack.process.pid  # the session leader: its pid is the group's id
            os.killpg(group, signal.SIGKILL)
            stack.process.wait()
            kill = Kill(number, delay, dict(statuses))
            kill.orphans = wait_without_orphans(str(workdir), group)
            if kill.orphans:
                problems.append(f"kill {number}: processes left: {kill.orphans}")
            began = time.monotonic()
            stack.start()
            kill.restart_seconds = time.monotonic() - began
            kills.append(kill)
            print(f"  kill {number} after {delay:.1f} s, jobs then {dict(statuses)}; restarted in "
                  f"{kill.restart_seconds:.1f} s", file=sys.stderr)  # fmt: skip
            api = ApiClient(stack.target().api_url)
        jobs = wait_for_all(api, job_ids, args.timeout)
        results = check_jobs(api, job_ids, jobs, problems)
        check_executions(stack, job_ids, problems)
        results["webhooks"] = check_webhooks(receiver, job_ids, problems)
    finally:
        stack.stop()
    summary = {"jobs": len(job_ids), "kills": [vars(k) for k in kills], **results, "problems": problems}
    print_tables(summary)
    if args.json:
        print(json.dumps(summary))
    if problems:
        print("\nchecks failed:\n  " + "\n  ".join(problems), file=sys.stderr)
        print(f"stack output: {stack.stderr_path}", file=sys.stderr)
        return 1
    print("\nall checks hold", file=sys.stderr)
    return 0


def check_jobs(api: ApiClient, job_ids: list[str], jobs: dict[str, dict[str, Any]], problems: list[str]) -> dict:
    completed = once = downloadable = 0
    for job_id in job_ids:
        job = jobs.get(job_id)
        if job is None:
            problems.append(f"job {job_id} did not end")
            continue
        history = [entry["status"] for entry in job.get("statusHistory", [])]
        if job["status"] == "completed":
            completed += 1
        else:
            problems.append(f"job {job_id} ended {job['status']}: {job.get('error')}")
        if history.count("completed") == 1:
            once += 1
        else:
            problems.append(f"job {job_id}: {history.count('completed')} 'completed' entries in {history}")
        url = (job.get("output") or {}).get("url")
        if url and is_mp4(url):
            downloadable += 1
        else:
            problems.append(f"job {job_id}: no downloadable MP4 ({url})")
    return {"completed": completed, "completedOnce": once, "downloadable": downloadable}


def check_webhooks(receiver: WebhookReceiver, job_ids: list[str], problems: list[str]) -> int:
    """Jobs whose terminal notification arrived, always under one delivery id."""
    deadline = time.monotonic() + 30  # a delivery may still be on its way after the last status read
    while time.monotonic() < deadline and not all(receiver.terminal(job_id) for job_id in job_ids):
        time.sleep(0.5)
    good = 0
    for job_id in job_ids:
        deliveries = receiver.terminal(job_id)
        if not deliveries:
            problems.append(f"job {job_id}: no terminal webhook arrived")
        elif len(set(deliveries)) > 1:
            problems.append(f"job {job_id}: terminal webhook sent as {len(set(deliveries))} deliveries")
        else:
            good += 1
    return good


def check_executions(stack: Stack, job_ids: list[str], problems: list[str]) -> None:
    sfn = stack.client("stepfunctions")
    pages = sfn.get_paginator("list_executions").paginate(stateMachineArn=stack.outputs["StateMachineArn"])
    executions = [execution for page in pages for execution in page["executions"]]
    per_job = Counter(
        execution_job_id(sfn.describe_execution(executionArn=e["executionArn"]).get("input")) for e in executions
    )
    if len(executions) != len(job_ids) or set(per_job) != set(job_ids) or max(per_job.values(), default=0) != 1:
        problems.append(f"{len(executions)} executions for {len(job_ids)} jobs: {dict(per_job)}")


def print_tables(summary: dict[str, Any]) -> None:
    print(f"\nauto-vid crash benchmark: {summary['jobs']} jobs, {len(summary['kills'])} kills of the whole stack\n")
    print("| kill | after | jobs' statuses then | processes left | restart |")
    print("|---|---|---|---|---|")
    for kill in summary["kills"]:
        statuses = ", ".join(f"{count} {status}" for status, count in sorted(kill["statuses"].items()))
        print(f"| {kill['number']} | {kill['after_seconds']:.1f} s | {statuses} | {len(kill['orphans'])} "
              f"| {kill['restart_seconds']:.1f} s |")  # fmt: skip
    print("\n| check | result |\n|---|---|")
    print(f"| completed | {summary['completed']} of {summary['jobs']} |")
    print(f"| exactly one `completed` in the history | {summary['completedOnce']} of {summary['jobs']} |")
    print(f"| output downloads as MP4 | {summary['downloadable']} of {summary['jobs']} |")
    print(f"| terminal webhook arrived, one delivery id | {summary['webhooks']} of {summary['jobs']} |")
    print(f"| problems | {len(summary['problems'])} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10, help="(default: %(default)s)")
    parser.add_argument("--long", type=int, default=3, help="jobs with the longer clip (default: %(default)s)")
    parser.add_argument("--kills", type=int, default=3, help="(default: %(default)s)")
    parser.add_argument("--seed", type=int, default=None, help="random seed for the kill moments")
    parser.add_argument("--template", type=Path, default=Path("template.yaml"), help="(default: %(default)s)")
    parser.add_argument("--workdir", type=Path, help="media, logs, state (default: a temporary folder)")
    parser.add_argument(
        "--timeout", type=float, default=900.0, help="seconds to wait for the jobs (default: %(default)s)"
    )
    parser.add_argument("--json", action="store_true", help="also print the summary as one JSON line on stdout")
    args = parser.parse_args(argv)
    if args.jobs < 2 or not 0 <= args.long < args.jobs:
        parser.error("--jobs must be at least 2 and --long below it")
    workdir = (args.workdir or Path(tempfile.mkdtemp(prefix="autovid-crash-"))).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="autovid-crash-registry-") as registry:
        return run(args, workdir, Path(registry))


if __name__ == "__main__":
    sys.exit(main())
