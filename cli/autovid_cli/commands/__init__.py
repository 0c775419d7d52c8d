"""What each ``autovid`` subcommand accepts, declared without importing what the command runs.

Each module here adds its subcommands' parsers; a parser's ``run`` is a :func:`lazy` reference to
the function that does the work, imported only when that command runs.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable


def lazy(module: str, function: str) -> Callable[[argparse.Namespace], int]:
    """A ``run`` that imports ``module`` and calls its ``function`` when the command runs."""

    def run(args: argparse.Namespace) -> int:
        return getattr(importlib.import_module(module), function)(args)

    return run


def positive_int(text: str) -> int:
    """An argument type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of 1 or more, got {text!r}")
    return value
