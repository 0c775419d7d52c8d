"""`make demo` runs `autovid demo`: the whole path on the local runtime, from a clean directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
from render.media import band_level, decode, window
from support import REPO_ROOT

from autovid.render.probe import probe


def rms(audio: np.ndarray, t0: float, t1: float) -> float:
    return float(np.sqrt(np.mean(window(audio, t0, t1) ** 2)))


def test_autovid_demo_completes_and_downloads_the_mp4(tmp_path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(REPO_ROOT / d) for d in ("src", "local", "cli"))}
    for leaked in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "MOTO_PORT"):
        env.pop(leaked, None)
    result = subprocess.run(
        [sys.executable, "-m", "autovid_cli", "demo", "--template", str(REPO_ROOT / "template.yaml"), "--json"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    job = json.loads(result.stdout.strip().splitlines()[-1])
    assert job["status"] == "completed"
    assert [entry["status"] for entry in job["statusHistory"]] == ["submitted", "processing", "completed"]

    mp4 = tmp_path / "out" / "demo.mp4"
    assert mp4.stat().st_size == job["output"]["size"]
    assert abs(probe(mp4).duration - 10.0) <= 1 / 30
    audio = decode(mp4)
    ding = band_level(audio, 6.85, 7.2, 1318.5)
    assert ding > 5 * band_level(audio, 5.8, 6.6, 1318.5), "the ding at 6.8 s"
    music_alone, with_speech = rms(audio, 0.3, 0.7), rms(audio, 0.9, 2.9)
    assert music_alone > 0.003, "the music plays before the speech"
    assert with_speech > 2 * music_alone, "the speech from 0.8 s is louder than the ducked music"
    assert (tmp_path / ".autovid" / "logs" / "RenderVideoFunction.log").stat().st_size > 0
