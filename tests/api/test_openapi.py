"""openapi.json is generated from the resolvers and kept current."""

from __future__ import annotations

import json
import subprocess
import sys

from support import REPO_ROOT


def test_the_committed_openapi_document_is_what_the_resolvers_generate() -> None:
    generated = subprocess.run(
        [sys.executable, str(REPO_ROOT / "scripts" / "openapi.py")],
        capture_output=True, text=True, timeout=120, check=False, cwd=REPO_ROOT,
    )  # fmt: skip
    assert generated.returncode == 0, generated.stderr[-2000:]
    committed = json.loads((REPO_ROOT / "openapi.json").read_text())
    assert json.loads(generated.stdout) == committed, "regenerate: python scripts/openapi.py > openapi.json"


def test_the_document_describes_every_route_of_the_template_and_its_errors() -> None:
    import schemathesis

    document = json.loads((REPO_ROOT / "openapi.json").read_text())
    assert document["openapi"].startswith("3.1")
    assert set(document["paths"]) == {"/jobs", "/submit", "/jobs/{jobId}", "/jobs/{jobId}/cancel", "/status/{jobId}"}
    submit = document["paths"]["/jobs"]["post"]
    assert submit["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/JobSpec"}
    assert {"202", "400", "403", "409", "413", "415", "422", "503"} <= set(submit["responses"])
    assert [p["name"] for p in submit["parameters"]] == ["Idempotency-Key"]
    assert document["components"]["securitySchemes"]["apiKey"] == {
        "type": "apiKey",
        "in": "header",
        "name": "x-api-key",
    }
    schema = schemathesis.openapi.from_path(str(REPO_ROOT / "openapi.json"))
    operations = {f"{op.method.upper()} {op.path}" for op in (r.ok() for r in schema.get_all_operations())}
    assert operations == {
        "POST /jobs",
        "GET /jobs",
        "POST /submit",
        "GET /jobs/{jobId}",
        "DELETE /jobs/{jobId}",
        "POST /jobs/{jobId}/cancel",
        "GET /status/{jobId}",
    }
    listing = document["paths"]["/jobs"]["get"]
    assert [p["name"] for p in listing["parameters"]] == [
        "status", "projectId", "submittedAfter", "submittedBefore", "limit", "nextToken"
    ]  # fmt: skip
    assert "cancelled" in document["components"]["schemas"]["JobStatus"]["enum"]
    assert set(document["paths"]["/jobs/{jobId}"]["delete"]["responses"]) >= {"204", "404", "409"}
    assert set(document["paths"]["/jobs/{jobId}/cancel"]["post"]["responses"]) >= {"202", "404", "409"}
