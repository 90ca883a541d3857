"""Browsers as stream clients, against a real `runtime-api serve` (both backends):

- Chromium's own `EventSource` watches an agent thread (authenticated with `?access_token=`,
  since EventSource cannot send headers), the test cuts its connection mid-run at a TCP proxy,
  and the browser's automatic reconnection resumes with `Last-Event-ID`: the page ends up with
  exactly the thread's events, none lost, none twice. The token never reaches the server's log.
- GraphiQL runs an `agentEvents` subscription over its websocket (the token in its headers
  editor goes into `connection_init`) and shows an event caused by a REST call of the test.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import pytest
from ag_ui.core import EventType
from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from server.log_redaction import redact_query
from tests.support.agent import events_url, run_input
from tests.support.agent_stream import read_run
from tests.support.backend import detect
from tests.support.faults import tcp_proxy
from tests.support.multiprocess import fresh_database, sign_up
from tests.support.server_process import ServerProcess, run_cli, running_server

BACKEND = detect()
UI_TIMEOUT = 20.0
CHUNK_DELAY_S = "0.05"  # the offline model's help text then streams for a few seconds
HELP_REQUEST = "hello there"  # the offline model answers with its help text

QUERY_EDITOR_JS = "document.querySelector('.graphiql-query-editor .CodeMirror')"
RESPONSE_JS = "document.querySelector('.graphiql-response .CodeMirror')"

# Events carry `event: <TYPE>`, so EventSource dispatches them by type, never as "message".
WATCH_JS = """
const [url, types] = arguments;
window.events = []; window.opens = 0; window.errors = 0;
const source = new EventSource(url);
source.onopen = () => { window.opens += 1; };
source.onerror = () => { window.errors += 1; };
for (const type of types) {
  source.addEventListener(type, (e) => {
    window.events.push({id: e.lastEventId, type: e.type, data: JSON.parse(e.data)});
  });
}
window.source = source;
"""


@pytest.fixture(scope="module")
async def server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[ServerProcess]:
    root = tmp_path_factory.mktemp("browser-streams")
    env = {
        "AGENT_MODEL_CHUNK_DELAY_S": CHUNK_DELAY_S,
        "ARGON2_TIME_COST": "1",
        "ARGON2_MEMORY_COST_KIB": "1024",
        "LOG_LEVEL": "INFO",  # uvicorn's request lines, which must not show the token
    }
    async with contextlib.AsyncExitStack() as stack:
        if BACKEND.real:
            assert BACKEND.redis_url is not None
            env |= {
                "DATABASE_URL": await stack.enter_async_context(fresh_database()),
                "REDIS_URL": BACKEND.redis_url,
                "REDIS_PREFIX": f"rt-browser-{uuid.uuid4().hex[:8]}:",
                "JWT_SECRET": secrets.token_urlsafe(48),
                "AGENT_WORKER_IN_SERVER": "true",  # no separate worker process
            }
            migrated = run_cli("migrate", cwd=root, env=env)
            assert migrated.returncode == 0, migrated.stdout + migrated.stderr
        yield stack.enter_context(running_server(root / "server", env))


@pytest.fixture(scope="module")
async def account(server: ServerProcess) -> dict[str, str]:
    return await sign_up(server, "browser_streams")


def _start_run(server: ServerProcess, token: str, thread: str, run_id: str) -> None:
    body = run_input(thread, run_id, HELP_REQUEST)
    response = httpx.post(
        f"{server.base_url}/api/v1/agent/runs",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert response.status_code == 202, response.text


TEXT_OPCODE = 1  # websocket opcodes: 1 text, 2 binary


def _execute_in_graphiql(driver: webdriver.Chrome) -> None:
    """Press GraphiQL's run button until the subscription runs (its label turns to "Stop"):
    on a loaded machine a click that comes before GraphiQL has taken in the editor's new text
    runs nothing."""
    button = (By.CSS_SELECTOR, "button.graphiql-execute-button")
    deadline = time.monotonic() + UI_TIMEOUT
    while time.monotonic() < deadline:
        label = driver.find_element(*button).get_attribute("aria-label") or ""
        if label.startswith("Stop"):
            return
        driver.find_element(*button).click()
        with contextlib.suppress(TimeoutException):
            WebDriverWait(driver, 3.0, 0.05).until(
                lambda d: (d.find_element(*button).get_attribute("aria-label") or "").startswith(
                    "Stop"
                )
            )
    pytest.fail("GraphiQL never ran the subscription")


class _CdpLog:
    """Requests and received websocket frame types, from Chromium's performance log (which a
    read drains, so everything seen is kept here)."""

    def __init__(self, driver: webdriver.Chrome) -> None:
        self._driver = driver
        self.urls: list[str] = []
        self.opcodes: list[int] = []
        self.read()
        self.urls.clear()  # earlier tests' requests
        self.opcodes.clear()

    def read(self) -> None:
        entries: list[dict[str, Any]] = self._driver.get_log("performance")  # type: ignore[no-untyped-call]
        for entry in entries:
            message: dict[str, Any] = json.loads(entry["message"])["message"]
            params: dict[str, Any] = message.get("params", {})
            method = message.get("method")
            if method == "Network.requestWillBeSent":
                self.urls.append(params["request"]["url"])
            elif method == "Network.webSocketCreated":
                self.urls.append(params["url"])
            elif method == "Network.webSocketFrameReceived":
                self.opcodes.append(params["response"]["opcode"])


def _page_events(driver: webdriver.Chrome) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = driver.execute_script("return window.events;")
    return events


async def test_event_source_reconnects_with_last_event_id(
    driver: webdriver.Chrome, server: ServerProcess, account: dict[str, str]
) -> None:
    thread, token = str(uuid.uuid4()), account["token"]
    port = int(server.base_url.rsplit(":", 1)[1])
    with tcp_proxy("127.0.0.1", port) as proxy:
        origin = f"http://127.0.0.1:{proxy.port}"
        driver.get(f"{origin}/api/v1/health")  # any page of the API's origin
        url = f"/api/v1/agent/runs/{thread}/events?access_token={quote(token)}"
        driver.execute_script(WATCH_JS, url, [t.value for t in EventType])
        wait: WebDriverWait[webdriver.Chrome] = WebDriverWait(driver, UI_TIMEOUT, 0.02)
        wait.until(lambda d: d.execute_script("return window.opens;") == 1)

        _start_run(server, token, thread, "run-1")
        wait.until(lambda d: len(_page_events(d)) >= 4)  # the run is streaming: cut it
        proxy.close()
        before_cut = len(_page_events(driver))
        await asyncio.sleep(0.5)  # the run goes on while the browser is away
        proxy.resume()
        try:
            wait.until(lambda d: any(e["type"] == "RUN_FINISHED" for e in _page_events(d)))
        except TimeoutException:
            pytest.fail(f"the run never finished in the page: {_page_events(driver)[-3:]}")
        opens, errors = driver.execute_script("return [window.opens, window.errors];")
        seen = _page_events(driver)
        driver.execute_script("window.source.close();")

    full = await read_run(events_url(server.base_url, thread), token)
    assert opens >= 2 and errors >= 1, "the connection was never cut and re-opened"
    assert 0 < before_cut < len(seen), (before_cut, len(seen))
    assert [(e["id"], e["type"]) for e in seen] == [(e.id, e.event) for e in full]
    assert [e["data"] for e in seen] == [e.data for e in full]

    log = server.log()
    assert token not in log
    assert "access_token=[redacted]" in log


def test_event_source_needs_a_valid_token(server: ServerProcess) -> None:
    url = f"{server.base_url}/api/v1/agent/runs/{uuid.uuid4()}/events"
    for params in ({}, {"access_token": "not-a-token"}):
        response = httpx.get(url, params=params, timeout=5)
        assert response.status_code == 401, response.text
        assert response.headers["content-type"].startswith("application/problem+json")


def test_log_redaction_covers_encoded_names() -> None:
    # Starlette decodes `access%5Ftoken` to `access_token`: it is the same token.
    line = "/events?lastEventId=1-0&access%5Ftoken=secret&access_token=other"
    assert redact_query(line) == (
        "/events?lastEventId=1-0&access%5Ftoken=[redacted]&access_token=[redacted]"
    )
    assert redact_query("/events?lastEventId=1-0") == "/events?lastEventId=1-0"


def test_graphiql_shows_a_subscription_event(
    driver: webdriver.Chrome,
    server: ServerProcess,
    account: dict[str, str],
) -> None:
    thread, token = str(uuid.uuid4()), account["token"]
    browser_log = _CdpLog(driver)
    headers = json.dumps({"Authorization": f"Bearer {token}"})
    driver.get(f"{server.base_url}/graphql?headers={quote(headers)}")
    wait: WebDriverWait[webdriver.Chrome] = WebDriverWait(driver, UI_TIMEOUT, 0.05)
    wait.until(lambda d: d.execute_script(f"return !!{QUERY_EDITOR_JS}?.CodeMirror;"))
    subscription = f'subscription {{ agentEvents(threadId: "{thread}") {{ id type event }} }}'
    driver.execute_script(f"{QUERY_EDITOR_JS}.CodeMirror.setValue(arguments[0]);", subscription)
    _execute_in_graphiql(driver)

    def sockets_opened() -> bool:
        browser_log.read()
        return any(u.startswith(server.ws_url) for u in browser_log.urls)

    wait.until(lambda _: sockets_opened())
    time.sleep(0.5)  # the subscription listens a moment after the socket opens
    _start_run(server, token, thread, "run-graphiql")

    def response_text(d: webdriver.Chrome) -> str:
        text: str | None = d.execute_script(
            f"return {RESPONSE_JS}?.CodeMirror?.getValue() ?? null;"
        )
        return text or ""

    try:
        # The pane shows the newest result; the run's last event stays there.
        wait.until(lambda d: '"type": "RUN_FINISHED"' in response_text(d))
    except TimeoutException:
        pytest.fail(f"GraphiQL never showed the run's end: {response_text(driver)!r}")
    shown = json.loads(response_text(driver))["data"]["agentEvents"]
    assert shown["event"]["threadId"] == thread, shown
    assert shown["event"]["runId"] == "run-graphiql", shown
    # A binary websocket frame would reach graphql-ws as a Blob and show nothing at all.
    browser_log.read()
    assert browser_log.opcodes and set(browser_log.opcodes) == {TEXT_OPCODE}, browser_log.opcodes
    host = server.base_url.removeprefix("http://")
    foreign = [u for u in browser_log.urls if urlsplit(u).netloc not in ("", host)]
    assert [u for u in foreign if not u.startswith(("data:", "blob:"))] == []
