"""The user's time zone (issue 13, item 7): a `timezone` profile field (IANA name, default UTC)
set with `PATCH /users/me` / `updateMe` and shown only on the caller's own profile; the agent
reads dates in `forwardedProps.timezone`, else in the user's zone, so "明天下午三点开会" from a
user in Asia/Shanghai is 15:00+08:00 without the client saying so, and an OpenAI-compatible model
is told the zone and the local time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest

from tests.support.agent import http_base, new_thread, run_agent, run_input
from tests.support.calendar_api import problem
from tests.support.client import Account, Api, gql_code
from tests.support.fake_openai import FakeOpenAI, fake_model_settings
from tests.support.live_server import live_server

Event = dict[str, Any]
ME = "{ me { id timezone } }"
UPDATE = """mutation($input: UpdateMeInput!) {
  updateMe(input: $input) { timezone }
}"""


@pytest.fixture
def settings_overrides(request: pytest.FixtureRequest) -> dict[str, Any]:
    return fake_model_settings(request)


@pytest.fixture
async def base(app: Any) -> AsyncIterator[str]:
    async with live_server(app) as ws_url:
        yield http_base(ws_url)


async def set_zone(api: Api, account: Account, zone: str) -> None:
    r = await api.rest("PATCH", "/users/me", account.access_token, json={"timezone": zone})
    assert r.status_code == 200, r.text
    assert r.json()["timezone"] == zone


def created_start(events: list[Event]) -> datetime:
    """The startAt of the create_schedule_item call the run asked approval for."""
    assert events[-1]["outcome"]["type"] == "interrupt", events[-1]
    [start] = [e for e in events if e["type"] == "TOOL_CALL_START"]
    assert start["toolCallName"] == "create_schedule_item"
    args = "".join(e["delta"] for e in events if e["type"] == "TOOL_CALL_ARGS")
    return datetime.fromisoformat(orjson.loads(args)["startAt"])


async def test_timezone_defaults_to_utc_and_is_set_on_both_transports(
    api: Api, alice: Account, bob: Account
) -> None:
    r = await api.rest("GET", "/users/me", alice.access_token)
    assert r.status_code == 200 and r.json()["timezone"] == "UTC"
    assert (await api.gql(ME, token=alice.access_token))["data"]["me"]["timezone"] == "UTC"

    await set_zone(api, alice, "Asia/Shanghai")
    assert (await api.gql(ME, token=alice.access_token))["data"]["me"]["timezone"] == (
        "Asia/Shanghai"
    )
    body = await api.gql(UPDATE, {"input": {"timezone": "Europe/Berlin"}}, alice.access_token)
    assert body["data"]["updateMe"]["timezone"] == "Europe/Berlin"
    r = await api.rest("GET", "/users/me", alice.access_token)
    assert r.json()["timezone"] == "Europe/Berlin"

    # A profile that is not the caller's own does not show it.
    r = await api.rest("POST", "/users/search", bob.access_token, json={"query": "alice"})
    assert r.status_code == 200, r.text
    assert [u["username"] for u in r.json()] == ["alice"] and "timezone" not in r.json()[0]


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "localtime", "../etc/passwd", "", None])
async def test_a_zone_that_is_not_iana_is_422(api: Api, alice: Account, zone: Any) -> None:
    r = await api.rest("PATCH", "/users/me", alice.access_token, json={"timezone": zone})
    body = problem(r, 422)
    assert any("timezone" in str(e["loc"]) or "null" in e["msg"] for e in body["errors"]), body
    gql = await api.gql(UPDATE, {"input": {"timezone": zone}}, alice.access_token)
    assert gql_code(gql) == "BAD_USER_INPUT", gql
    r = await api.rest("GET", "/users/me", alice.access_token)
    assert r.json()["timezone"] == "UTC"


async def test_the_agent_reads_dates_in_the_users_zone(api: Api, alice: Account, base: str) -> None:
    await set_zone(api, alice, "Asia/Shanghai")
    shanghai = ZoneInfo("Asia/Shanghai")
    tomorrow = (datetime.now(shanghai) + timedelta(days=1)).date()

    events = await run_agent(base, alice, run_input(new_thread(), text="明天下午三点开会"))
    start = created_start(events)
    assert start.isoformat() == f"{tomorrow.isoformat()}T15:00:00+08:00"

    # The run's forwardedProps.timezone wins over the profile.
    berlin = ZoneInfo("Europe/Berlin")
    body = run_input(
        new_thread(), text="明天下午三点开会", forwardedProps={"timezone": "Europe/Berlin"}
    )
    start = created_start(await run_agent(base, alice, body))
    day = (datetime.now(berlin) + timedelta(days=1)).date()
    assert start == datetime(day.year, day.month, day.day, 15, tzinfo=berlin)
    assert start.utcoffset() == berlin.utcoffset(start.replace(tzinfo=None))


async def test_the_model_is_told_the_users_zone_and_local_time(
    api: Api, alice: Account, base: str, fake_openai_server: FakeOpenAI
) -> None:
    await set_zone(api, alice, "Asia/Shanghai")
    fake_openai_server.script_text("OK.")
    events = await run_agent(base, alice, run_input(new_thread(), text="明天下午三点开会"))
    assert events[-1]["type"] == "RUN_FINISHED"
    system = fake_openai_server.requests[0]["messages"][0]
    assert system["role"] == "system"
    assert "The user's time zone is Asia/Shanghai" in system["content"]
    local = datetime.now(ZoneInfo("Asia/Shanghai"))
    assert f"{local:%Y-%m-%d}T" in system["content"] and "+08:00" in system["content"]
