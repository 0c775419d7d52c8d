"""One change to moto internals: :class:`Patch`, used by each service's ``patches`` module."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sam_emulator.errors import MotoPatchError


@dataclass
class Patch:
    """Replace ``owner.attribute`` while installed; ``check`` verifies moto still fits."""

    name: str
    owner: Callable[[], Any]
    attribute: str
    expected_parameters: tuple[str, ...] | None
    build: Callable[[Any], Any]
    #: True for an addition: moto must not have the attribute (when it gains one, review the patch).
    adds: bool = False
    _saved: Any = None

    def target(self) -> tuple[Any, Any]:
        try:
            owner = self.owner()
        except ImportError as error:
            raise MotoPatchError(self.name, f"cannot import the patched module: {error}") from error
        if self.adds:
            present = getattr(owner, self.attribute, None)
            if present is not None and getattr(present, "_added_by", None) != self.name:
                raise MotoPatchError(
                    self.name, f"{owner!r} now has '{self.attribute}': moto implements it; review this patch"
                )
            return owner, None
        if not hasattr(owner, self.attribute):
            raise MotoPatchError(self.name, f"{owner!r} has no attribute '{self.attribute}'")
        return owner, getattr(owner, self.attribute)

    def check(self) -> None:
        _owner, original = self.target()
        if self.expected_parameters is None or self.adds:
            return
        actual = tuple(inspect.signature(original).parameters)
        if actual != self.expected_parameters:
            raise MotoPatchError(
                self.name, f"{self.attribute} parameters changed: expected {self.expected_parameters}, got {actual}"
            )

    def apply(self) -> None:
        self.check()
        owner, original = self.target()
        # A staticmethod is put back as one (getattr gave the bare function).
        self._saved = (owner, vars(owner).get(self.attribute, original))
        replacement = self.build(original)
        if self.adds:
            replacement._added_by = self.name  # so a check while installed knows it is ours
        setattr(owner, self.attribute, replacement)

    def undo(self) -> None:
        if self._saved is not None:
            owner, original = self._saved
            if self.adds:
                delattr(owner, self.attribute)
            else:
                setattr(owner, self.attribute, original)
            self._saved = None
