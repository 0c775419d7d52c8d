"""bench/load.py with 50 concurrent jobs: the counts it prints are exact; its times are never asserted."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from support import REPO_ROOT

JOBS = 50


@pytest.mark.slow
def test_load_benchmark_counts_are_exact(tmp_path) -> None:
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "bench" / "load.py"), "--jobs", str(JOBS), "--json",
         "--template", str(REPO_ROOT / "template.yaml"), "--workdir", str(tmp_path), "--timeout", "300"],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    lines = result.stdout.strip().splitlines()
    assert lines and lines[-1].startswith("{"), result.stdout[-2000:] + result.stderr[-4000:]
    summary = json.loads(lines[-1])
    counts = {
        name: summary[name]
        for name in (
            "submitted", "submitErrors", "completed", "failed", "records", "recordsOfOurJobs", "executions",
            "executionsOfOurJobs", "dlqMessages", "renderInvocations", "renderTasksScheduled", "duplicateRenders",
            "missingRenders", "pollErrors",
        )
    }  # fmt: skip
    assert counts == {
        "submitted": JOBS, "submitErrors": 0, "completed": JOBS, "failed": 0, "records": JOBS,
        "recordsOfOurJobs": JOBS, "executions": JOBS, "executionsOfOurJobs": JOBS, "dlqMessages": 0,
        "renderInvocations": JOBS, "renderTasksScheduled": JOBS, "duplicateRenders": 0, "missingRenders": 0,
        "pollErrors": 0,
    }, result.stderr[-4000:]  # fmt: skip
    assert result.returncode == 0, result.stderr[-4000:]
    assert f"auto-vid load benchmark: {JOBS} concurrent submits" in result.stdout  # the table is printed too
