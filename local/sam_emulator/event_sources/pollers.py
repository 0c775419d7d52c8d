"""The thread life cycle shared by the local event sources that poll (pipes, streams)."""

from __future__ import annotations

import threading


class BackgroundPoller:
    """Runs ``_run`` on a daemon thread until stopped; ``_run`` checks ``_stopping``."""

    def __init__(self) -> None:
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def _start_thread(self, name: str) -> None:
        self._stopping.clear()  # a stopped poller can be started again
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        raise NotImplementedError

    def request_stop(self) -> None:
        """Ask the poller to finish what it is delivering and exit (see :meth:`stop`)."""
        self._stopping.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
