"""``autovid submit``, ``status``, ``jobs`` and ``cancel``: talk to a deployment's REST API."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from autovid_cli.targets import (
    ApiClient,
    ApiError,
    ApiUnreachableError,
    DownloadError,
    ProgressBar,
    TargetError,
    WaitTimeoutError,
    download,
    find_stack,
    upload_local_sources,
    wait_for_job,
)

EXIT_COMPLETED, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


def run_status(args: argparse.Namespace) -> int:
    try:
        target = find_stack(args.api, None, args.stack)
        job = target.api().status(args.job_id)
    except (TargetError, ApiError, ApiUnreachableError) as error:
        return _fail(error, args.json)
    print(json.dumps(job, indent=None if args.json else 2))
    if not args.json and job.get("executionArn"):
        where = job.get("consoleUrl") or f"autovid history {args.job_id} / autovid graph {args.job_id}"
        print(f"execution {job['executionArn']}\n  inspect: {where}", file=sys.stderr)
    return EXIT_FAILED if job["status"] == "failed" else EXIT_COMPLETED


def run_jobs(args: argparse.Namespace) -> int:
    query = {
        "status": args.status,
        "projectId": args.project_id,
        "submittedAfter": args.submitted_after,
        "submittedBefore": args.submitted_before,
        "limit": args.limit,
        "nextToken": args.next_token,
    }
    jobs: list[dict[str, Any]] = []
    try:
        api = find_stack(args.api, None, args.stack).api()
        while True:
            page = api.list_jobs(**query)
            jobs += page["jobs"]
            query["nextToken"] = page.get("nextToken")
            if not args.all or not query["nextToken"]:
                break
    except (TargetError, ApiError, ApiUnreachableError) as error:
        return _fail(error, args.json)
    if args.json:
        print(json.dumps({"jobs": jobs, "nextToken": query["nextToken"]}))
        return EXIT_COMPLETED
    for job in jobs:
        project = (job.get("jobInfo") or {}).get("projectId") or "-"
        print(f"{job['jobId']}  {job['status']:<10}  {job['submittedAt']}  {project}")
    if query["nextToken"]:
        print(f"more: --next-token {query['nextToken']}", file=sys.stderr)
    return EXIT_COMPLETED


def run_cancel(args: argparse.Namespace) -> int:
    try:
        job = find_stack(args.api, None, args.stack).api().cancel(args.job_id)
    except (TargetError, ApiError, ApiUnreachableError) as error:
        return _fail(error, args.json)
    print(json.dumps(job, indent=None if args.json else 2))
    return EXIT_COMPLETED


def run_submit(args: argparse.Namespace) -> int:
    try:
        raw = _read_spec(args.spec)
        target = find_stack(args.api, args.bucket, args.stack)
        spec, local_destination = upload_local_sources(raw, [args.spec.resolve().parent, Path.cwd()], target)
        api = target.api()
        job = api.submit(spec)
    except (TargetError, ApiError, ApiUnreachableError) as error:
        return _fail(error, args.json)
    if not args.json:
        print(f"submitted job {job['jobId']}", file=sys.stderr)
    if not args.wait:
        print(json.dumps(job, indent=None if args.json else 2))
        return EXIT_COMPLETED
    return finish(
        api, job["jobId"], local_destination, show_progress=not args.json, timeout=args.timeout, as_json=args.json
    )


def finish(
    api: ApiClient,
    job_id: str,
    local_destination: str | Path | None,
    *,
    show_progress: bool,
    timeout: float | None,
    as_json: bool,
) -> int:
    """Wait for the job, print its final status, download the MP4 to a local destination."""
    bar = ProgressBar(job_id, enabled=show_progress)
    try:
        job = wait_for_job(api, job_id, on_update=bar, timeout=timeout)
    except (TargetError, ApiError, ApiUnreachableError, WaitTimeoutError) as error:
        return _fail(error, as_json)
    finally:
        bar.close()
    saved_to = None
    if job["status"] == "completed" and local_destination is not None and job["output"]["url"]:
        filename = job["metadata"].get("outputFilename") or f"{job_id}.mp4"
        try:
            saved_to = download(job["output"]["url"], Path(local_destination) / filename)
        except DownloadError as error:
            if as_json:  # one document: the job, and why its MP4 is not here
                print(json.dumps({**job, "downloadError": str(error)}))
                return EXIT_FAILED
            print(json.dumps(job, indent=2))
            return _fail(error, as_json)
    print(json.dumps(job, indent=None if as_json else 2))
    if job["status"] == "failed":
        if not as_json:
            error = job.get("error") or {}
            print(f"job failed in {error.get('state')}: {error.get('type')}: {error.get('message')}", file=sys.stderr)
        return EXIT_FAILED
    if saved_to and not as_json:
        print(f"downloaded to {saved_to}", file=sys.stderr)
    return EXIT_COMPLETED


def _read_spec(path: Path) -> dict[str, Any]:
    try:
        raw = json.loads(path.read_text())
    except OSError as error:
        raise TargetError(f"cannot read {path}: {error.strerror}") from error
    except ValueError as error:
        raise TargetError(f"{path} is not valid JSON: {error}") from error
    if not isinstance(raw, dict):
        raise TargetError(f"{path}: a job spec is a JSON object")
    return raw


def _fail(error: Exception, as_json: bool) -> int:
    if as_json:
        body = error.body if isinstance(error, ApiError) else {"error": str(error)}
        print(json.dumps(body))
    else:
        print(f"autovid: {error}", file=sys.stderr)
    if isinstance(error, WaitTimeoutError | DownloadError | ApiUnreachableError) or (
        isinstance(error, ApiError) and error.status >= 500
    ):
        return EXIT_FAILED
    return EXIT_BAD_INPUT
