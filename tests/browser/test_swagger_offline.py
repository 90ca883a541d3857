"""Swagger UI at /docs must work without internet: every asset comes from our own server.

Drives Debian's Chromium (fixtures in ``conftest.py``) against a real ``runtime-api serve``
started with no configuration, calls ``GET /api/v1/health`` through the Swagger UI page
("Try it out", "Execute"), reads the answer off the page, and checks that the browser never
contacted any host other than the server.
"""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Iterator

import pytest
from pydantic import SecretStr
from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait
from starlette.testclient import TestClient

from config import Settings
from server.app import create_app
from server.swagger_ui import ASSETS_DIR, ASSETS_URL_PREFIX
from tests.support.browser_network import NetworkLog
from tests.support.server_process import running_server

UI_TIMEOUT = 15.0

# Swagger UI's id of an operation block: operations-<tag>-<operationId>.
HEALTH_OPERATION = "#operations-infra-health_api_v1_health_get"
RESPONSE_BODY = f"{HEALTH_OPERATION} .live-responses-table .response-col_description pre"
RESPONSE_STATUS = f"{HEALTH_OPERATION} .live-responses-table .response .response-col_status"


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The server as an operator starts it: empty directory, no settings in the environment."""
    with running_server(tmp_path_factory.mktemp("swagger-server")) as server:
        yield server.base_url


def _page_html(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        body: bytes = response.read()
        return body.decode()


def test_docs_page_loads_only_vendored_assets(server_url: str) -> None:
    html = _page_html(f"{server_url}/docs")
    assets = re.findall(r'<(?:script|link)\b[^>]*\b(?:src|href)="([^"]+)"', html)
    assert len(assets) == 3, assets  # script, stylesheet, favicon
    for url in assets:
        assert url.startswith(f"{ASSETS_URL_PREFIX}/"), url
        vendored = ASSETS_DIR / url.removeprefix(f"{ASSETS_URL_PREFIX}/")
        with urllib.request.urlopen(f"{server_url}{url}", timeout=5) as response:
            assert response.read() == vendored.read_bytes(), url


def test_no_docs_in_production() -> None:
    settings = Settings(
        env="production",
        jwt_secret=SecretStr("a-production-key-of-at-least-32-bytes"),
        database_url="sqlite://:memory:",
        redis_url=None,
    )
    client = TestClient(create_app(settings, manage_database=False))  # no lifespan: no database
    assert client.get("/docs").status_code == 404
    assert client.get(f"{ASSETS_URL_PREFIX}/swagger-ui-bundle.js").status_code == 404


def _click(wait: WebDriverWait[webdriver.Chrome], css: str) -> WebElement:
    element: WebElement = wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, css)))
    element.click()
    return element


def test_swagger_ui_calls_health_offline(
    driver: webdriver.Chrome, server_url: str, network_log: NetworkLog
) -> None:
    wait: WebDriverWait[webdriver.Chrome] = WebDriverWait(driver, UI_TIMEOUT)
    driver.get(f"{server_url}/docs")

    try:
        wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, HEALTH_OPERATION)))
    except TimeoutException:
        foreign = network_log.foreign_urls(server_url)
        pytest.fail(f"Swagger UI never listed the operations; requests to other hosts: {foreign}")
    operations = driver.find_elements(By.CSS_SELECTOR, ".opblock")
    assert len(operations) > 10, "the page lists only a few of the API's operations"

    _click(wait, f"{HEALTH_OPERATION} .opblock-summary-control")
    _click(wait, f"{HEALTH_OPERATION} button.try-out__btn")
    _click(wait, f"{HEALTH_OPERATION} button.execute")

    def response_body(d: webdriver.Chrome) -> str:
        found = d.find_elements(By.CSS_SELECTOR, RESPONSE_BODY)
        return found[0].text if found else ""

    try:
        wait.until(lambda d: '"status"' in response_body(d))
    except TimeoutException:
        pytest.fail(f"Swagger UI never showed the response: {response_body(driver)!r}")
    assert json.loads(response_body(driver)) == {"status": "ok"}
    assert driver.find_element(By.CSS_SELECTOR, RESPONSE_STATUS).text == "200"

    urls = network_log.requested_urls()
    assert f"{server_url}/api/v1/health" in urls
    assert f"{server_url}{ASSETS_URL_PREFIX}/swagger-ui-bundle.js" in urls
    foreign = network_log.foreign_urls(server_url)
    assert foreign == [], f"browser contacted other hosts: {foreign}"
