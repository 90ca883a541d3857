"""Repeating and all-day items made by the offline model end to end (issue 14, part 5): a request
through `POST /agent/runs`, the approval through `resume`, and the series the user then lists,
over REST and through the agent's own list tool. Times are the user's (`forwardedProps`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from models import ScheduleItem
from tests.support.agent import http_base
from tests.support.client import Account, Api
from tests.support.live_server import live_server
from tests.test_agent_models_e2e import Thread, assert_verified, results, text_of, tool_calls


@pytest.fixture
async def base(app: Any) -> AsyncIterator[str]:
    async with live_server(app) as ws_url:
        yield http_base(ws_url)


def first_start(zone: ZoneInfo, weekdays: set[int], hour: int) -> datetime:
    """The first of these weekdays at `hour` in `zone` that is still ahead (the offline model
    starts a series on its next occurrence)."""
    now = datetime.now(zone)
    day = now.date()
    while True:
        start = datetime.combine(day, time(hour), zone)
        if day.weekday() in weekdays and start > now:
            return start
        day += timedelta(days=1)


async def listed(api: Api, account: Account, start: str, end: str) -> list[dict[str, Any]]:
    r = await api.rest(
        "GET",
        "/schedule-items",
        account.access_token,
        params={"start_at": start, "end_at": end},
    )
    assert r.status_code == 200, r.text
    entries: list[dict[str, Any]] = r.json()
    return entries


def local(text: str, zone: ZoneInfo) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(zone)


async def test_english_weekly_series(api: Api, alice: Account, base: str) -> None:
    berlin = ZoneInfo("Europe/Berlin")
    thread = Thread(api, alice, base)
    props = {"timezone": "Europe/Berlin"}
    run = await thread.run(text="team sync every Monday at 10 for 3 weeks", forwardedProps=props)
    assert run[-1]["outcome"]["type"] == "interrupt"
    [(call_id, name, args)] = tool_calls(run)
    first = first_start(berlin, {0}, 10)
    assert (name, args["title"], args["recurrence"]) == (
        "create_schedule_item",
        "Team sync",
        "FREQ=WEEKLY;BYDAY=MO;COUNT=3",
    )
    assert local(args["startAt"], berlin) == first and args["timezone"] == "Europe/Berlin"
    assert await ScheduleItem.filter(owner_id=alice.id).count() == 0  # not before approval

    run = await thread.approve(run)
    saved = results(run)[call_id]
    assert saved["ok"] is True, saved
    assert saved["item"]["recurrence"] == "FREQ=WEEKLY;BYDAY=MO;COUNT=3"
    assert "repeating every Monday, 3 times" in text_of(run)
    [row] = await ScheduleItem.filter(owner_id=alice.id)
    assert row.source_type == "agent" and row.recurrence == "FREQ=WEEKLY;BYDAY=MO;COUNT=3"

    # Three Mondays at 10:00 Berlin time (across a DST change too, when there is one).
    entries = await listed(
        api, alice, first.date().isoformat(), (first + timedelta(days=60)).date().isoformat()
    )
    starts = [local(e["occurrence_start_at"], berlin) for e in entries]
    assert starts == [
        datetime.combine(first.date() + timedelta(weeks=n), time(10), berlin) for n in range(3)
    ]
    assert {e["id"] for e in entries} == {str(row.id)}

    # The agent lists the same occurrences.
    run = await thread.run(text="what's on my schedule", forwardedProps=props)
    [(call_id, name, _)] = tool_calls(run)
    assert name == "list_schedule_items"
    items = results(run)[call_id]["items"]
    assert [local(i["startAt"], berlin) for i in items] == starts
    assert {i["recurrence"] for i in items} == {"FREQ=WEEKLY;BYDAY=MO;COUNT=3"}
    assert text_of(run).startswith("You have 3 items: Team sync (Mon ")
    await assert_verified(thread.events)


async def test_chinese_series_on_two_weekdays(api: Api, alice: Account, base: str) -> None:
    shanghai = ZoneInfo("Asia/Shanghai")
    thread = Thread(api, alice, base)
    run = await thread.run(
        text="每周一和周三下午3点健身，共4次", forwardedProps={"timezone": "Asia/Shanghai"}
    )
    [(call_id, name, args)] = tool_calls(run)
    assert (name, args["title"], args["recurrence"]) == (
        "create_schedule_item",
        "健身",
        "FREQ=WEEKLY;BYDAY=MO,WE;COUNT=4",
    )
    first = first_start(shanghai, {0, 2}, 15)
    assert local(args["startAt"], shanghai) == first
    run = await thread.approve(run)
    assert results(run)[call_id]["ok"] is True
    assert "重复：每周一、周三，共4次" in text_of(run)

    entries = await listed(
        api, alice, first.date().isoformat(), (first + timedelta(days=30)).date().isoformat()
    )
    starts = [local(e["occurrence_start_at"], shanghai) for e in entries]
    assert len(starts) == 4 and starts[0] == first
    assert all(s.weekday() in (0, 2) and s.time() == time(15) for s in starts)
    assert starts == sorted(set(starts)) and starts[-1] - starts[0] < timedelta(days=14)
    assert all(e["title"] == "健身" and e["source_type"] == "agent" for e in entries)
    await assert_verified(thread.events)


async def test_all_day_item(api: Api, alice: Account, base: str) -> None:
    new_york = ZoneInfo("America/New_York")
    thread = Thread(api, alice, base)
    props = {"timezone": "America/New_York"}
    run = await thread.run(text="conference all day tomorrow", forwardedProps=props)
    [(call_id, name, args)] = tool_calls(run)
    tomorrow = datetime.now(new_york).date() + timedelta(days=1)
    assert (name, args) == (
        "create_schedule_item",
        {
            "title": "Conference",
            "startAt": tomorrow.isoformat(),
            "endAt": (tomorrow + timedelta(days=1)).isoformat(),
            "allDay": True,
            "timezone": "America/New_York",
        },
    )
    run = await thread.approve(run)
    saved = results(run)[call_id]
    assert saved["ok"] is True, saved
    assert (saved["item"]["allDay"], saved["item"]["startDate"]) == (True, tomorrow.isoformat())
    assert text_of(run).endswith(", all day.")

    entries = await listed(
        api, alice, tomorrow.isoformat(), (tomorrow + timedelta(days=2)).isoformat()
    )
    [entry] = entries
    assert (entry["all_day"], entry["start_date"], entry["end_date"]) == (
        True,
        tomorrow.isoformat(),
        (tomorrow + timedelta(days=1)).isoformat(),
    )
    assert local(entry["start_at"], new_york) == datetime.combine(tomorrow, time(0), new_york)

    run = await thread.run(text="what's on my schedule tomorrow", forwardedProps=props)
    [(call_id, _, _)] = tool_calls(run)
    [item] = results(run)[call_id]["items"]
    assert (item["allDay"], item["startDate"]) == (True, tomorrow.isoformat())
    day = date.fromisoformat(item["startDate"])
    assert text_of(run) == f"You have 1 item: Conference ({day:%a %b} {day.day}, all day)."

    # Moving it keeps it whole days (dates, not times), after approval too.
    run = await thread.run(
        text="move the conference to the day after tomorrow", forwardedProps=props
    )
    calls = tool_calls(run)
    assert [name for _, name, _ in calls] == ["list_schedule_items", "update_schedule_item"]
    later = tomorrow + timedelta(days=1)
    assert calls[1][2] == {
        "id": item["id"],
        "startAt": later.isoformat(),
        "endAt": (later + timedelta(days=1)).isoformat(),
    }
    run = await thread.approve(run)
    assert results(run)[calls[1][0]]["ok"] is True
    r = await api.rest("GET", f"/schedule-items/{item['id']}", alice.access_token)
    assert r.status_code == 200, r.text
    assert (r.json()["all_day"], r.json()["start_date"]) == (True, later.isoformat())
    await assert_verified(thread.events)
