"""Choosing the chat model from AGENT_MODEL: `offline` or `openai:<model>`."""

from __future__ import annotations

from agent_runtime.chat_model import ChatModel
from config import Settings


def build_chat_model(settings: Settings) -> ChatModel:
    name = settings.agent_model.strip()
    if name == "offline":
        from agent_runtime.offline_model import OfflineModel

        return OfflineModel()
    if name.startswith("openai:") and len(name) > len("openai:"):
        from agent_runtime.openai_model import OpenAIChatModel

        key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
        return OpenAIChatModel(
            name.removeprefix("openai:"), base_url=settings.openai_base_url, api_key=key
        )
    raise ValueError(f"AGENT_MODEL must be 'offline' or 'openai:<model>', not {name!r}")
