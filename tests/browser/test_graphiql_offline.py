"""GraphiQL must work without internet: every asset comes from our own server.

Drives Debian's Chromium (``scripts/install-browser.sh``) with Selenium against
a server started from an argv list (see the ``server_argv`` fixture), runs a
query through the GraphiQL UI and checks that the browser never contacted any
host other than the server.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from server.graphiql import ASSETS_DIR, ASSETS_URL_PREFIX, render_graphiql_page
from tests.support.browser_network import NetworkLog
from tests.support.server_process import child_env, free_port, runtime_api_command, stop_process

SERVER_START_TIMEOUT = 15.0
UI_TIMEOUT = 15.0

QUERY = "{ health { status } }"
QUERY_EDITOR_JS = "document.querySelector('.graphiql-query-editor .CodeMirror')"
RESPONSE_JS = "document.querySelector('.graphiql-response .CodeMirror')"


@pytest.fixture(scope="module")
def server_argv() -> list[str]:
    """Command that serves GraphiQL at /graphql; ``{port}`` is substituted.

    The real server, as an operator starts it with no configuration at all (see ``server_url``:
    an empty working directory, no settings in the environment), so the page under test is the
    one users get, with the whole schema behind it.
    """
    return [*runtime_api_command(), "serve", "--host", "127.0.0.1", "--port", "{port}"]


def _wait_until_serving(url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log = log_path.read_text(errors="replace")
            pytest.fail(f"server exited with code {process.returncode} before serving:\n{log}")
        request = urllib.request.Request(url, headers={"Accept": "text/html"})
        try:
            with urllib.request.urlopen(request, timeout=1):
                return
        except urllib.error.HTTPError:
            return  # it answers; the test itself checks what
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.1)
    pytest.fail(f"server did not answer {url} within {SERVER_START_TIMEOUT}s")


@pytest.fixture(scope="module")
def server_url(server_argv: list[str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Start the server on a free loopback port in an empty directory; yield its origin."""
    port = free_port()
    argv = [arg.replace("{port}", str(port)) for arg in server_argv]
    origin = f"http://127.0.0.1:{port}"
    cwd = tmp_path_factory.mktemp("graphiql-server")  # its SQLite file lands in ./data/ here
    log_path = cwd.parent / f"{cwd.name}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            argv, cwd=cwd, env=child_env(), stdout=log, stderr=subprocess.STDOUT
        )
        try:
            _wait_until_serving(f"{origin}/graphql", process, log_path)
            yield origin
        finally:
            stop_process(process)


def _sri(path: Path) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(path.read_bytes()).digest()).decode()


def test_page_references_only_vendored_assets() -> None:
    html = render_graphiql_page()
    assert "unpkg.com" not in html
    tags = re.findall(r"<(?:script|link)\b[^>]*>", html)
    assets = [
        (m["url"], re.search(r'integrity="([^"]+)"', tag))
        for tag in tags
        if (m := re.search(r'(?:src|href)="(?P<url>[^"]+)"', tag))
        and not m["url"].startswith("data:")
    ]
    assert len(assets) == 7
    for url, integrity in assets:
        assert url.startswith(f"{ASSETS_URL_PREFIX}/"), url
        path = ASSETS_DIR / url.removeprefix(f"{ASSETS_URL_PREFIX}/")
        assert path.is_file(), url
        assert integrity is not None, url
        assert integrity[1] == _sri(path), f"SRI mismatch for {url}"

    assert "subscriptionUrl," in html
    assert "subscriptionUrl," not in render_graphiql_page(subscription_enabled=False)


def test_graphiql_runs_query_offline(
    driver: webdriver.Chrome, server_url: str, network_log: NetworkLog
) -> None:
    wait = WebDriverWait(driver, UI_TIMEOUT)
    driver.get(f"{server_url}/graphql")

    try:
        wait.until(lambda d: d.execute_script(f"return !!{QUERY_EDITOR_JS}?.CodeMirror;"))
    except TimeoutException:
        foreign = network_log.foreign_urls(server_url)
        pytest.fail(f"GraphiQL editor never appeared; requests to other hosts: {foreign}")
    driver.execute_script(f"{QUERY_EDITOR_JS}.CodeMirror.setValue(arguments[0]);", QUERY)
    driver.find_element(By.CSS_SELECTOR, "button.graphiql-execute-button").click()

    def response_text(d: webdriver.Chrome) -> str:
        text: str | None = d.execute_script(
            f"return {RESPONSE_JS}?.CodeMirror?.getValue() ?? null;"
        )
        return text or ""

    try:
        wait.until(lambda d: '"status": "healthy"' in response_text(d))
    except TimeoutException:
        pytest.fail(f"GraphiQL response pane never showed the result: {response_text(driver)!r}")
    assert json.loads(response_text(driver)) == {"data": {"health": {"status": "healthy"}}}

    urls = network_log.requested_urls()
    assert any(url.startswith(f"{server_url}{ASSETS_URL_PREFIX}/") for url in urls), urls
    foreign = network_log.foreign_urls(server_url)
    assert foreign == [], f"browser contacted other hosts: {foreign}"
