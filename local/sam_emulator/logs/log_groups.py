"""Writing log events into the endpoint's CloudWatch Logs, as Lambda and Step Functions do.

Writes go straight to moto's Logs backend of the same process (no HTTP round trip from inside a
handler or an execution): the group is created when missing (Lambda does that for
``/aws/lambda/<FunctionName>``), the stream on first use, and then ``aws logs filter-log-events``,
``get-log-events`` and ``tail`` read them as on AWS.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable

#: Per (account, region, group, stream): a lock, so the events of one stream stay in order.
_locks: dict[tuple[str, str, str, str], threading.Lock] = {}
_locks_guard = threading.Lock()


class LogStreamWriter:
    """One log stream of one log group; safe to share between threads."""

    def __init__(self, account_id: str, region: str, group: str, stream: str, *, create_group: bool = True):
        self.account_id, self.region, self.group, self.stream = account_id, region, group, stream
        self._create_group = create_group
        self._ready = False
        key = (account_id, region, group, stream)
        with _locks_guard:
            self._lock = _locks.setdefault(key, threading.Lock())

    def put(self, messages: Iterable[str], timestamp_ms: int | None = None) -> None:
        """One event per message, all at ``timestamp_ms`` (now by default)."""
        stamp = int(time.time() * 1000) if timestamp_ms is None else timestamp_ms
        events = [{"timestamp": stamp, "message": message} for message in messages]
        if not events:
            return
        from moto.logs.models import logs_backends

        backend = logs_backends[self.account_id][self.region]
        with self._lock:
            if not self._ready:
                self._prepare(backend)
            if self.group in backend.groups:  # deleted since: dropped, as CloudWatch Logs would refuse it
                if self.stream not in backend.groups[self.group].streams:
                    backend.create_log_stream(self.group, self.stream)
                backend.put_log_events(self.group, self.stream, events)

    def _prepare(self, backend: object) -> None:
        groups = backend.groups  # type: ignore[attr-defined]
        if self.group not in groups and self._create_group:
            backend.create_log_group(self.group, {})  # type: ignore[attr-defined]
        self._ready = True
