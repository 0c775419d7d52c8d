"""Test doubles for the e2e stack, run in every Lambda worker before its handler is imported
(``LocalRuntime(worker_preload=...)``): the handlers run in worker processes, so a test cannot
``monkeypatch`` what they use. Each double wraps a product seam and stays a pass-through until
the test turns it on by writing ``<name>.json`` in the folder ``E2E_DOUBLES_DIR`` names (see
:class:`e2e.conftest.WorkerDoubles`); it reads that file at each call, so warm workers follow.

* ``render``: ``render_video.render`` records each call's first audio source in ``render.log``;
  fails the first ``failCalls`` calls with ``UpstreamUnavailableError("<failMessage> (call n)")``;
  with ``hold`` (``before`` or ``after`` the real render) writes ``render.held`` and waits for
  ``render.release`` (at most ``holdSeconds``); writes ``render.finished`` when it returns.
* ``ffmpeg``: ``engine.run_with_progress`` (the render's main ffmpeg run) records its ``-i``
  inputs and the SHA-256 of each file in the render's folder at that moment; with ``replace``
  (``bucket``, ``key``, ``body`` as hex) first overwrites that S3 object; with ``skip`` it does
  not run ffmpeg at all.
* ``render`` also takes ``replace`` (as ``ffmpeg``'s), applied before the real render starts.
* ``copy``: ``storage.copy_object`` raises ``MemoryError`` on its first call.
* ``throttle``: ``JobsTable.update`` to ``completed`` fails once, throttled.
* ``resolver``: ``netguard.system_resolver`` resolves ``host`` to ``address`` and logs each name.
* ``downloads``: ``s3_assets.download_object`` logs each ``s3://bucket/key``.
* ``connect``: ``socket.connect`` logs each address and refuses ``refuse``.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path
from typing import Any

FOLDER = Path(os.environ["E2E_DOUBLES_DIR"])
CODE = Path(os.environ["LAMBDA_TASK_ROOT"]).name  # which function this worker runs


def _options(name: str) -> dict[str, Any] | None:
    try:
        return json.loads((FOLDER / f"{name}.json").read_text())
    except FileNotFoundError:
        return None


def record(name: str, entry: Any) -> int:
    """Append ``entry`` to ``<name>.log``; returns how many entries it holds now."""
    with (FOLDER / f"{name}.log").open("a") as log:
        log.write(json.dumps(entry) + "\n")
    return len((FOLDER / f"{name}.log").read_text().splitlines())


def hold(name: str, seconds: float) -> None:
    """Until released, turned off, or ``seconds`` have passed."""
    (FOLDER / f"{name}.held").touch()
    deadline = time.monotonic() + seconds
    while _options(name) is not None and not (FOLDER / f"{name}.release").exists() and time.monotonic() < deadline:
        time.sleep(0.05)


def replace_object(spec: dict[str, Any] | None) -> None:
    """Overwrite an S3 object, through the stack's endpoint (the worker's own environment)."""
    if spec:
        import boto3

        boto3.client("s3").put_object(Bucket=spec["bucket"], Key=spec["key"], Body=bytes.fromhex(spec["body"]))


def double_ffmpeg() -> None:
    import hashlib

    from autovid.render import engine

    real = engine.run_with_progress

    def run_with_progress(args: list[str], *rest: Any, log_path: Path, **options: Any) -> Any:
        opts = _options("ffmpeg")
        if opts is None:
            return real(args, *rest, log_path=log_path, **options)
        workdir = log_path.parent.parent  # the fetcher's folder is inside the render's work folder
        files = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in workdir.rglob("*") if p.is_file()}
        record("ffmpeg", {"inputs": [args[i + 1] for i, a in enumerate(args) if a == "-i"], "files": files})
        replace_object(opts.get("replace"))
        if opts.get("skip"):
            return None
        return real(args, *rest, log_path=log_path, **options)

    engine.run_with_progress = run_with_progress


def double_render() -> None:
    from autovid.core.errors import UpstreamUnavailableError
    from autovid.workflow import render_video

    real = render_video.render

    def render(spec: Any, workdir: Any, progress: Any, **kwargs: Any) -> Any:
        opts = _options("render")
        if opts is None:
            return real(spec, workdir, progress, **kwargs)
        calls = record("render", {"audio0": spec.assets.audio[0].source})
        try:
            if calls <= opts.get("failCalls", 0):
                raise UpstreamUnavailableError(f"{opts['failMessage']} (call {calls})")
            if opts.get("hold") == "before":
                hold("render", opts.get("holdSeconds", 30))
            replace_object(opts.get("replace"))
            result = real(spec, workdir, progress, **kwargs)
            if opts.get("hold") == "after":
                hold("render", opts.get("holdSeconds", 30))
            return result
        finally:
            (FOLDER / "render.finished").touch()

    render_video.render = render


def double_copy() -> None:
    from autovid.aws import storage

    real = storage.copy_object

    def copy_object(*args: Any) -> None:
        if _options("copy") is not None and record("copy", list(args)) == 1:
            raise MemoryError("the upload Lambda was killed before its copy")
        real(*args)

    storage.copy_object = copy_object


def double_jobs_table() -> None:
    from botocore.exceptions import ClientError

    from autovid.aws import jobs
    from autovid.aws.errors import raise_for_client_error

    real = jobs.JobsTable.update

    def update(self: Any, job_id: str, **request: Any) -> Any:
        completing = request["values"].get(":new") == "completed"
        if completing and _options("throttle") is not None and not (FOLDER / "throttle.log").exists():
            record("throttle", job_id)
            error = {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "Rate exceeded"}}
            raise_for_client_error(ClientError(error, "UpdateItem"), "DynamoDB UpdateItem")
        return real(self, job_id, **request)

    jobs.JobsTable.update = update


def double_fetches() -> None:
    from autovid.aws import s3_assets
    from autovid.core import netguard

    real_resolver, real_download = netguard.system_resolver, s3_assets.download_object

    def resolver(host: str, port: int) -> list[str]:
        opts = _options("resolver")
        if opts is None:
            return real_resolver(host, port)
        record("resolver", host)
        return [opts["address"]] if host == opts["host"] else real_resolver(host, port)

    def download_object(bucket: str, key: str, *args: Any, **kwargs: Any) -> int:
        if _options("downloads") is not None:
            record("downloads", f"s3://{bucket}/{key}")
        return real_download(bucket, key, *args, **kwargs)

    netguard.system_resolver = resolver
    s3_assets.download_object = download_object


def double_connect() -> None:
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex

    def guarded(address: Any) -> None:
        opts = _options("connect")
        if opts is None:
            return
        record("connect", list(address) if isinstance(address, tuple) else address)
        if isinstance(address, tuple) and address[0] == opts["refuse"]:
            raise ConnectionRefusedError(f"test: {address[0]} must never be contacted")

    def connect(sock: socket.socket, address: Any) -> None:
        guarded(address)
        real_connect(sock, address)

    def connect_ex(sock: socket.socket, address: Any) -> int:
        guarded(address)
        return real_connect_ex(sock, address)

    socket.socket.connect = connect  # type: ignore[method-assign]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]


double_connect()
double_jobs_table()
if CODE in ("render_video", "validate_job"):
    double_fetches()
if CODE == "render_video":
    double_render()
    double_ffmpeg()
if CODE == "upload_output":
    double_copy()
