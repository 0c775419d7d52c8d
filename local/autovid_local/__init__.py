"""auto-vid's local runtime: run ``template.yaml`` on one machine with no AWS account and no Docker.

Lambda code never imports this package. See :class:`autovid_local.runtime.LocalRuntime`.
"""

from autovid_local.runtime import LocalRuntime

__all__ = ["LocalRuntime"]
