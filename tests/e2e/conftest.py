"""One local stack from the project's template.yaml per test module, with generated media."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from render.media import make_tone, make_video
from support import REPO_ROOT

from autovid.core.errors import TransientError
from autovid_cli.targets import ApiClient, wait_for_job
from sam_emulator.runtime import LocalRuntime
from sam_emulator.testing import running_runtime, wait_for_execution

VIDEO_SECONDS = 4.0
WORKER_DOUBLES = Path(__file__).with_name("worker_doubles.py")


class WorkerDoubles:
    """Turns the doubles of ``worker_doubles.py`` on and off, and reads what they saw."""

    def __init__(self, folder: Path):
        self.folder = folder

    @contextmanager
    def on(self, name: str, **options: Any) -> Iterator[WorkerDoubles]:
        (self.folder / f"{name}.json").write_text(json.dumps(options))
        try:
            yield self
        finally:
            for path in self.folder.glob(f"{name}.*"):
                path.unlink()

    def calls(self, name: str) -> list[Any]:
        log = self.folder / f"{name}.log"
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []

    def reached(self, marker: str) -> bool:
        """``render.held``, ``render.finished`` ... exists."""
        return (self.folder / marker).exists()

    def release(self, name: str) -> None:
        (self.folder / f"{name}.release").touch()


def wait_for_marker(doubles: WorkerDoubles, marker: str, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while not doubles.reached(marker):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@dataclass
class Stack:
    runtime: LocalRuntime
    api: ApiClient
    bucket: str
    media: dict[str, str]  # name -> s3:// URI of the uploaded file
    files: dict[str, Path]
    doubles: WorkerDoubles

    def spec(self, **changes: object) -> dict:
        spec = {
            "jobInfo": {"projectId": "e2e", "title": "end to end"},
            "assets": {
                "video": {"id": "clip", "source": self.media["clip"]},
                "audio": [
                    {"id": "music", "source": self.media["music"]},
                    {"id": "beep", "source": self.media["beep"]},
                ],
            },
            "backgroundMusic": {"playlist": ["music"], "volume": 0.5},
            "timeline": [
                {"type": "tts", "start": 0.5, "data": {"text": "Hello from the test.", "duckingLevel": 0.2}},
                {"type": "audio", "start": 3.0, "data": {"assetId": "beep", "volume": 0.8}},
            ],
            "output": {"filename": "e2e.mp4"},
        }
        spec.update(changes)
        return spec

    def run(self, spec: dict, timeout: float = 60.0) -> dict:
        """Submit and wait for the job to end, then for its execution to end: the step that wrote
        the final status may still be running (FinalizeJob removes the work files after marking
        the job completed), and moto applies an UpdateItem's assignments one at a time, so a read
        during the write can see part of it. Returns the status read after both."""
        job = wait_for_job(self.api, self.api.submit(spec)["jobId"], poll_seconds=0.1, timeout=timeout)
        if job.get("executionArn"):
            wait_for_execution(self.runtime, job["executionArn"], timeout=timeout)
        return self.api.status(job["jobId"])

    def run_with_render_failing(self) -> dict:
        """A job whose RenderVideo fails past its retries (1 attempt + 3 retries, TransientError
        "render node went away"); the fault is removed afterwards."""
        self.runtime.inject_fault("RenderVideoFunction", lambda: TransientError("render node went away"), times=4)
        try:
            return self.run(self.spec())
        finally:
            self.runtime.clear_faults()


@contextmanager
def started_stack(media_dir: Path, **runtime_options: Any) -> Iterator[Stack]:
    """The project's stack on the local runtime, with generated media uploaded to its bucket."""
    files = {
        "clip": make_video(media_dir / "clip.mp4", VIDEO_SECONDS, size="320x240", fps=25),
        "music": make_tone(media_dir / "music.mp3", 330.0, 6.0, amplitude=0.4),
        "beep": make_tone(media_dir / "beep.wav", 1500.0, 0.5, amplitude=0.6),
    }
    doubles = media_dir / "doubles"
    shutil.rmtree(doubles, ignore_errors=True)
    doubles.mkdir()
    environment = {**runtime_options.pop("function_environment", {}), "E2E_DOUBLES_DIR": str(doubles)}
    options = {
        "parameter_overrides": {"TtsProvider": "espeak-ng"},
        "function_environment": environment,
        "worker_preload": [WORKER_DOUBLES],
        **runtime_options,
    }
    with running_runtime(REPO_ROOT / "template.yaml", **options) as runtime:
        bucket = runtime.outputs()["MediaBucketName"]
        s3 = runtime.client("s3")
        media = {}
        for name, path in files.items():
            key = f"assets/e2e/{path.name}"
            s3.upload_file(str(path), bucket, key)
            media[name] = f"s3://{bucket}/{key}"
        yield Stack(runtime, ApiClient(runtime.api_url or ""), bucket, media, files, WorkerDoubles(doubles))


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with started_stack(tmp_path_factory.mktemp("e2e-media")) as started:
        yield started
