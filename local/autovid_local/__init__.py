"""auto-vid's local runtime: run ``template.yaml`` on one machine with no AWS account and no Docker.

Lambda code never imports this package. See :class:`autovid_local.runtime.LocalRuntime`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from autovid_local.runtime import LocalRuntime

__all__ = ["LocalRuntime"]


def __getattr__(name: str) -> Any:
    # Imported on first use, so `autovid render` does not load the whole local stack.
    if name == "LocalRuntime":
        from autovid_local.runtime import LocalRuntime

        return LocalRuntime
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
