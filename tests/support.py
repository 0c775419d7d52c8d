"""Helpers shared by the test modules (importable as `support`)."""

from __future__ import annotations

import importlib.util
import sys
import uuid
from pathlib import Path
from types import ModuleType

REPO_ROOT = Path(__file__).resolve().parent.parent
REFERENCE_DIR = REPO_ROOT.parent / "shared" / "reference" / "auto-vid"
EVENTS_DIR = REPO_ROOT / "events"
REGION = "us-east-1"


def load_handler_module(function_dir: str) -> ModuleType:
    """Import functions/<dir>/app.py under a unique name (every function's module is `app`)."""
    path = REPO_ROOT / "functions" / function_dir / "app.py"
    name = f"autovid_fn_{function_dir}_{uuid.uuid4().hex[:8]}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


class FakeLambdaContext:
    function_name = "test-function"
    function_version = "$LATEST"
    memory_limit_in_mb = 512
    invoked_function_arn = f"arn:aws:lambda:{REGION}:123456789012:function:test-function"
    aws_request_id = "00000000-0000-0000-0000-000000000000"
    log_group_name = "/aws/lambda/test-function"
    log_stream_name = "test"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def api_event(
    method: str,
    path: str,
    *,
    resource: str | None = None,
    body: str | None = None,
    headers: dict[str, str] | None = None,
    path_parameters: dict[str, str] | None = None,
) -> dict:
    """A minimal API Gateway REST proxy event."""
    return {
        "resource": resource or path,
        "path": path,
        "httpMethod": method,
        "headers": headers if headers is not None else {"Content-Type": "application/json"},
        "multiValueHeaders": {},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": path_parameters,
        "stageVariables": None,
        "requestContext": {"requestId": str(uuid.uuid4()), "stage": "Prod", "resourcePath": resource or path},
        "body": body,
        "isBase64Encoded": False,
    }


def response_headers(response: dict) -> dict[str, str]:
    """Flatten a proxy response's headers and multiValueHeaders."""
    headers = dict(response.get("headers") or {})
    for name, values in (response.get("multiValueHeaders") or {}).items():
        headers[name] = ", ".join(values)
    return headers


def minimal_spec() -> dict:
    return {
        "assets": {
            "video": {"id": "main", "source": "s3://bucket/inputs/video.mp4"},
            "audio": [
                {"id": "music", "source": "s3://bucket/assets/music.mp3"},
                {"id": "sfx", "source": "https://cdn.example.com/sfx.mp3"},
            ],
        },
        "backgroundMusic": {"playlist": ["music"]},
        "timeline": [
            {"type": "tts", "start": 1, "data": {"text": "Hello there", "duckingLevel": 0.2}},
            {"type": "audio", "start": 2.5, "data": {"assetId": "sfx"}},
        ],
        "output": {"filename": "out.mp4"},
    }


#: The fields of every job answer, as the seed contract shows them.
SEED_KEYS = {
    "jobId",
    "status",
    "submittedAt",
    "updatedAt",
    "completedAt",
    "processingTime",
    "output",
    "error",
    "metadata",
    "jobInfo",
}
