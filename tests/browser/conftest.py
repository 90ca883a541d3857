"""Browser fixtures shared by the tests in this folder: Debian's Chromium driven by Selenium, and
a log of every network request the page made, to prove a page works without internet.

`browser_binaries` installs Chromium + chromedriver (``scripts/install-browser.sh``) when run as
root and they are missing, and skips otherwise (fails under ``RUNTIME_API_REQUIRE_SERVICES=1``).
`driver` is one headless browser per test module. `network_log` reads what that browser requested,
from both Resource Timing and the CDP performance log (which also sees failed requests and
websockets), and tells which of those requests went to a host other than the server under test.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from tests.support.browser_network import NetworkLog

REPO_ROOT = Path(__file__).resolve().parents[2]
INSTALL_SCRIPT = REPO_ROOT / "scripts" / "install-browser.sh"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")


def _browser_installed() -> bool:
    return all(os.access(path, os.X_OK) for path in (CHROMIUM, CHROMEDRIVER))


@pytest.fixture(scope="module")
def browser_binaries() -> tuple[Path, Path]:
    """Chromium + chromedriver paths, installing them via apt when possible."""
    detail = ""
    if not _browser_installed() and os.geteuid() == 0:
        try:
            result = subprocess.run(
                [str(INSTALL_SCRIPT)],
                capture_output=True,
                text=True,
                timeout=900,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            detail = f" ({INSTALL_SCRIPT.name} failed: {exc})"
        else:
            detail = f" ({INSTALL_SCRIPT.name} exited {result.returncode}: {result.stderr[-500:]})"
    if not _browser_installed():
        msg = f"{CHROMIUM} / {CHROMEDRIVER} not available{detail}"
        if os.environ.get("RUNTIME_API_REQUIRE_SERVICES") == "1":
            pytest.fail(msg)
        pytest.skip(msg)
    return CHROMIUM, CHROMEDRIVER


@pytest.fixture(scope="module")
def driver(
    browser_binaries: tuple[Path, Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[webdriver.Chrome]:
    chromium, chromedriver = browser_binaries
    options = webdriver.ChromeOptions()
    options.binary_location = str(chromium)
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        # Containers often have a tiny /dev/shm; Debian's wrapper only adds
        # this itself when its size check works.
        "--disable-dev-shm-usage",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ):
        options.add_argument(flag)
    # CDP network events, so we see every request (including failed ones).
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    browser = webdriver.Chrome(options=options, service=Service(executable_path=str(chromedriver)))
    try:
        yield browser
    finally:
        browser.quit()


@pytest.fixture
def network_log(driver: webdriver.Chrome) -> NetworkLog:
    """The requests `driver` makes during one test."""
    return NetworkLog(driver)
