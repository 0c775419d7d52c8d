"""Headless Chromium for the console's browser tests, or a pytest skip that says why there is none."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

SKIP_PREFIX = "browser tests skipped"
BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def missing_browser() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if not any(shutil.which(name) for name in BROWSERS):
        return f"{SKIP_PREFIX}: no Chromium ({' / '.join(BROWSERS)}) on PATH; apt-get install chromium chromium-driver"
    if not shutil.which("chromedriver"):
        return f"{SKIP_PREFIX}: no chromedriver on PATH; apt-get install chromium-driver"
    return None


@contextmanager
def chromium_driver() -> Iterator[Any]:
    reason = missing_browser()
    if reason:
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = next(shutil.which(name) for name in BROWSERS if shutil.which(name))
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1400,1000",
        "--mute-audio",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service(shutil.which("chromedriver")))
    driver.implicitly_wait(0)
    try:
        yield driver
    finally:
        driver.quit()
