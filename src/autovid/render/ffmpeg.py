"""Where the ffmpeg binary is, and running it with typed failures."""

from __future__ import annotations

import os
import subprocess
from functools import cache


@cache
def ffmpeg_exe() -> str:
    """``FFMPEG_BINARY`` if set, else the binary shipped in the imageio-ffmpeg wheel."""
    configured = os.environ.get("FFMPEG_BINARY")
    if configured:
        return configured
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def run_ffmpeg(args: list[str], *, timeout: float | None = None) -> subprocess.CompletedProcess[str]:
    """Run ffmpeg quietly and return the completed process (the caller checks returncode)."""
    return subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-nostdin", *args],
        capture_output=True,
        text=True,
        errors="replace",
        timeout=timeout,
        check=False,
    )
