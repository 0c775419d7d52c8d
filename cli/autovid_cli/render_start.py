"""``autovid render``'s start: the video's length is measured while the render engine is imported.

Importing the engine (pydantic, the spec models, the settings) is most of the command's start-up,
and listing the video's packets (how its length is measured) is the longest probe. Neither needs
the other, so the listing starts first, in an ffmpeg process of its own, and the render takes its
result instead of listing the packets again. When it cannot be used (the video is not a local
file, or ffmpeg fails on it), the render probes as usual and reports any error as usual.
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import tempfile
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit


class VideoMeasure:
    """``ffmpeg`` listing the video's packets into a temporary file (a pipe would fill and stall it)."""

    def __init__(self, path: Path):
        from autovid.render.ffmpeg import ffmpeg_exe
        from autovid.render.probe import video_packets_args

        self.path = path
        self.listing: IO[str] = tempfile.TemporaryFile("w+")
        self.process = subprocess.Popen(
            [ffmpeg_exe(), *video_packets_args(path)], stdout=self.listing, stderr=subprocess.DEVNULL
        )

    def duration(self) -> float | None:
        """The video's length as :func:`autovid.render.probe.probe` measures it, or None."""
        from autovid.render.probe import packet_duration

        try:
            if self.process.wait() != 0:
                return None
            self.listing.seek(0)
            return packet_duration(self.listing.read())
        finally:
            self.listing.close()

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.listing.close()


def start_video_measure(spec_path: str) -> VideoMeasure | None:
    """Start measuring the spec's video when it is a local file; None otherwise (or on any doubt)."""
    try:
        raw = json.loads(Path(spec_path).read_text())
        source = raw["assets"]["video"]["source"]
    except (OSError, ValueError, TypeError, KeyError):
        return None  # the render reports it
    if not isinstance(source, str) or urlsplit(source).scheme:
        return None
    path = (Path(spec_path).parent / source).resolve()
    return VideoMeasure(path) if path.is_file() else None


def run_from_args(args: argparse.Namespace) -> int:
    measure = start_video_measure(args.spec)
    try:
        # The engine's imports build many thousands of objects (pydantic's schemas) and none of them
        # is garbage: the collector's passes over them took a tenth of the start-up. It is paused
        # while they are built, then the objects are set aside from its later passes.
        gc.disable()
        try:
            from autovid_cli import offline_render  # the engine: imported while ffmpeg lists the packets
        finally:
            gc.freeze()
            gc.enable()

        return offline_render.run_from_args(args, video_measure=measure)
    finally:
        if measure is not None:
            measure.close()
