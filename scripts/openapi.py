"""Write the REST API's OpenAPI document (openapi.json) from the functions' Powertools resolvers.

    python scripts/openapi.py > openapi.json

SubmitJob, GetStatus and ManageJob each have their own ``APIGatewayRestResolver``; Powertools
generates the paths and responses of each (their routes declare ``responses`` with pydantic
models), and this script merges them, path by path and method by method. The request body of a
submit is the job spec, whose JSON schema comes from ``autovid.spec.JobSpec``: the handler reads
the body itself (to answer 400/413/415 in the service's own error shape), so Powertools cannot see
it; nor the query parameters of GET /jobs, which the listing parses itself (to name each bad one
in that shape), so they are added here. ``tests/api/test_openapi.py`` fails when the committed
document differs from what this prints.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
SUBMIT_PATHS = ("/jobs", "/submit")
FUNCTIONS = ("submit_job", "get_status", "manage_job")
STATUSES = ["submitted", "processing", "retrying", "completed", "failed", "cancelled"]
LIST_PARAMETERS = [
    {
        "name": "status",
        "in": "query",
        "required": False,
        "description": "only jobs in these statuses: repeat the parameter or separate them with commas",
        "style": "form",
        "explode": True,
        "schema": {"type": "array", "items": {"type": "string", "enum": STATUSES}},
    },
    {
        "name": "projectId",
        "in": "query",
        "required": False,
        "description": "only jobs whose jobInfo.projectId is this",
        "schema": {"type": "string", "minLength": 1},
    },
    {
        "name": "submittedAfter",
        "in": "query",
        "required": False,
        "description": "only jobs submitted after this time (ISO-8601; UTC when no offset is given)",
        "schema": {"type": "string", "format": "date-time"},
    },
    {
        "name": "submittedBefore",
        "in": "query",
        "required": False,
        "description": "only jobs submitted before this time (ISO-8601; UTC when no offset is given)",
        "schema": {"type": "string", "format": "date-time"},
    },
    {
        "name": "limit",
        "in": "query",
        "required": False,
        "description": "jobs per page",
        "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
    },
    {
        "name": "nextToken",
        "in": "query",
        "required": False,
        "description": "the previous page's nextToken, as it was (with the same filters)",
        "schema": {"type": "string", "minLength": 1},
    },
]


def load_app(function_dir: str) -> Any:
    path = REPO_ROOT / "functions" / function_dir / "app.py"
    spec = importlib.util.spec_from_file_location(f"openapi_{function_dir}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.app


def document() -> dict[str, Any]:
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")  # the handlers' clients need a region
    from autovid.spec import JobSpec

    merged: dict[str, Any] = {}
    for function_dir in FUNCTIONS:
        schema = load_app(function_dir).get_openapi_schema(title="auto-vid", version="1.0.0", openapi_version="3.1.0")
        part = json.loads(schema.model_dump_json(by_alias=True, exclude_none=True))
        if not merged:
            merged = part
            continue
        for path, operations in part["paths"].items():
            merged["paths"].setdefault(path, {}).update(operations)
        merged.setdefault("components", {}).setdefault("schemas", {}).update(
            (part.get("components") or {}).get("schemas") or {}
        )
    spec_schema = JobSpec.model_json_schema(ref_template="#/components/schemas/{model}", by_alias=True)
    merged["components"]["schemas"].update(spec_schema.pop("$defs", {}))
    merged["components"]["schemas"]["JobSpec"] = spec_schema
    for path in SUBMIT_PATHS:
        merged["paths"][path]["post"]["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/JobSpec"}}},
        }
        merged["paths"][path]["post"]["parameters"] = [
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "description": "the same key and body answer the same job for 24 h (1 to 255 printable ASCII)",
                "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[ -~]+$"},
            }
        ]
    merged["paths"]["/jobs"]["get"]["parameters"] = LIST_PARAMETERS
    merged["info"]["description"] = (
        "Serverless video enrichment: submit a job spec, follow, list, cancel and delete jobs, download the MP4. "
        "Deployed APIs require "
        "an API key (x-api-key) unless the stack is deployed with ApiKeyRequired=false."
    )
    merged["components"]["securitySchemes"] = {"apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"}}
    merged["security"] = [{"apiKey": []}]
    merged.pop("servers", None)
    _drop_unreferenced_schemas(merged)
    return merged


def _drop_unreferenced_schemas(document: dict[str, Any]) -> None:
    """Powertools adds its validation-error models even when no route uses them."""
    schemas = document["components"]["schemas"]
    while True:
        text = json.dumps({key: value for key, value in document.items()})
        unused = [name for name in schemas if f'"#/components/schemas/{name}"' not in text]
        if not unused:
            return
        for name in unused:
            del schemas[name]


def main() -> int:
    json.dump(document(), sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
