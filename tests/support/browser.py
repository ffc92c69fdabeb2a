"""Debian's headless Chromium through chromedriver (``make system-deps`` installs both)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service

SCREENSHOTS = "IMPULSE_STREAM_SCREENSHOTS"


class BrowserUnavailable(Exception):
    pass


def start_chromium(width: int = 1440, height: int = 1000) -> webdriver.Chrome:
    """A headless Chromium; raises :class:`BrowserUnavailable` saying why it cannot start."""
    chromium = shutil.which("chromium")
    driver = shutil.which("chromedriver")
    if chromium is None or driver is None:
        raise BrowserUnavailable(
            "chromium and chromedriver are needed (Debian packages chromium, chromium-driver; "
            "`make system-deps` installs them)"
        )
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in (
        "--headless=new",
        "--no-sandbox",  # root in a container has no user namespace for the sandbox
        "--disable-dev-shm-usage",
        "--disable-gpu",
        f"--window-size={width},{height}",
    ):
        options.add_argument(arg)
    try:
        return webdriver.Chrome(options=options, service=Service(executable_path=driver))
    except WebDriverException as exc:
        raise BrowserUnavailable(f"Chromium did not start: {exc.msg}") from exc


def screenshot(browser: webdriver.Chrome, name: str) -> Path | None:
    """Save a full-page PNG under ``$IMPULSE_STREAM_SCREENSHOTS`` (e.g. docs/img), if set."""
    target = os.environ.get(SCREENSHOTS)
    if not target:
        return None
    folder = Path(target)
    folder.mkdir(parents=True, exist_ok=True)
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(1440, max(800, min(int(height) + 40, 2400)))
    path = folder / f"{name}.png"
    browser.save_screenshot(str(path))
    return path
