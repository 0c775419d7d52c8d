"""The state folder: atomic file writes, append-only record logs, and one runtime per folder.

Writes use ``write`` + ``rename`` and appends a single ``write`` per record, so a process killed
at any moment leaves either the old or the new content, never half of a file (the kernel keeps
what was written). They are not synced to the disk: a power cut may lose the last writes.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import pickle
import shutil
import struct
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sam_emulator.errors import LocalRuntimeError

#: Bumped when the layout changes; a folder written by another format is refused.
FORMAT_VERSION = 1
_MANIFEST = "manifest.json"
_LOCK = "lock"
_RECORD_HEADER = struct.Struct(">I")


class StateDirectoryError(LocalRuntimeError):
    """The state folder cannot be used (another runtime holds it, or another format wrote it)."""


class StateDirectory:
    """A folder holding a runtime's state. ``open()`` locks it; ``close()`` releases it."""

    def __init__(self, path: str | Path, *, engine_version: str):
        self.path = Path(path)
        self._engine_version = engine_version
        self._lock_file: Any = None

    def open(self, *, reset: bool = False) -> bool:
        """Lock the folder (creating it); ``reset`` empties it first. True when it held state."""
        self.path.mkdir(parents=True, exist_ok=True)
        self._lock_file = (self.path / _LOCK).open("a")
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock_file.close()
            self._lock_file = None
            raise StateDirectoryError(f"{self.path} is in use by another running stack") from None
        if reset:
            for child in self.path.iterdir():
                if child.name != _LOCK:
                    shutil.rmtree(child) if child.is_dir() else child.unlink()
        manifest = self.path / _MANIFEST
        if manifest.exists():
            found = json.loads(manifest.read_text())
            if found.get("format") != FORMAT_VERSION or found.get("engine") != self._engine_version:
                self.close()
                raise StateDirectoryError(
                    f"{self.path} was written by state format {found.get('format')} with moto "
                    f"{found.get('engine')}; this runtime uses format {FORMAT_VERSION} with moto "
                    f"{self._engine_version}. Start with --reset to begin empty, or use another folder."
                )
            return True
        atomic_write(manifest, json.dumps({"format": FORMAT_VERSION, "engine": self._engine_version}).encode())
        return False

    def close(self) -> None:
        if self._lock_file is not None:
            fcntl.flock(self._lock_file, fcntl.LOCK_UN)
            self._lock_file.close()
            self._lock_file = None

    def folder(self, *parts: str) -> Path:
        folder = self.path.joinpath(*parts)
        folder.mkdir(parents=True, exist_ok=True)
        return folder


def file_name(key: str) -> str:
    """A file name for any key (an object key, an ARN): a hash, so no key can escape its folder."""
    return hashlib.sha256(key.encode()).hexdigest()


def atomic_write(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data``: readers see the old file or the new one, never a mix."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    with temporary.open("wb") as handle:
        handle.write(data)
    os.replace(temporary, path)


def write_pickle(path: Path, value: Any) -> None:
    atomic_write(path, pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))


def read_pickle(path: Path) -> Any:
    with path.open("rb") as handle:
        return pickle.load(handle)  # noqa: S301 - our own state folder


class RecordLog:
    """An append-only file of pickled records, each written with one ``write`` call.

    A record cut short by a kill (only the last one can be) is ignored when reading."""

    def __init__(self, path: Path):
        self.path = path

    def append(self, record: Any) -> None:
        data = pickle.dumps(record, protocol=pickle.HIGHEST_PROTOCOL)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, _RECORD_HEADER.pack(len(data)) + data)
        finally:
            os.close(fd)

    def __iter__(self) -> Iterator[Any]:
        if not self.path.exists():
            return
        data = self.path.read_bytes()
        offset = 0
        while offset + _RECORD_HEADER.size <= len(data):
            (size,) = _RECORD_HEADER.unpack_from(data, offset)
            start = offset + _RECORD_HEADER.size
            if start + size > len(data):
                return  # the write a kill interrupted
            yield pickle.loads(data[start : start + size])  # noqa: S301 - our own state folder
            offset = start + size

    def replace(self, records: list[Any]) -> None:
        """Rewrite the log with ``records`` (compaction), atomically."""
        chunks = []
        for record in records:
            data = pickle.dumps(record, protocol=pickle.HIGHEST_PROTOCOL)
            chunks.append(_RECORD_HEADER.pack(len(data)) + data)
        atomic_write(self.path, b"".join(chunks))
