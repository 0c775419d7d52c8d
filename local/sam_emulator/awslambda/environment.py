"""Per-invocation environment variables for in-process Lambda handlers.

``os.environ`` is one mapping for the whole process, but every Lambda function has its own
environment. While the runtime is active, the class of the existing ``os.environ`` object is
switched to :class:`_InvocationAwareEnviron`: inside :func:`lambda_environment` (a context
variable, so per thread) reads and writes go to that invocation's own dict; everywhere else
they go to the real process environment as before. Swapping the class keeps the object's
identity, so modules that did ``from os import environ`` and botocore's config providers see
the same behaviour.

Threads a handler starts itself run in a copy of the invocation's context (see
``function_logs``), so they see the function's environment too, as on Lambda. So do the
processes it starts: ``subprocess.Popen`` without an explicit ``env`` gets the invocation's
environment instead of the process's.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import os
import subprocess
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

_invocation_environment: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar(
    "sam_emulator_lambda_environment", default=None
)
_install_lock = threading.Lock()
_install_count = 0


class _InvocationAwareEnviron(os._Environ):  # type: ignore[name-defined,misc]
    """``os.environ`` that defers to the current invocation's environment when there is one."""

    def __getitem__(self, key: str) -> str:
        overlay = _invocation_environment.get()
        if overlay is None:
            return super().__getitem__(key)
        return overlay[key]

    def __setitem__(self, key: str, value: str) -> None:
        overlay = _invocation_environment.get()
        if overlay is None:
            super().__setitem__(key, value)
            return
        if not isinstance(key, str) or not isinstance(value, str):
            raise TypeError(f"str expected, not {type(key).__name__}/{type(value).__name__}")
        overlay[key] = value

    def __delitem__(self, key: str) -> None:
        overlay = _invocation_environment.get()
        if overlay is None:
            super().__delitem__(key)
            return
        del overlay[key]

    def __iter__(self) -> Iterator[str]:
        overlay = _invocation_environment.get()
        if overlay is None:
            return super().__iter__()
        return iter(list(overlay))

    def __len__(self) -> int:
        overlay = _invocation_environment.get()
        return super().__len__() if overlay is None else len(overlay)

    def copy(self) -> dict[str, str]:
        return dict(self)

    def __repr__(self) -> str:
        overlay = _invocation_environment.get()
        return super().__repr__() if overlay is None else f"environ({overlay!r})"


_original_popen_init = subprocess.Popen.__init__
# Index of ``env`` among Popen's positional parameters after ``args`` (bufsize, executable, ...).
_POPEN_ENV_POSITION = list(inspect.signature(_original_popen_init).parameters).index("env") - 1


@functools.wraps(_original_popen_init)
def _popen_init_with_invocation_environment(self: subprocess.Popen, *args: Any, **kwargs: Any) -> None:
    overlay = _invocation_environment.get()
    env_given_by_position = len(args) > _POPEN_ENV_POSITION
    if overlay is not None and kwargs.get("env") is None and not env_given_by_position:
        kwargs["env"] = dict(overlay)
    _original_popen_init(self, *args, **kwargs)


def install() -> None:
    """Make ``os.environ`` and child processes invocation-aware (reference counted; safe to
    call repeatedly)."""
    global _install_count
    with _install_lock:
        if _install_count == 0:
            os.environ.__class__ = _InvocationAwareEnviron
            subprocess.Popen.__init__ = _popen_init_with_invocation_environment  # type: ignore[method-assign]
        _install_count += 1


def uninstall() -> None:
    global _install_count
    with _install_lock:
        _install_count = max(0, _install_count - 1)
        if _install_count == 0:
            os.environ.__class__ = os._Environ  # type: ignore[attr-defined]
            subprocess.Popen.__init__ = _original_popen_init  # type: ignore[method-assign]


def is_installed() -> bool:
    return isinstance(os.environ, _InvocationAwareEnviron)


def process_environment() -> dict[str, str]:
    """The real process environment, even when called inside an invocation."""
    token = _invocation_environment.set(None)
    try:
        return dict(os.environ)
    finally:
        _invocation_environment.reset(token)


@contextmanager
def lambda_environment(variables: Mapping[str, Any]) -> Iterator[dict[str, str]]:
    """Run the body with ``os.environ`` showing exactly ``variables`` (in this thread only)."""
    overlay = {str(key): str(value) for key, value in variables.items()}
    token = _invocation_environment.set(overlay)
    try:
        yield overlay
    finally:
        _invocation_environment.reset(token)
