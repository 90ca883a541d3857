"""The offline model: intents in English and Chinese, the two-step changes, tool result summaries,
and the shape of what it streams (chunked text, chunked JSON arguments fitting the schemas)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from ag_ui.core import (
    AssistantMessage,
    FunctionCall,
    Message,
    TextPart,
    Tool,
    ToolCall,
    ToolMessage,
    UserMessage,
)

from agent_runtime.chat_model import ModelChunk, ModelRequest, TextDelta, ToolCallDelta
from agent_runtime.offline.model import OfflineModel
from agent_runtime.tool_specs import NAVIGATE_ROUTE, SERVER_TOOLS

SHANGHAI = "Asia/Shanghai"
# A Friday morning in Shanghai.
NOW = datetime(2026, 3, 6, 10, 0, tzinfo=ZoneInfo(SHANGHAI))
NAVIGATE = Tool(
    name=NAVIGATE_ROUTE,
    description="Open a page of the app.",
    parameters={"type": "object", "properties": {"path": {"type": "string"}}},
)
ALL_TOOLS = [*SERVER_TOOLS, NAVIGATE]
SCHEMAS = {tool.name: tool.parameters for tool in ALL_TOOLS}
LUNCH_ID = "11111111-1111-4111-8111-111111111111"
MEETING_ID = "22222222-2222-4222-8222-222222222222"
ITEMS = {
    "ok": True,
    "items": [
        {
            "id": MEETING_ID,
            "title": "Team meeting",
            "description": "",
            "startAt": "2026-03-09T09:00:00+08:00",
            "endAt": "2026-03-09T10:00:00+08:00",
            "timezone": SHANGHAI,
            "status": "active",
        },
        {
            "id": LUNCH_ID,
            "title": "Lunch with Ann",
            "description": "",
            "startAt": "2026-03-07T12:00:00+08:00",
            "endAt": "2026-03-07T13:30:00+08:00",
            "timezone": SHANGHAI,
            "status": "active",
        },
    ],
}


def user(text: str) -> UserMessage:
    return UserMessage(id="u1", content=text)


def called(name: str, arguments: dict[str, Any], call_id: str = "call_1") -> AssistantMessage:
    function = FunctionCall(name=name, arguments=json.dumps(arguments))
    return AssistantMessage(id="a1", tool_calls=[ToolCall(id=call_id, function=function)])


def result(content: Any, call_id: str = "call_1") -> ToolMessage:
    text = content if isinstance(content, str) else json.dumps(content)
    return ToolMessage(id="t1", tool_call_id=call_id, content=text)


async def run(
    messages: Sequence[Message],
    *,
    tools: list[Tool] | None = None,
    now: datetime = NOW,
    timezone: str = SHANGHAI,
) -> list[ModelChunk]:
    request = ModelRequest(
        messages=list(messages),
        tools=ALL_TOOLS if tools is None else tools,
        now=now,
        timezone=timezone,
    )
    return [chunk async for chunk in OfflineModel().stream(request)]


def tool_call(chunks: list[ModelChunk]) -> tuple[str, dict[str, Any]]:
    """The single tool call streamed, checked against its tool's JSON schema."""
    deltas = [chunk for chunk in chunks if isinstance(chunk, ToolCallDelta)]
    assert deltas, f"expected a tool call, got {chunks!r}"
    assert len(deltas) == len(chunks), "a tool call turn carries no text"
    assert 1 <= len(deltas) <= 3
    assert len({(delta.call_id, delta.name) for delta in deltas}) == 1
    assert deltas[0].call_id.startswith("call_") and len(deltas[0].call_id) == 29
    name = deltas[0].name
    arguments = json.loads("".join(delta.arguments for delta in deltas))
    assert isinstance(arguments, dict)
    schema: dict[str, Any] = SCHEMAS[name] or {}
    assert set(schema.get("required", [])) <= arguments.keys()
    assert arguments.keys() <= schema["properties"].keys()
    return name, arguments


def text_of(chunks: list[ModelChunk]) -> str:
    assert chunks and all(isinstance(chunk, TextDelta) for chunk in chunks), chunks
    return "".join(chunk.text for chunk in chunks if isinstance(chunk, TextDelta))


# --- creating items --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "title", "start", "end"),
    [
        (
            "schedule lunch with Ann tomorrow at 12",
            "Lunch with Ann",
            "2026-03-07T12:00:00+08:00",
            "2026-03-07T13:00:00+08:00",
        ),
        (
            "add a meeting with Bob on Friday at 3pm",
            "Meeting with Bob",
            "2026-03-06T15:00:00+08:00",
            "2026-03-06T16:00:00+08:00",
        ),
        (
            "remind me to call mom today at 18:30",
            "Call mom",
            "2026-03-06T18:30:00+08:00",
            "2026-03-06T19:30:00+08:00",
        ),
        (
            "schedule a team sync next monday",
            "Team sync",
            "2026-03-09T09:00:00+08:00",
            "2026-03-09T10:00:00+08:00",
        ),
        (
            "book dentist on March 10 at 9:30am",
            "Dentist",
            "2026-03-10T09:30:00+08:00",
            "2026-03-10T10:30:00+08:00",
        ),
        (
            "明天中午12点和Ann吃午饭",
            "和Ann吃午饭",
            "2026-03-07T12:00:00+08:00",
            "2026-03-07T13:00:00+08:00",
        ),
        ("后天下午3点开会", "开会", "2026-03-08T15:00:00+08:00", "2026-03-08T16:00:00+08:00"),
        ("今天晚上8点看电影", "看电影", "2026-03-06T20:00:00+08:00", "2026-03-06T21:00:00+08:00"),
        (
            "提醒我下周三早上8点半去跑步",
            "去跑步",
            "2026-03-11T08:30:00+08:00",
            "2026-03-11T09:30:00+08:00",
        ),
        (
            "3月10日下午两点半看牙医",
            "看牙医",
            "2026-03-10T14:30:00+08:00",
            "2026-03-10T15:30:00+08:00",
        ),
    ],
)
async def test_creates_items_at_the_named_time(text: str, title: str, start: str, end: str) -> None:
    name, arguments = tool_call(await run([user(text)]))
    assert name == "create_schedule_item"
    assert arguments == {"title": title, "startAt": start, "endAt": end, "timezone": SHANGHAI}


async def test_dates_are_relative_to_now_in_the_users_time_zone() -> None:
    # 20:00 UTC on Friday is already Saturday 04:00 in Shanghai, so "tomorrow" is Sunday there.
    friday_evening_utc = datetime(2026, 3, 6, 20, 0, tzinfo=ZoneInfo("UTC"))
    _, shanghai = tool_call(
        await run([user("schedule lunch with Ann tomorrow at 12")], now=friday_evening_utc)
    )
    assert shanghai["startAt"] == "2026-03-08T12:00:00+08:00"
    _, utc = tool_call(
        await run(
            [user("schedule lunch with Ann tomorrow at 12")],
            now=friday_evening_utc,
            timezone="UTC",
        )
    )
    assert utc["startAt"] == "2026-03-07T12:00:00+00:00"
    assert utc["timezone"] == "UTC"


async def test_create_defaults_to_nine_oclock_today_and_reads_text_parts() -> None:
    message = UserMessage(id="u1", content=[TextPart(text="add"), TextPart(text="yoga class")])
    _, arguments = tool_call(await run([message], timezone="UTC", now=NOW))
    assert arguments["title"] == "Yoga class"
    assert arguments["startAt"] == "2026-03-06T09:00:00+00:00"


async def test_without_the_tool_it_answers_in_text() -> None:
    tools = [tool for tool in ALL_TOOLS if tool.name != "create_schedule_item"]
    answer = text_of(await run([user("schedule lunch with Ann tomorrow at 12")], tools=tools))
    assert "create_schedule_item" in answer


# --- reading -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("what's on my schedule", {}),
        ("list my events", {}),
        ("我的日程", {}),
        (
            "show my calendar for tomorrow",
            {"startAt": "2026-03-07T00:00:00+08:00", "endAt": "2026-03-08T00:00:00+08:00"},
        ),
        (
            "明天有什么安排",
            {"startAt": "2026-03-07T00:00:00+08:00", "endAt": "2026-03-08T00:00:00+08:00"},
        ),
        (
            "what do I have next week",
            {"startAt": "2026-03-09T00:00:00+08:00", "endAt": "2026-03-16T00:00:00+08:00"},
        ),
    ],
)
async def test_lists_items(text: str, expected: dict[str, str]) -> None:
    assert tool_call(await run([user(text)])) == ("list_schedule_items", expected)


@pytest.mark.parametrize(
    ("text", "tool"),
    [
        ("who are my friends", "list_friends"),
        ("list my friends", "list_friends"),
        ("我的好友", "list_friends"),
        ("check my inbox", "list_inbox_messages"),
        ("any invitations?", "list_inbox_messages"),
        ("收件箱", "list_inbox_messages"),
        ("我的消息", "list_inbox_messages"),
    ],
)
async def test_friends_and_inbox(text: str, tool: str) -> None:
    assert tool_call(await run([user(text)])) == (tool, {})


# --- navigation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ("open the calendar", "/calendar"),
        ("go to settings", "/settings"),
        ("take me to my inbox", "/inbox"),
        ("go home", "/"),
        ("打开日历", "/calendar"),
        ("打开设置", "/settings"),
        ("打开好友", "/friends"),
    ],
)
async def test_navigates_when_the_client_offers_the_tool(text: str, path: str) -> None:
    assert tool_call(await run([user(text)])) == (NAVIGATE_ROUTE, {"path": path})


async def test_cannot_navigate_without_the_frontend_tool() -> None:
    english = text_of(await run([user("open the calendar")], tools=list(SERVER_TOOLS)))
    assert "can't open pages" in english
    chinese = text_of(await run([user("打开日历")], tools=list(SERVER_TOOLS)))
    assert "无法" in chinese


# --- changing existing items in two steps ------------------------------------------------------


async def test_delete_lists_first_then_deletes_the_matching_item() -> None:
    first: list[Message] = [user("delete lunch with Ann")]
    name, arguments = tool_call(await run(first))
    assert (name, arguments) == ("list_schedule_items", {})
    second: list[Message] = [*first, called(name, arguments), result(ITEMS)]
    assert tool_call(await run(second)) == ("delete_schedule_item", {"id": LUNCH_ID})
    third: list[Message] = [*second, called("delete_schedule_item", {"id": LUNCH_ID}, "call_2")]
    third.append(result({"ok": True, "deleted": LUNCH_ID}, "call_2"))
    assert text_of(await run(third)) == "Deleted the item."


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("cancel the meeting", "delete_schedule_item"),
        ("删除午饭", "nothing"),
        ("删除Ann", "delete_schedule_item"),
    ],
)
async def test_delete_matches_titles_by_words(text: str, expected: str) -> None:
    chunks = await run([user(text), called("list_schedule_items", {}), result(ITEMS)])
    if expected == "nothing":
        assert "没有找到" in text_of(chunks)
    else:
        name, arguments = tool_call(chunks)
        assert name == expected
        assert arguments["id"] in (MEETING_ID, LUNCH_ID)


async def test_delete_says_so_when_nothing_matches() -> None:
    chunks = await run(
        [user("delete the dentist"), called("list_schedule_items", {}), result(ITEMS)]
    )
    answer = text_of(chunks)
    assert 'Nothing matched "dentist"' in answer
    assert "Lunch with Ann" in answer


async def test_move_keeps_the_day_and_the_length() -> None:
    for text in ("move lunch with Ann to 1pm", "把Ann改到下午1点"):
        chunks = await run([user(text), called("list_schedule_items", {}), result(ITEMS)])
        assert tool_call(chunks) == (
            "update_schedule_item",
            {
                "id": LUNCH_ID,
                "startAt": "2026-03-07T13:00:00+08:00",
                "endAt": "2026-03-07T14:30:00+08:00",
            },
        )


async def test_rename() -> None:
    chunks = await run(
        [user("rename lunch to Brunch"), called("list_schedule_items", {}), result(ITEMS)]
    )
    assert tool_call(chunks) == ("update_schedule_item", {"id": LUNCH_ID, "title": "Brunch"})


async def test_share_with_an_email() -> None:
    for text in ("share lunch with ann@example.com", "把午饭 Ann 分享给 ann@example.com"):
        assert tool_call(await run([user(text)])) == ("list_schedule_items", {})
        chunks = await run([user(text), called("list_schedule_items", {}), result(ITEMS)])
        expected = {"id": LUNCH_ID, "email": "ann@example.com"}
        assert tool_call(chunks) == ("share_schedule_item", expected)


async def test_a_listing_asked_for_is_summarised_not_followed_up() -> None:
    chunks = await run(
        [user("what's on my schedule"), called("list_schedule_items", {}), result(ITEMS)]
    )
    answer = text_of(chunks)
    assert answer.startswith("You have 2 items:")
    assert "Lunch with Ann (Sat Mar 7, 12:00)" in answer
    assert len(chunks) > 1


# --- summaries of tool results -----------------------------------------------------------------


async def test_summaries_in_the_users_language() -> None:
    created = {
        "ok": True,
        "item": {**ITEMS["items"][1], "title": "和Ann吃午饭"},  # type: ignore[index]
    }
    chinese = text_of(
        await run(
            [user("明天中午12点和Ann吃午饭"), called("create_schedule_item", {}), result(created)]
        )
    )
    assert chinese == "已创建「和Ann吃午饭」，时间：3月7日 周六 12:00。"
    friends = {
        "ok": True,
        "friends": [{"id": "f1", "username": "alice"}, {"id": "f2", "username": "bob"}],
    }
    english = text_of(
        await run([user("who are my friends"), called("list_friends", {}), result(friends)])
    )
    assert english == "Your friends: alice, bob."
    inbox = {
        "ok": True,
        "messages": [
            {
                "id": "m1",
                "messageType": "schedule_invite",
                "status": "pending",
                "content": "Lunch with Ann",
                "sender": {"id": "s1", "username": "ann"},
            }
        ],
    }
    answer = text_of(
        await run([user("check my inbox"), called("list_inbox_messages", {}), result(inbox)])
    )
    assert answer == "You have 1 inbox message: schedule invite from ann (pending): Lunch with Ann."


async def test_rejected_and_failed_results_say_it_was_not_done() -> None:
    rejected = {"ok": False, "rejected": True, "reason": "wrong day"}
    conversation: list[Message] = [
        user("delete lunch with Ann"),
        called("delete_schedule_item", {"id": LUNCH_ID}),
    ]
    answer = text_of(await run([*conversation, result(rejected)]))
    assert answer == "OK, I did not delete the item. Reason: wrong day"
    chinese: list[Message] = [
        user("删除午饭"),
        called("delete_schedule_item", {"id": LUNCH_ID}),
        result(rejected),
    ]
    assert text_of(await run(chinese)) == "好的，没有删除日程。原因：wrong day"
    failed = {"ok": False, "error": "The item does not exist."}
    answer = text_of(await run([*conversation, result(failed)]))
    assert answer == "That didn't work: The item does not exist."


async def test_frontend_and_malformed_results() -> None:
    navigated: list[Message] = [
        user("open the calendar"),
        called(NAVIGATE_ROUTE, {"path": "/calendar"}),
    ]
    assert (
        text_of(await run([*navigated, result("Navigated to /calendar.")])) == "Opened /calendar."
    )
    garbled: list[Message] = [
        user("what's on my schedule"),
        called("list_schedule_items", {}),
        result("{oops"),
    ]
    assert text_of(await run(garbled)).startswith("Done: {oops")
    stray: list[Message] = [user("hi"), result({"ok": True}, "call_unknown")]
    assert text_of(await run(stray))


# --- anything else -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("messages", "marker"),
    [
        ([user("hello there")], "offline assistant"),
        ([user("你好")], "离线助手"),
        ([], "offline assistant"),
        ([user("")], "offline assistant"),
        ([UserMessage(id="u1", content=[])], "offline assistant"),
        ([AssistantMessage(id="a1", content="Hi!")], "offline assistant"),
    ],
)
async def test_unknown_or_odd_input_gets_help_text(messages: list[Message], marker: str) -> None:
    chunks = await run(messages)
    assert marker in text_of(chunks)
    assert len(chunks) > 1


async def test_never_raises_on_broken_history() -> None:
    broken = AssistantMessage(
        id="a1", tool_calls=[ToolCall(id="call_1", function=FunctionCall(name="x", arguments="{"))]
    )
    assert text_of(await run([user("hi"), broken, result("[1, 2")]))
    assert text_of(await run([user("hi")], timezone="Not/AZone"))


async def test_deterministic_apart_from_ids() -> None:
    first = await run([user("后天下午3点开会")])
    second = await run([user("后天下午3点开会")])
    strip = [(c.name, c.arguments) for c in first if isinstance(c, ToolCallDelta)]
    assert strip == [(c.name, c.arguments) for c in second if isinstance(c, ToolCallDelta)]
    assert OfflineModel().name == "offline"
