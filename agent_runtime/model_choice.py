"""Choosing the chat model from AGENT_MODEL: `offline` or `openai:<model>`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from agent_runtime.chat_model import ChatModel, ModelChunk, ModelRequest
from config import Settings


def build_chat_model(settings: Settings) -> ChatModel:
    model = _named_model(settings)
    if settings.agent_model_chunk_delay_s > 0:
        return PacedModel(model, settings.agent_model_chunk_delay_s)
    return model


class PacedModel:
    """Another model's answer, with a pause before each chunk."""

    def __init__(self, inner: ChatModel, delay_s: float) -> None:
        self.inner = inner
        self.delay_s = delay_s
        self.name = inner.name

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelChunk]:
        async for chunk in self.inner.stream(request):
            await asyncio.sleep(self.delay_s)
            yield chunk

    async def aclose(self) -> None:
        close = getattr(self.inner, "aclose", None)
        if close is not None:
            await close()


def _named_model(settings: Settings) -> ChatModel:
    name = settings.agent_model.strip()
    if name == "offline":
        from agent_runtime.offline.model import OfflineModel

        return OfflineModel()
    if name.startswith("openai:") and len(name) > len("openai:"):
        from agent_runtime.openai_model import OpenAIChatModel

        key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
        return OpenAIChatModel(
            name.removeprefix("openai:"),
            base_url=settings.openai_base_url,
            api_key=key,
            images=settings.agent_model_images,
        )
    raise ValueError(f"AGENT_MODEL must be 'offline' or 'openai:<model>', not {name!r}")
