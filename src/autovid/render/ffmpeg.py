"""Where the ffmpeg binary is, and running it with typed failures."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterable
from functools import cache
from pathlib import Path


@cache
def ffmpeg_exe() -> str:
    """``FFMPEG_BINARY`` if set, else the binary shipped in the imageio-ffmpeg wheel."""
    configured = os.environ.get("FFMPEG_BINARY")
    if configured:
        return configured
    # The wheel's own binary, found without get_ffmpeg_exe(), which first runs it with -version
    # to check it works (tens of milliseconds at every start, more when threads race for it).
    import imageio_ffmpeg
    from imageio_ffmpeg._definitions import FNAME_PER_PLATFORM, get_platform

    shipped = Path(imageio_ffmpeg.__file__).parent / "binaries" / FNAME_PER_PLATFORM.get(get_platform(), "")
    if shipped.is_file() and os.access(shipped, os.X_OK):
        return str(shipped)
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


class RemoteInput:
    """A source ffmpeg reads over HTTP instead of from a local file (see :mod:`autovid.render.stream`).

    ``failure()`` is the typed error the server met while serving it (the object replaced, gone,
    or S3 unavailable), or None; whoever runs ffmpeg on it checks that before its exit code, since
    ffmpeg takes an input that breaks off for one that ended.
    """

    def __init__(self, source: str, url: str, size: int, pin: str, failure: Callable[[], Exception | None]):
        self.source, self.url, self.size, self.pin = source, url, size, pin
        self._failure = failure

    @property
    def name(self) -> str:
        return self.source.rsplit("/", 1)[-1]

    def failure(self) -> Exception | None:
        return self._failure()

    def raise_if_failed(self) -> None:
        error = self._failure()
        if error is not None:
            raise error

    def __repr__(self) -> str:  # the URL is a local one, but there is no need to log it
        return f"RemoteInput({self.source!r}, size={self.size}, pin={self.pin!r})"


# A media file ffmpeg reads: a local path, or a source it streams.
MediaInput = Path | RemoteInput


def input_args(media: MediaInput) -> list[str]:
    """The ``-i`` arguments that open ``media``."""
    if isinstance(media, RemoteInput):
        return ["-i", media.url]
    return ["-i", str(media)]


def input_size(media: MediaInput) -> int:
    return media.size if isinstance(media, RemoteInput) else media.stat().st_size


def raise_stream_failures(inputs: Iterable[MediaInput]) -> None:
    for media in inputs:
        if isinstance(media, RemoteInput):
            media.raise_if_failed()
