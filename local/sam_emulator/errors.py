"""Typed errors raised by the local runtime (never by Lambda code)."""

from __future__ import annotations


class LocalRuntimeError(Exception):
    """Base class for every error the local runtime raises on purpose."""


class TemplateError(LocalRuntimeError):
    """The template cannot be read or uses a construct the runtime cannot resolve."""


class UnresolvableReferenceError(TemplateError):
    """``Ref`` / ``Fn::GetAtt`` / ``Fn::Sub`` names something the template does not declare."""


class UnsupportedIntrinsicError(TemplateError):
    """An intrinsic function the local runtime does not implement (for example ``Fn::ImportValue``)."""


class PortInUseError(LocalRuntimeError):
    """A port the runtime should listen on is taken (often by LocalStack on 4566, or an earlier
    runtime that is still running)."""


class RuntimeAlreadyRunningError(LocalRuntimeError):
    """moto keeps its state per process, so only one local runtime may run at a time."""


class MotoPatchError(LocalRuntimeError):
    """A moto internal the runtime patches has moved or changed shape (usually after a moto upgrade)."""

    def __init__(self, patch_name: str, detail: str):
        self.patch_name = patch_name
        self.detail = detail
        super().__init__(f"moto patch '{patch_name}' no longer applies: {detail}")


class UnknownFunctionError(LocalRuntimeError):
    """A fault or an invoke names a function the template does not declare."""


class ScratchFolderInUseError(LocalRuntimeError):
    """Another running stack owns the scratch folder (its workers' ``/tmp`` folders)."""
