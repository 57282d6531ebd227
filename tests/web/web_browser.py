"""Debian's chromium, driven by Selenium through chromium-driver, headless.

Without them the browser tests skip with the reason outside CI and fail under CI=true (`.ci/run`
installs both), so CI never passes by skipping.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
DRIVER = Path("/usr/bin/chromedriver")


def require_chromium() -> None:
    missing = [str(p) for p in (CHROMIUM, DRIVER) if not p.exists()]
    if missing or shutil.which("chromium") is None:
        need = ", ".join(missing) or "chromium"
        msg = f"browser tests need {need}: apt-get install -y chromium chromium-driver"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)


def chromium(width: int = 1280, height: int = 900):  # type: ignore[no-untyped-def]
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    require_chromium()
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        f"--window-size={width},{height}",
    ):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service(str(DRIVER)), options=options)
