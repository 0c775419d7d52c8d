"""The scratch folder: each worker's private ``/tmp``, and the record of the workers running.

One running stack owns the folder (an exclusive ``flock`` on ``<folder>/.lock``, released by
the kernel even when the stack is killed). On opening it, the folder is made empty: process
groups of workers a previous run left alive (it was killed before it could stop them, and
their parent-death signal did not get through) are killed first, then everything else goes.

A worker is recorded as ``workers/<pid>.json`` with its process start time. A recorded group is
killed only when it is provably the one recorded: its leader has the same pid *and* start
time, or the leader is gone but processes remain in its group (Linux does not reuse a pid
while a process group of that number exists).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import uuid
from pathlib import Path

from sam_emulator.errors import ScratchFolderInUseError

try:
    import fcntl
except ImportError:  # not POSIX: no lock, no process groups
    fcntl = None  # type: ignore[assignment]

_PROC = Path("/proc")


class ScratchFolder:
    def __init__(self, path: str | Path):
        self.path = Path(path).absolute()
        self._lock_file: int | None = None

    @property
    def _records(self) -> Path:
        return self.path / "workers"

    def open(self) -> ScratchFolder:
        self.path.mkdir(parents=True, exist_ok=True)
        self._lock()
        self._kill_recorded_groups()
        for entry in self.path.iterdir():
            if entry.name != ".lock":
                _remove(entry)
        self._records.mkdir()
        return self

    def close(self) -> None:
        if self._lock_file is None:  # never opened, or another stack's
            return
        for entry in self.path.iterdir() if self.path.is_dir() else ():
            if entry.name != ".lock":
                _remove(entry)
        if self._lock_file is not None:
            os.close(self._lock_file)
            self._lock_file = None

    def _lock(self) -> None:
        descriptor = os.open(self.path / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        if fcntl is not None:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(descriptor)
                raise ScratchFolderInUseError(
                    f"the scratch folder {self.path} is used by another running stack; give this one its own"
                ) from None
        self._lock_file = descriptor

    def worker_folder(self, logical_id: str) -> Path:
        """A new, empty folder for one worker's temporary files."""
        folder = self.path / f"{logical_id}-{uuid.uuid4().hex[:12]}"
        folder.mkdir(parents=True)
        return folder

    def record(self, pid: int) -> None:
        start_time = _start_time(pid)
        if start_time is not None:
            (self._records / f"{pid}.json").write_text(json.dumps({"pid": pid, "startTime": start_time}))

    def forget(self, pid: int) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self._records / f"{pid}.json").unlink()

    def _kill_recorded_groups(self) -> None:
        for record_file in self._records.glob("*.json") if self._records.is_dir() else ():
            try:
                record = json.loads(record_file.read_text())
                pid, start_time = int(record["pid"]), int(record["startTime"])
            except (OSError, ValueError, KeyError, TypeError):
                continue
            if _still_our_group(pid, start_time):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pid, signal.SIGKILL)


def _still_our_group(pgid: int, start_time: int) -> bool:
    leader_start = _start_time(pgid)
    if leader_start is not None:
        return leader_start == start_time
    return any(_process_group(int(entry.name)) == pgid for entry in _PROC.glob("[0-9]*"))


def _stat_fields(pid: int) -> list[str] | None:
    """``/proc/<pid>/stat`` after the command name (which may hold spaces)."""
    try:
        text = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    return text.rpartition(")")[2].split()


def _start_time(pid: int) -> int | None:
    fields = _stat_fields(pid)
    return int(fields[19]) if fields else None  # field 22: starttime


def _process_group(pid: int) -> int | None:
    fields = _stat_fields(pid)
    return int(fields[2]) if fields else None  # field 5: pgrp


def _remove(entry: Path) -> None:
    if entry.is_dir() and not entry.is_symlink():
        shutil.rmtree(entry, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            entry.unlink()
