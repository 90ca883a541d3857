"""What a turn answers (`TextReply`, `ToolReply`) and the fixed texts it may answer with, in
English and Chinese. Summaries of tool results are in `summaries`."""

from __future__ import annotations

from dataclasses import dataclass

from agent_runtime.offline.conversation import JsonObject
from agent_runtime.offline.language import Lang, say


@dataclass(frozen=True, slots=True)
class TextReply:
    text: str


@dataclass(frozen=True, slots=True)
class ToolReply:
    name: str
    arguments: JsonObject


Reply = TextReply | ToolReply


def help_text(lang: Lang) -> str:
    return say(
        lang,
        "I'm the offline assistant, so I understand simple requests only. Try: "
        '"schedule lunch with Ann tomorrow at 12", "what\'s on my schedule tomorrow", '
        '"team sync every Monday at 10", "conference all day tomorrow", '
        '"move lunch with Ann to 1pm", "delete lunch with Ann", '
        '"share lunch with ann@example.com", "who are my friends", "check my inbox" '
        'or "open the calendar".',
        "我是离线助手，只能理解简单的请求。可以试试：“明天中午12点和Ann吃午饭”“明天有什么安排”"
        "“每周一上午十点例会”“明天全天培训”"
        "“把午饭改到下午1点”“删除午饭”“把午饭分享给 ann@example.com”“我的好友”“收件箱”"
        "或“打开日历”。",
    )


def unavailable(lang: Lang, tool: str) -> str:
    return say(
        lang,
        f"I can't do that here: the {tool} tool isn't available in this conversation.",
        f"这里做不到：当前对话没有提供 {tool} 工具。",
    )


def cannot_see(lang: Lang) -> str:
    return say(
        lang,
        "I can't see images or read attached files; please tell me in words what you need.",
        "我看不到图片，也读不了附件；请用文字告诉我你需要什么。",
    )


def cannot_open(lang: Lang, path: str) -> str:
    return say(
        lang,
        f"I can't open pages from here; please go to {path} yourself.",
        f"这里无法帮你打开页面，请手动前往 {path}。",
    )


def ask_what_to_change(lang: Lang) -> str:
    return say(
        lang,
        'Tell me what to change, e.g. "move lunch with Ann to 1pm" or "rename lunch to brunch".',
        "请告诉我要改什么，例如“把午饭改到下午1点”或“把午饭改名为晚饭”。",
    )


def not_followed(lang: Lang) -> str:
    """The answer to input the model failed on: an apology and the help text."""
    return say(
        lang,
        "Sorry, I couldn't follow that. " + help_text("en"),
        "抱歉，我没看懂。" + help_text("zh"),
    )
