"""bench/crash.py, smaller: the whole stack killed twice while jobs run; every check must hold."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from support import REPO_ROOT


@pytest.mark.slow
def test_jobs_complete_once_across_kills_of_the_whole_stack(tmp_path) -> None:
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "bench" / "crash.py"), "--jobs", "4", "--long", "1", "--kills", "2",
         "--seed", "7", "--json", "--template", str(REPO_ROOT / "template.yaml"), "--workdir", str(tmp_path),
         "--timeout", "300"],
        cwd=tmp_path, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    lines = result.stdout.strip().splitlines()
    assert lines and lines[-1].startswith("{"), result.stdout[-2000:] + result.stderr[-4000:]
    summary = json.loads(lines[-1])
    assert summary["problems"] == [], result.stderr[-4000:]
    assert (summary["completed"], summary["completedOnce"], summary["downloadable"]) == (4, 4, 4)
    assert [len(kill["orphans"]) for kill in summary["kills"]] == [0, 0]
    assert result.returncode == 0
