"""The REST API client behind ``autovid submit``, ``autovid status`` and ``autovid demo``.

It works against any deployment: the local runtime (each running ``autovid up`` registers itself
in the user's state directory, so the commands find it from any directory) or a stack in AWS
(``--stack NAME`` reads the CloudFormation outputs, or give ``--api`` and ``--bucket``).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import boto3
import urllib3
from botocore.exceptions import BotoCoreError, HTTPClientError
from botocore.exceptions import ClientError as BotoClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from autovid.jobs.records import TERMINAL_STATUSES
from autovid_cli.local_sources import resolve_local_sources

#: Polls in a row that may fail (API unreachable or 5xx) while waiting for a job.
MAX_MISSED_POLLS = 5


class TargetError(Exception):
    """A problem on the caller's side (bad input, nothing to talk to): exit code 2."""


class ApiUnreachableError(Exception):
    """The API could not be reached (connection refused or dropped): exit code 1, since the
    input itself may be fine."""


class WaitTimeoutError(Exception):
    """The job did not finish within the time the caller was willing to wait."""


class ApiError(Exception):
    """The API answered with an error."""

    def __init__(self, status: int, body: Any):
        self.status = status
        self.body = body
        super().__init__(f"HTTP {status}: {describe_error(body)}")


def describe_error(body: Any) -> str:
    if not isinstance(body, dict):
        return str(body)
    lines = [str(body.get("error") or body.get("message") or body)]
    lines += [f"  {d.get('field')}: {d.get('message')}" for d in body.get("details") or [] if isinstance(d, dict)]
    return "\n".join(lines)


@dataclass
class StackTarget:
    """Where a deployment's API and bucket are, and how boto3 reaches its AWS endpoint."""

    api_url: str
    bucket: str | None = None
    aws_environment: dict[str, str] = field(default_factory=dict)
    api_key: str | None = None

    def api(self) -> ApiClient:
        return ApiClient(self.api_url, api_key=self.api_key)

    def s3(self) -> Any:
        env = self.aws_environment
        return boto3.session.Session(
            aws_access_key_id=env.get("AWS_ACCESS_KEY_ID"),
            aws_secret_access_key=env.get("AWS_SECRET_ACCESS_KEY"),
            region_name=env.get("AWS_REGION"),
        ).client("s3", endpoint_url=env.get("AWS_ENDPOINT_URL") or None)


def stacks_dir() -> Path:
    """Where running ``autovid up`` stacks register: ``$AUTOVID_STATE_DIR/stacks``, by default
    ``$XDG_STATE_HOME/autovid/stacks`` (``~/.local/state/autovid/stacks``)."""
    state = os.environ.get("AUTOVID_STATE_DIR")
    if not state:
        xdg = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
        state = str(Path(xdg) / "autovid")
    return Path(state) / "stacks"


def _stack_file(api_url: str) -> Path:
    return stacks_dir() / (hashlib.sha256(api_url.rstrip("/").encode()).hexdigest()[:16] + ".json")


def write_local_stack_file(
    api_url: str,
    outputs: dict[str, str],
    aws_environment: dict[str, str],
    api_key: str | None = None,
    stack_name: str | None = None,
) -> Path:
    """Register a running ``autovid up``: its API (and API key), outputs, AWS endpoint and stack
    name, and its process id. The file is readable by its owner only."""
    path = _stack_file(api_url)
    path.parent.mkdir(parents=True, exist_ok=True)
    saved = {"apiUrl": api_url, "outputs": outputs, "awsEnvironment": aws_environment, "pid": os.getpid()}
    if api_key:
        saved["apiKey"] = api_key
    if stack_name:
        saved["stackName"] = stack_name
    partial = path.with_suffix(".tmp")
    partial.touch(mode=0o600)
    partial.write_text(json.dumps(saved, indent=2))
    partial.replace(path)
    return path


def remove_local_stack_file(api_url: str) -> None:
    """Forget a stopped ``autovid up`` (only if its file still describes this process's stack)."""
    path = _stack_file(api_url)
    saved = _read(path)
    if saved is not None and saved.get("pid") == os.getpid():
        path.unlink(missing_ok=True)


def running_local_stacks() -> list[dict[str, Any]]:
    """The registered stacks whose ``autovid up`` is still alive; files of dead ones are removed."""
    alive = []
    for path in sorted(stacks_dir().glob("*.json")):
        saved = _read(path)
        if saved is None or not _process_alive(saved.get("pid")):
            path.unlink(missing_ok=True)
            continue
        alive.append(saved)
    return alive


def _read(path: Path) -> dict[str, Any] | None:
    try:
        saved = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return saved if isinstance(saved, dict) and "apiUrl" in saved else None


def _process_alive(pid: object) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


def find_stack(api: str | None, bucket: str | None, stack: str | None) -> StackTarget:
    """``--stack`` reads CloudFormation outputs (of the running ``autovid up`` with that stack
    name, else of AWS); ``--api`` names the API (a running ``autovid up`` at that URL also gives
    its bucket, AWS endpoint and API key); with neither, the one running ``autovid up``.
    ``--bucket`` always wins. The API key is ``$AUTOVID_API_KEY`` when set, else the local
    stack's, else (``--stack``) the value of the stack's ``ApiKeyId`` output."""
    env_key = os.environ.get("AUTOVID_API_KEY") or None
    local = running_local_stack_named(stack) if stack else None
    if local is not None:
        environment = local.get("awsEnvironment", {})
        outputs = cloudformation_outputs(stack, environment)
        return StackTarget(
            api_url=api or outputs["ApiUrl"],
            bucket=bucket or outputs.get("MediaBucketName"),
            aws_environment=environment,
            api_key=env_key or local.get("apiKey"),
        )
    if stack:
        outputs = cloudformation_outputs(stack)
        if "ApiUrl" not in outputs and not api:
            raise TargetError(f"stack {stack} has no ApiUrl output; pass --api URL")
        key = env_key or (api_key_value(outputs["ApiKeyId"]) if outputs.get("ApiKeyId") else None)
        return StackTarget(
            api_url=api or outputs["ApiUrl"], bucket=bucket or outputs.get("MediaBucketName"), api_key=key
        )
    running = running_local_stacks()
    if api:
        running = [s for s in running if s["apiUrl"].rstrip("/") == api.rstrip("/")]
        if not running:
            return StackTarget(api_url=api, bucket=bucket, api_key=env_key)
    if len(running) > 1:
        urls = ", ".join(s["apiUrl"] for s in running)
        raise TargetError(f"several `autovid up` stacks are running ({urls}): pass --api URL")
    if not running:
        raise TargetError("no API to talk to: run `autovid up` first, or pass --api URL or --stack NAME")
    saved = running[0]
    return StackTarget(
        api_url=saved["apiUrl"],
        bucket=bucket or saved.get("outputs", {}).get("MediaBucketName"),
        aws_environment=saved.get("awsEnvironment", {}),
        api_key=env_key or saved.get("apiKey"),
    )


def api_key_value(api_key_id: str) -> str:
    """The value of a deployed stack's API key (needs apigateway:GET on it)."""
    try:
        return boto3.client("apigateway").get_api_key(apiKey=api_key_id, includeValue=True)["value"]
    except (BotoCoreError, BotoClientError) as error:
        raise TargetError(f"cannot read API key {api_key_id}: {error}; set AUTOVID_API_KEY") from error


def running_local_stack_named(stack: str) -> dict[str, Any] | None:
    """The running ``autovid up`` whose stack is ``stack`` (``--stack-name``), if any."""
    return next((saved for saved in running_local_stacks() if saved.get("stackName") == stack), None)


def cloudformation_outputs(stack: str, aws_environment: dict[str, str] | None = None) -> dict[str, str]:
    """The stack's outputs from DescribeStacks: of AWS, or of the endpoint ``aws_environment`` names."""
    env = aws_environment or {}
    session = boto3.session.Session(
        aws_access_key_id=env.get("AWS_ACCESS_KEY_ID"),
        aws_secret_access_key=env.get("AWS_SECRET_ACCESS_KEY"),
        region_name=env.get("AWS_REGION"),
    )
    try:
        client = session.client("cloudformation", endpoint_url=env.get("AWS_ENDPOINT_URL") or None)
        response = client.describe_stacks(StackName=stack)
    except (BotoCoreError, BotoClientError) as error:
        raise TargetError(f"cannot read the outputs of stack {stack}: {error}") from error
    return {o["OutputKey"]: o["OutputValue"] for o in response["Stacks"][0].get("Outputs", [])}


class ApiClient:
    def __init__(self, api_url: str, *, api_key: str | None = None, timeout: float = 30.0):
        self.base = api_url.rstrip("/")
        self.http = urllib3.PoolManager(timeout=urllib3.Timeout(connect=5.0, read=timeout), retries=False)
        self.headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if api_key:
            self.headers["x-api-key"] = api_key

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        payload = json.dumps(body).encode() if body is not None else None
        try:
            response = self.http.request(method, f"{self.base}{path}", body=payload, headers=self.headers)
        except urllib3.exceptions.HTTPError as exc:
            raise ApiUnreachableError(f"cannot reach the API at {self.base}: {exc}") from exc
        try:
            data = json.loads(response.data or b"null")
        except ValueError:
            data = response.data.decode(errors="replace")
        if response.status >= 400:
            raise ApiError(response.status, data)
        return data

    def submit(self, spec: dict[str, Any]) -> dict[str, Any]:
        return self._call("POST", "/jobs", spec)

    def status(self, job_id: str) -> dict[str, Any]:
        return self._call("GET", f"/jobs/{job_id}")

    def list_jobs(self, **query: Any) -> dict[str, Any]:
        """One page of GET /jobs; a list value repeats its parameter, None leaves it out."""
        present = {name: value for name, value in query.items() if value is not None}
        suffix = f"?{urlencode(present, doseq=True)}" if present else ""
        return self._call("GET", f"/jobs{suffix}")

    def cancel(self, job_id: str) -> dict[str, Any]:
        return self._call("POST", f"/jobs/{job_id}/cancel")

    def delete(self, job_id: str) -> None:
        self._call("DELETE", f"/jobs/{job_id}")


def upload_local_sources(
    raw_spec: dict[str, Any], base_dirs: Path | list[Path], target: StackTarget
) -> tuple[dict[str, Any], str | None]:
    """Upload every local-path source to the stack's bucket under ``assets/`` and rewrite it to
    ``s3://``. A relative path is looked up in each of ``base_dirs`` in turn. Every source is
    found before the first upload, so a missing one uploads nothing. Returns the rewritten spec
    and the local ``output.destination``, if any."""
    roots = [base_dirs] if isinstance(base_dirs, Path) else base_dirs
    s3 = None
    found: dict[str, Path] = {}

    def find(source: str) -> str:
        candidates = [(root / source).resolve() for root in roots]
        path = next((c for c in candidates if c.is_file()), None)
        if path is None:
            tried = ", ".join(str(c) for c in candidates)
            raise TargetError(f"local source {source!r} does not exist (looked for {tried})")
        if target.bucket is None:
            raise TargetError("local sources need the stack's bucket: pass --bucket or --stack")
        found[source] = path
        return source

    def upload(source: str) -> str:
        nonlocal s3
        path = found[source]
        s3 = s3 or target.s3()
        key = f"assets/{_digest(path)}/{path.name}"
        try:
            s3.upload_file(str(path), target.bucket, key)
        except (BotoConnectionError, HTTPClientError) as error:  # the endpoint, not the input
            raise ApiUnreachableError(f"cannot reach S3 to upload {path}: {error}") from error
        except (BotoCoreError, BotoClientError, boto3.exceptions.S3UploadFailedError) as error:
            raise TargetError(f"cannot upload {path} to s3://{target.bucket}/{key}: {error}") from error
        return f"s3://{target.bucket}/{key}"

    resolve_local_sources(raw_spec, find)
    return resolve_local_sources(raw_spec, upload)


def _digest(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            sha.update(chunk)
    return sha.hexdigest()[:16]


def wait_for_job(
    api: ApiClient,
    job_id: str,
    *,
    on_update: Callable[[dict[str, Any]], None] | None = None,
    poll_seconds: float = 0.5,
    timeout: float | None = None,
) -> dict[str, Any]:
    """Poll until the job is completed, failed or cancelled; ``on_update`` sees every answer. A few polls in a
    row that cannot reach the API (or get a 5xx) are tolerated before giving up."""
    deadline = None if timeout is None else time.monotonic() + timeout
    misses = 0
    while True:
        try:
            job = api.status(job_id)
        except (ApiUnreachableError, ApiError) as error:
            if isinstance(error, ApiError) and error.status < 500:
                raise
            misses += 1
            if misses > MAX_MISSED_POLLS or (deadline is not None and time.monotonic() > deadline):
                raise
            time.sleep(poll_seconds * misses)
            continue
        misses = 0
        if on_update:
            on_update(job)
        if job["status"] in TERMINAL_STATUSES:
            return job
        if deadline is not None and time.monotonic() > deadline:
            raise WaitTimeoutError(f"job {job_id} is still {job['status']} after {timeout:.0f}s")
        time.sleep(poll_seconds)


class ProgressBar:
    """A tqdm bar showing the job's status, current step and render percentage."""

    def __init__(self, job_id: str, enabled: bool):
        from tqdm import tqdm

        self.bar = tqdm(
            total=100,
            desc=f"job {job_id[:8]}",
            disable=not enabled,
            dynamic_ncols=True,
            bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed} {postfix}",
        )

    def __call__(self, job: dict[str, Any]) -> None:
        progress = job.get("progress") or {}
        step = progress.get("state") or "-"
        self.bar.set_postfix_str(f"{job['status']} {step}", refresh=False)
        percent = 100 if job["status"] == "completed" else progress.get("percent") or 0
        if progress.get("state") == "RenderVideo" or job["status"] == "completed":
            self.bar.update(max(0, percent - self.bar.n))
        else:
            self.bar.refresh()

    def close(self) -> None:
        self.bar.close()


class DownloadError(Exception):
    """The finished MP4 could not be fetched."""


def download(url: str, destination: Path) -> Path:
    """Fetch a presigned URL to the file ``destination``; nothing is left behind on failure."""
    http = urllib3.PoolManager(timeout=urllib3.Timeout(connect=10.0, read=120.0))
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(destination.name + ".part")
    try:
        response = http.request("GET", url, preload_content=False)
        try:
            if response.status != 200:
                raise DownloadError(f"download failed with HTTP {response.status}")
            with partial.open("wb") as out:
                for chunk in response.stream(1 << 20):
                    out.write(chunk)
        finally:
            response.release_conn()
        os.replace(partial, destination)
    except urllib3.exceptions.HTTPError as exc:
        raise DownloadError(f"download failed: {exc}") from exc
    finally:
        partial.unlink(missing_ok=True)
    return destination
