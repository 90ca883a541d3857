"""The offline model's repeating and all-day items (issue 14, part 5): each common English and
Chinese form becomes a `create_schedule_item` call whose RRULE the server accepts as it is, the
series starts on its first occurrence, and the answers say how an item repeats."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from agent_runtime.offline.repeat import Repeat
from agent_runtime.offline.rule_text import describe_rule
from agent_runtime.tool_specs import SERVER_TOOLS
from resolvers.rrules import normalize_rule
from tests.test_offline_model import SHANGHAI, called, result, run, text_of, tool_call, user

ZONE = ZoneInfo(SHANGHAI)
# NOW (tests/test_offline_model.py) is Friday 2026-03-06, 10:00 in Shanghai.
NEXT_MONDAY_10 = "2026-03-09T10:00:00+08:00"

# (text, title, first start, RRULE)
FORMS = [
    ("team sync every Monday at 10", "Team sync", NEXT_MONDAY_10, "FREQ=WEEKLY;BYDAY=MO"),
    ("每周一上午十点例会", "例会", NEXT_MONDAY_10, "FREQ=WEEKLY;BYDAY=MO"),
    # Nine o'clock has passed today (10:00): the series starts tomorrow.
    ("standup every day at 9", "Standup", "2026-03-07T09:00:00+08:00", "FREQ=DAILY"),
    ("每天早上九点跑步", "跑步", "2026-03-07T09:00:00+08:00", "FREQ=DAILY"),
    ("stretch daily at 11am", "Stretch", "2026-03-06T11:00:00+08:00", "FREQ=DAILY"),
    (
        "standup every weekday at 9:30",
        "Standup",
        NEXT_MONDAY_10.replace("10:00", "09:30"),
        "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR",
    ),
    (
        "工作日每天早上9点站会",
        "站会",
        "2026-03-09T09:00:00+08:00",
        "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR",
    ),
    (
        "gym every week on Monday and Wednesday at 7pm",
        "Gym",
        "2026-03-09T19:00:00+08:00",
        "FREQ=WEEKLY;BYDAY=MO,WE",
    ),
    ("每周一和周三下午3点健身", "健身", "2026-03-09T15:00:00+08:00", "FREQ=WEEKLY;BYDAY=MO,WE"),
    (
        "yoga on Tuesdays and Thursdays at 7pm",
        "Yoga",
        "2026-03-10T19:00:00+08:00",
        "FREQ=WEEKLY;BYDAY=TU,TH",
    ),
    (
        "pay rent every month on the 1st",
        "Pay rent",
        "2026-04-01T09:00:00+08:00",
        "FREQ=MONTHLY;BYMONTHDAY=1",
    ),
    ("每月1号交房租", "交房租", "2026-04-01T09:00:00+08:00", "FREQ=MONTHLY;BYMONTHDAY=1"),
    (
        "schedule a budget review monthly on the 15th",
        "Budget review",
        "2026-03-15T09:00:00+08:00",
        "FREQ=MONTHLY;BYMONTHDAY=15",
    ),
    (
        "1:1 with Bob every two weeks on Friday at 4pm",
        "1:1 with Bob",
        "2026-03-06T16:00:00+08:00",
        "FREQ=WEEKLY;INTERVAL=2;BYDAY=FR",
    ),
    (
        "每两周周五下午4点复盘",
        "复盘",
        "2026-03-06T16:00:00+08:00",
        "FREQ=WEEKLY;INTERVAL=2;BYDAY=FR",
    ),
    ("每两周下午5点复盘", "复盘", "2026-03-06T17:00:00+08:00", "FREQ=WEEKLY;INTERVAL=2"),
    (
        "schedule a retro every other Friday at 3pm",
        "Retro",
        "2026-03-06T15:00:00+08:00",
        "FREQ=WEEKLY;INTERVAL=2;BYDAY=FR",
    ),
    ("每周一次例会，周四下午3点", "例会", "2026-03-12T15:00:00+08:00", "FREQ=WEEKLY"),
    ("每3天晚上9点浇花", "浇花", "2026-03-06T21:00:00+08:00", "FREQ=DAILY;INTERVAL=3"),
    ("周末上午10点爬山", "爬山", "2026-03-07T10:00:00+08:00", "FREQ=WEEKLY;BYDAY=SA,SU"),
    (
        "birthday party every year on March 20 at 7pm",
        "Birthday party",
        "2026-03-20T19:00:00+08:00",
        "FREQ=YEARLY",
    ),
    # Ends.
    (
        "team sync every Monday at 10 until Dec 31",
        "Team sync",
        NEXT_MONDAY_10,
        "FREQ=WEEKLY;BYDAY=MO;UNTIL=20261231",
    ),
    (
        "每周一上午十点例会，到12月31日为止",
        "例会",
        NEXT_MONDAY_10,
        "FREQ=WEEKLY;BYDAY=MO;UNTIL=20261231",
    ),
    (
        "team sync every Monday at 10 for 10 weeks",
        "Team sync",
        NEXT_MONDAY_10,
        "FREQ=WEEKLY;BYDAY=MO;COUNT=10",
    ),
    ("每周一上午十点例会，共10次", "例会", NEXT_MONDAY_10, "FREQ=WEEKLY;BYDAY=MO;COUNT=10"),
    (
        "每周一和周三下午3点健身，持续4周",
        "健身",
        "2026-03-09T15:00:00+08:00",
        "FREQ=WEEKLY;BYDAY=MO,WE;UNTIL=20260405",
    ),
    (
        "每天早上8点背单词，到年底",
        "背单词",
        "2026-03-07T08:00:00+08:00",
        "FREQ=DAILY;UNTIL=20261231",
    ),
    (
        "standup every day at 11 until Friday",
        "Standup",
        "2026-03-06T11:00:00+08:00",
        "FREQ=DAILY;UNTIL=20260313",
    ),
    (
        "每天上午11点站会，到下周三为止",
        "站会",
        "2026-03-06T11:00:00+08:00",
        "FREQ=DAILY;UNTIL=20260311",
    ),
    ("每周一到周三晚上8点健身", "健身", "2026-03-09T20:00:00+08:00", "FREQ=WEEKLY;BYDAY=MO,TU,WE"),
    (
        "remind me every day at 9 to take pills 5 times",
        "Take pills",
        "2026-03-07T09:00:00+08:00",
        "FREQ=DAILY;COUNT=5",
    ),
    # A named first day: the series starts on its first occurrence from there.
    (
        "team sync every Monday at 10 starting March 16",
        "Team sync",
        "2026-03-16T10:00:00+08:00",
        "FREQ=WEEKLY;BYDAY=MO",
    ),
    ("从下周三开始每天早上7点跑步", "跑步", "2026-03-11T07:00:00+08:00", "FREQ=DAILY"),
]


@pytest.mark.parametrize(("text", "title", "start", "rule"), FORMS)
async def test_repeating_forms(text: str, title: str, start: str, rule: str) -> None:
    name, arguments = tool_call(await run([user(text)]))
    assert name == "create_schedule_item"
    assert arguments == {
        "title": title,
        "startAt": start,
        "endAt": (datetime.fromisoformat(start) + timedelta(hours=1)).isoformat(),
        "timezone": SHANGHAI,
        "recurrence": rule,
    }
    # The server takes the rule as it is, with this start as its first occurrence.
    normalize_rule(rule, start_at=datetime.fromisoformat(start), timezone=SHANGHAI, all_day=False)


# (text, title, first day, the day after the last, RRULE or None)
ALL_DAY = [
    ("conference all day tomorrow", "Conference", "2026-03-07", "2026-03-08", None),
    ("明天全天培训", "培训", "2026-03-07", "2026-03-08", None),
    ("offsite on Friday, all day", "Offsite", "2026-03-06", "2026-03-07", None),
    ("后天一整天搬家", "搬家", "2026-03-08", "2026-03-09", None),
    ("add a hackathon next week, all day", "Hackathon", "2026-03-09", "2026-03-16", None),
    ("每周五全天远程办公", "远程办公", "2026-03-06", "2026-03-07", "FREQ=WEEKLY;BYDAY=FR"),
    (
        "rent day every month on the 1st, all day",
        "Rent day",
        "2026-04-01",
        "2026-04-02",
        "FREQ=MONTHLY;BYMONTHDAY=1",
    ),
]


@pytest.mark.parametrize(("text", "title", "first", "after", "rule"), ALL_DAY)
async def test_all_day_forms(
    text: str, title: str, first: str, after: str, rule: str | None
) -> None:
    name, arguments = tool_call(await run([user(text)]))
    assert name == "create_schedule_item"
    expected: dict[str, Any] = {
        "title": title,
        "startAt": first,
        "endAt": after,
        "allDay": True,
        "timezone": SHANGHAI,
    }
    if rule is not None:
        expected["recurrence"] = rule
        start = datetime.combine(date.fromisoformat(first), datetime.min.time(), ZONE)
        normalize_rule(rule, start_at=start, timezone=SHANGHAI, all_day=True)
    assert arguments == expected


@pytest.mark.parametrize(
    "text",
    [
        "what do I have every Monday?",  # a question, not a new item
        "every day",  # nothing to create
        "每天都有什么安排",
    ],
)
async def test_repeat_words_alone_create_nothing(text: str) -> None:
    chunks = await run([user(text)])
    if all(hasattr(chunk, "text") for chunk in chunks):
        assert text_of(chunks)
    else:
        assert tool_call(chunks)[0] != "create_schedule_item"


async def test_the_tool_specs_take_rules_and_whole_days() -> None:
    specs: dict[str, Any] = {tool.name: tool.parameters for tool in SERVER_TOOLS}
    create = specs["create_schedule_item"]["properties"]
    assert create["recurrence"]["type"] == "string" and create["allDay"]["type"] == "boolean"
    assert "date-time" not in str(create["startAt"].get("format"))  # dates when allDay
    update = specs["update_schedule_item"]["properties"]
    assert update["recurrence"]["type"] == ["string", "null"] and "allDay" in update


# --- answers -------------------------------------------------------------------------------------


def created(arguments: dict[str, Any], **item: Any) -> dict[str, Any]:
    return {"ok": True, "item": {"id": "i1", "timezone": SHANGHAI, **arguments, **item}}


async def test_the_answer_says_how_the_item_repeats() -> None:
    text = "team sync every Monday at 10 for 10 weeks"
    _, arguments = tool_call(await run([user(text)]))
    # The server answers with its canonical rule and UTC instants.
    saved = created(arguments, startAt="2026-03-09T02:00:00+00:00")
    answer = text_of(
        await run([user(text), called("create_schedule_item", arguments), result(saved)])
    )
    assert answer == 'Created "Team sync" for Mon Mar 9, 10:00, repeating every Monday, 10 times.'

    text = "每周一上午十点例会，到12月31日为止"
    _, arguments = tool_call(await run([user(text)]))
    saved = created(arguments, recurrence="FREQ=WEEKLY;BYDAY=MO;UNTIL=20261231T155959Z")
    answer = text_of(
        await run([user(text), called("create_schedule_item", arguments), result(saved)])
    )
    assert answer == "已创建「例会」，时间：3月9日 周一 10:00，重复：每周一，到2026年12月31日为止。"


async def test_all_day_items_are_shown_by_their_day() -> None:
    text = "明天全天培训"
    _, arguments = tool_call(await run([user(text)]))
    saved = created(
        arguments,
        startAt="2026-03-06T16:00:00+00:00",
        allDay=True,
        startDate="2026-03-07",
        endDate="2026-03-08",
    )
    answer = text_of(
        await run([user(text), called("create_schedule_item", arguments), result(saved)])
    )
    assert answer == "已创建「培训」，时间：3月7日 周六 全天。"
    listing = {
        "ok": True,
        "items": [
            {"title": "Offsite", "startAt": "2026-03-06T16:00:00+00:00", "allDay": True}
            | {"startDate": "2026-03-07", "endDate": "2026-03-08", "status": "active"}
        ],
    }
    answer = text_of(
        await run(
            [user("what's on my schedule"), called("list_schedule_items", {}), result(listing)]
        )
    )
    assert answer == "You have 1 item: Offsite (Sat Mar 7, all day)."


@pytest.mark.parametrize(
    ("rule", "english", "chinese"),
    [
        ("FREQ=DAILY", "every day", "每天"),
        ("FREQ=DAILY;INTERVAL=3", "every 3 days", "每3天"),
        ("FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR", "every weekday", "每个工作日"),
        ("FREQ=WEEKLY;BYDAY=MO,WE", "every Monday and Wednesday", "每周一、周三"),
        ("FREQ=WEEKLY;INTERVAL=2;BYDAY=FR", "every 2 weeks on Friday", "每2周的周五"),
        ("FREQ=MONTHLY;BYMONTHDAY=1;COUNT=6", "every month on day 1, 6 times", "每个月1日，共6次"),
        (
            "FREQ=YEARLY;UNTIL=20301231",
            "every year, until Dec 31, 2030",
            "每年，到2030年12月31日为止",
        ),
        ("FREQ=MONTHLY;BYDAY=1MO", "FREQ=MONTHLY;BYDAY=1MO", "FREQ=MONTHLY;BYDAY=1MO"),
        ("FREQ=WEEKLY;BYSETPOS=1", "FREQ=WEEKLY;BYSETPOS=1", "FREQ=WEEKLY;BYSETPOS=1"),
    ],
)
def test_rules_in_words(rule: str, english: str, chinese: str) -> None:
    assert describe_rule(rule, ZONE, "en") == english
    assert describe_rule(rule, ZONE, "zh") == chinese


def test_a_span_in_months_ends_on_the_day_before_its_anniversary() -> None:
    repeat = Repeat("WEEKLY", weekdays=(0, 2), span=3, span_unit="MONTHLY")
    assert repeat.rule(date(2026, 1, 31)) == "FREQ=WEEKLY;BYDAY=MO,WE;UNTIL=20260429"
    monthly = Repeat("MONTHLY", month_day=31)
    assert monthly.first_day(date(2026, 4, 5)) == date(2026, 5, 31)


async def test_an_all_day_item_moves_by_whole_days() -> None:
    offsite = {
        "id": "33333333-3333-4333-8333-333333333333",
        "title": "Offsite",
        "startAt": "2026-03-06T16:00:00+00:00",
        "allDay": True,
        "startDate": "2026-03-07",
        "endDate": "2026-03-09",
    }
    listing = {"ok": True, "items": [offsite]}
    for text in ("move the offsite to next Monday", "把团建 Offsite 改到下周一"):
        chunks = await run([user(text), called("list_schedule_items", {}), result(listing)])
        assert tool_call(chunks) == (
            "update_schedule_item",
            {"id": offsite["id"], "startAt": "2026-03-09", "endAt": "2026-03-11"},
        )
