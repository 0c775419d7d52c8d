"""Fixtures for the local runtime's tests: one runtime per test module on the small template."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from local_runtime.fixture_paths import TEST_TEMPLATE

from sam_emulator.runtime import LocalRuntime
from sam_emulator.testing import local_runtime_factory, running_runtime

__all__ = ["local_runtime_factory"]  # re-exported fixture


@pytest.fixture(scope="module")
def module_runtime() -> Iterator[LocalRuntime]:
    # Four workers per function: concurrent Map iterations of several executions must overlap
    # beyond one execution's six calls, whatever the number of cores.
    with running_runtime(TEST_TEMPLATE, max_concurrency=4) as runtime:
        yield runtime


@pytest.fixture
def runtime(module_runtime: LocalRuntime) -> Iterator[LocalRuntime]:
    yield module_runtime
    module_runtime.clear_faults()
