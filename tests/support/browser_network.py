"""What a Selenium-driven Chromium requested over the network (`tests/browser/conftest.py`)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from selenium import webdriver

# Only these leave the machine; chrome://, data: and blob: URLs never do.
NETWORK_SCHEMES = frozenset({"http", "https", "ws", "wss"})


class NetworkLog:
    """Every URL the browser requested since this log was created.

    Reading the CDP performance log drains it, so the URLs seen are kept here and each call
    returns all of them, however often it is called.
    """

    def __init__(self, driver: webdriver.Chrome) -> None:
        self._driver = driver
        self._urls: set[str] = set()
        driver.get_log("performance")  # type: ignore[no-untyped-call]  # earlier tests' requests

    def requested_urls(self) -> set[str]:
        """URLs of all requests so far, per Resource Timing (current page) and CDP logs."""
        self._urls.update(
            self._driver.execute_script(
                "return performance.getEntriesByType('resource').map(e => e.name)"
                ".concat(performance.getEntriesByType('navigation').map(e => e.name));"
            )
        )
        log: list[dict[str, Any]] = self._driver.get_log("performance")  # type: ignore[no-untyped-call]
        for entry in log:
            message: dict[str, Any] = json.loads(entry["message"])["message"]
            params: dict[str, Any] = message.get("params", {})
            if message.get("method") == "Network.requestWillBeSent":
                self._urls.add(params["request"]["url"])
            elif message.get("method") == "Network.webSocketCreated":
                self._urls.add(params["url"])
        return set(self._urls)

    def foreign_urls(self, server_url: str) -> list[str]:
        """Network URLs requested so far that are not on `server_url`'s host and port."""
        server = urlsplit(server_url)
        return sorted(
            url
            for url in self.requested_urls()
            if (parts := urlsplit(url)).scheme in NETWORK_SCHEMES
            and (parts.hostname, parts.port) != (server.hostname, server.port)
        )
