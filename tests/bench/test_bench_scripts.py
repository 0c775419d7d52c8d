"""The benchmark scripts still run (their numbers are read by people, never asserted here)."""

from __future__ import annotations

import subprocess
import sys

from support import REPO_ROOT


def test_e2e_benchmark_runs_one_job(tmp_path) -> None:
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "bench" / "e2e.py"), "--jobs", "1", "--seconds", "2",
         "--template", str(REPO_ROOT / "template.yaml"), "--workdir", str(tmp_path)],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert "1 of 1 jobs completed" in result.stdout


def test_render_benchmark_loads() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "bench" / "render.py"), "--help"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "moviepy" in result.stdout


def test_startup_benchmark_runs() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "bench" / "startup.py"), "--runs", "1"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "| autovid render --help |" in result.stdout
