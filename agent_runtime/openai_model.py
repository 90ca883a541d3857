"""A chat model behind any OpenAI-compatible endpoint (OpenAI, vLLM, Ollama, llama.cpp, ...).

`OpenAIChatModel` sends the conversation and the tools through the official SDK's streaming Chat
Completions call and turns each streamed delta into the runtime's chunks: `TextDelta` for text and
`ToolCallDelta` for tool calls. OpenAI sends a tool call's id and name only on its first delta,
keyed by the call's `index`; this model remembers them and repeats them on every delta it yields.

Every failure (unreachable endpoint, HTTP error, timeout, a stream that does not parse) becomes a
`ModelError` whose message is safe to show to the user: it never carries the API key, the
endpoint's URL or the endpoint's own error text (which may echo the key).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ag_ui.core import (
    AssistantMessage,
    DeveloperMessage,
    InputContentPart,
    SystemMessage,
    TextPart,
    Tool,
    ToolMessage,
    UserMessage,
)
from openai import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AsyncOpenAI,
    OpenAIError,
    omit,
)
from openai.types.chat import (
    ChatCompletionChunk,
    ChatCompletionContentPartParam,
    ChatCompletionMessageFunctionToolCallParam,
    ChatCompletionMessageParam,
    ChatCompletionToolUnionParam,
)

from agent_runtime.chat_model import (
    ModelChunk,
    ModelError,
    ModelRequest,
    ReasoningDelta,
    TextDelta,
    ToolCallDelta,
    UsageReport,
)
from observability.metrics import count_tokens

__all__ = ["OpenAIChatModel", "system_prompt", "to_openai_messages", "to_openai_tools"]

_EMPTY_PARAMETERS: dict[str, Any] = {"type": "object", "properties": {}}
_MISSING_RESULT = "No result: this tool call did not complete."
_NON_TEXT = "(The user sent content that is not text.)"
_MALFORMED = "The language model sent a response that could not be read."


class OpenAIChatModel:
    """Streams one assistant turn from an OpenAI-compatible Chat Completions endpoint."""

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None,
        api_key: str | None,
        timeout: float = 60.0,
        images: bool = True,
    ) -> None:
        self.model = model
        self.name = f"openai:{model}"
        self.images = images  # send image and document parts (False: a text note instead)
        # Local endpoints ignore the key but the SDK insists on one.
        self._client = AsyncOpenAI(
            api_key=api_key or "unused",
            base_url=base_url,
            timeout=timeout,
            max_retries=1,
        )

    async def aclose(self) -> None:
        """Close the HTTP client; the model cannot stream afterwards."""
        await self._client.close()

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelChunk]:
        messages = to_openai_messages(request, images=self.images)
        tools = to_openai_tools(request.tools)
        try:
            response = await self._client.chat.completions.create(
                model=self.model,
                messages=messages,
                tools=tools if tools else omit,
                stream=True,
                # The usage comes in a last chunk with no choices; servers that do not know the
                # option ignore it.
                stream_options={"include_usage": True},
            )
        except OpenAIError as exc:
            raise _model_error(exc) from exc

        calls = _ToolCalls()
        usage: UsageReport | None = None
        iterator = response.__aiter__()
        try:
            while True:
                try:
                    chunk = await iterator.__anext__()
                except StopAsyncIteration:
                    break
                except OpenAIError as exc:
                    raise _model_error(exc) from exc
                except ValueError as exc:  # a `data:` line that is not JSON
                    raise ModelError(_MALFORMED) from exc
                try:
                    pieces = _chunk_pieces(chunk, calls)
                    # Some servers repeat a running total on every chunk: the last one counts.
                    usage = _usage(chunk) or usage
                except (AttributeError, TypeError, ValueError) as exc:
                    raise ModelError(_MALFORMED) from exc
                for piece in pieces:
                    yield piece
            calls.check_complete()
            if usage is not None:
                # Counted once per turn: a server may repeat a running total on every chunk.
                count_tokens(self.model, usage.input_tokens, usage.output_tokens)
                yield usage
        finally:
            await response.close()


# --- the request ---------------------------------------------------------------------------------


def system_prompt(request: ModelRequest) -> str:
    """The instructions that open every request: who the assistant is and when "now" is."""
    now = _local_now(request.now, request.timezone)
    lines = [
        "You are the assistant of a calendar app. You help the user plan their time: you read,",
        "create, change, delete and share the user's schedule items, and you can look at their",
        "friends and their inbox (invitations and friend requests), using the tools you are given.",
        "Tools that change data ask the user for approval before they run; if the user declines,",
        "accept that and do not retry the same change unasked.",
        "Never invent ids: find an item's id with a listing tool first.",
        "Write dates and times as ISO 8601 with a UTC offset in tool arguments.",
        "Answer briefly, in the user's language.",
        "",
        f"The current time is {now.isoformat(timespec='minutes')} ({now:%A}).",
        f"The user's time zone is {request.timezone}; read words like 'today', 'tomorrow' or",
        "'next Friday' in that time zone.",
    ]
    context = [entry.strip() for entry in request.context if entry.strip()]
    if context:
        lines += ["", "Context from the app:"]
        lines += [f"- {entry}" for entry in context]
    return "\n".join(lines)


def to_openai_messages(
    request: ModelRequest, *, images: bool = True
) -> list[ChatCompletionMessageParam]:
    """The system prompt followed by the conversation in Chat Completions form.

    Tool results are placed right after the assistant message that made the calls (as the API
    requires), results whose call is not in the conversation are dropped, and a call without a
    result gets a stand-in result saying so. Activity and reasoning messages are left out.
    """
    results: dict[str, ToolMessage] = {}
    for message in request.messages:
        if isinstance(message, ToolMessage):
            results.setdefault(message.tool_call_id, message)

    out: list[ChatCompletionMessageParam] = [{"role": "system", "content": system_prompt(request)}]
    answered: set[str] = set()
    for message in request.messages:
        if isinstance(message, SystemMessage | DeveloperMessage):
            # `developer` is OpenAI's newer name; many compatible servers only know `system`.
            out.append({"role": "system", "content": message.content})
        elif isinstance(message, UserMessage):
            out.append({"role": "user", "content": _user_content(message.content, images)})
        elif isinstance(message, AssistantMessage):
            out.extend(_assistant(message, results, answered))
    return out


def _assistant(
    message: AssistantMessage, results: dict[str, ToolMessage], answered: set[str]
) -> list[ChatCompletionMessageParam]:
    calls: list[ChatCompletionMessageFunctionToolCallParam] = [
        {
            "id": call.id,
            "type": "function",
            "function": {"name": call.function.name, "arguments": call.function.arguments},
        }
        for call in message.tool_calls or []
        if call.id not in answered
    ]
    if not calls:
        if not message.content:
            return []  # an empty assistant message is an error on most endpoints
        return [{"role": "assistant", "content": message.content}]
    out: list[ChatCompletionMessageParam] = [
        {"role": "assistant", "content": message.content or None, "tool_calls": calls}
    ]
    for call in calls:
        answered.add(call["id"])
        result = results.get(call["id"])
        content = _MISSING_RESULT if result is None else _tool_result(result)
        out.append({"role": "tool", "tool_call_id": call["id"], "content": content})
    return out


def _user_content(
    content: str | Sequence[InputContentPart], images: bool
) -> str | list[ChatCompletionContentPartParam]:
    """Text as text; a message with image or document parts as Chat Completions content parts
    (images as `image_url` with the URL or a data URL, documents as `file`). Parts the endpoint
    cannot take (audio, video, a document behind a URL, or any part when `images` is off)
    become a short note, so the model knows the user attached something."""
    if isinstance(content, str) or all(isinstance(part, TextPart) for part in content):
        return _text(content) or _NON_TEXT
    parts: list[ChatCompletionContentPartParam] = []
    for part in content:
        if isinstance(part, TextPart):
            parts.append({"type": "text", "text": part.text})
            continue
        converted = _media_part(part) if images else None
        if converted is None:
            article = "an" if part.type[0] in "aeiou" else "a"
            note = f"(The user attached {article} {part.type} here.)"
            parts.append({"type": "text", "text": note})
        else:
            parts.append(converted)
    return parts


def _media_part(part: InputContentPart) -> ChatCompletionContentPartParam | None:
    source = part.source  # type: ignore[union-attr]  # every non-text part has one
    if source.type == "data":
        url = f"data:{source.mime_type};base64,{source.value}"
    else:
        url = source.value
    if part.type == "image" and source.type in ("data", "url"):
        return {"type": "image_url", "image_url": {"url": url}}
    if part.type == "document":
        if source.type == "file":
            return {"type": "file", "file": {"file_id": source.value}}
        if url.startswith("data:"):
            name = _filename(part.metadata) or "document"
            return {"type": "file", "file": {"file_data": url, "filename": name}}
    return None


def _filename(metadata: object) -> str | None:
    name = metadata.get("filename") if isinstance(metadata, dict) else None
    return name if isinstance(name, str) and name else None


def _tool_result(message: ToolMessage) -> str:
    text = _text(message.content)
    if message.error:
        return f"{text}\nError: {message.error}" if text else f"Error: {message.error}"
    return text


def _text(content: str | Sequence[object]) -> str:
    if isinstance(content, str):
        return content
    return "\n".join(part.text for part in content if isinstance(part, TextPart))


def to_openai_tools(tools: Sequence[Tool]) -> list[ChatCompletionToolUnionParam]:
    """AG-UI tools as Chat Completions function tools."""
    out: list[ChatCompletionToolUnionParam] = []
    for tool in tools:
        parameters = tool.parameters if isinstance(tool.parameters, dict) else _EMPTY_PARAMETERS
        out.append(
            {
                "type": "function",
                "function": {
                    "name": tool.name,
                    "description": tool.description,
                    "parameters": parameters,
                },
            }
        )
    return out


def _local_now(now: datetime, timezone: str) -> datetime:
    if now.tzinfo is None:
        return now
    try:
        return now.astimezone(ZoneInfo(timezone))
    except (ZoneInfoNotFoundError, ValueError):
        return now


# --- the response --------------------------------------------------------------------------------


@dataclass
class _Call:
    call_id: str
    generated: bool = False  # the endpoint sent no id (yet)
    name: str = ""
    pending: list[str] = field(default_factory=list)  # arguments that came before the name
    started: bool = False


class _ToolCalls:
    """The tool calls of one streamed turn, by the index the endpoint gave them."""

    def __init__(self) -> None:
        self._by_index: dict[int, _Call] = {}
        self._all: list[_Call] = []

    def delta(
        self, index: int, call_id: str | None, name: str | None, arguments: str
    ) -> list[ToolCallDelta]:
        call = self._by_index.get(index)
        if call is not None and call_id and call_id != call.call_id:
            if call.generated and not call.started:
                call.call_id, call.generated = call_id, False  # the id came late
            else:
                call = None  # an endpoint reusing index 0 for parallel calls gives new ids
        if call is None:
            call = _Call(call_id=call_id or "call_" + uuid.uuid4().hex[:24], generated=not call_id)
            self._by_index[index] = call
            self._all.append(call)
        if name and not call.name:
            call.name = name
        if not call.name:
            if arguments:
                call.pending.append(arguments)
            return []
        if call.pending:
            arguments = "".join(call.pending) + arguments
            call.pending.clear()
        if call.started and not arguments:
            return []
        call.started = True
        return [ToolCallDelta(call_id=call.call_id, name=call.name, arguments=arguments)]

    def check_complete(self) -> None:
        if any(not call.name for call in self._all):
            raise ModelError("The language model sent a tool call without a name.")


def _chunk_pieces(chunk: ChatCompletionChunk, calls: _ToolCalls) -> list[ModelChunk]:
    pieces: list[ModelChunk] = []
    for choice in chunk.choices or []:
        if getattr(choice, "index", 0) != 0:
            continue  # only the first choice makes the turn
        delta = choice.delta
        if delta is None:
            continue
        # DeepSeek and Qwen name it `reasoning_content`, vLLM and OpenRouter `reasoning`; both
        # are extra fields the SDK keeps as attributes.
        for name in ("reasoning_content", "reasoning"):
            thought = getattr(delta, name, None)
            if isinstance(thought, str) and thought:
                pieces.append(ReasoningDelta(thought))
                break
        for text in (delta.content, delta.refusal):
            if text:
                if not isinstance(text, str):
                    raise TypeError("text delta is not a string")
                pieces.append(TextDelta(text))
        for position, tool_call in enumerate(delta.tool_calls or []):
            index = getattr(tool_call, "index", None)
            function = tool_call.function
            arguments = (function.arguments if function else None) or ""
            if not isinstance(arguments, str):
                # A few servers send the arguments as a JSON object instead of text.
                arguments = json.dumps(arguments, separators=(",", ":"))
            pieces += calls.delta(
                index if isinstance(index, int) else position,
                tool_call.id or None,
                (function.name if function else None) or None,
                arguments,
            )
    return pieces


def _usage(chunk: ChatCompletionChunk) -> UsageReport | None:
    """The chunk's token counts (OpenAI's names) as a UsageReport; None when it has none."""
    usage = chunk.usage
    if usage is None:
        return None
    prompt = getattr(usage, "prompt_tokens_details", None)
    completion = getattr(usage, "completion_tokens_details", None)
    report = UsageReport(
        input_tokens=_count(usage.prompt_tokens),
        output_tokens=_count(usage.completion_tokens),
        total_tokens=_count(usage.total_tokens),
        reasoning_tokens=_count(getattr(completion, "reasoning_tokens", None)),
        cached_input_tokens=_count(getattr(prompt, "cached_tokens", None)),
    )
    return None if report == UsageReport() else report


def _count(value: object) -> int | None:
    # A count must survive every AG-UI binding (2**53 - 1, as ag_ui.core's own mappers check).
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if 0 <= value <= 2**53 - 1 else None


def _model_error(exc: OpenAIError) -> ModelError:
    """A user-safe message for an SDK error: no key, no URL, no text from the endpoint."""
    if isinstance(exc, APITimeoutError):
        return ModelError("The language model did not answer in time.")
    if isinstance(exc, APIConnectionError):
        return ModelError("The language model could not be reached.")
    if isinstance(exc, APIStatusError):
        status = exc.status_code
        if status in (401, 403):
            return ModelError(
                f"The language model refused the request (HTTP {status}): check its API key."
            )
        if status == 404:
            return ModelError("The language model was not found (HTTP 404): check the model name.")
        if status == 429:
            return ModelError("The language model is busy (HTTP 429); try again shortly.")
        return ModelError(f"The language model failed (HTTP {status}).")
    if isinstance(exc, APIError):
        return ModelError("The language model reported an error.")
    return ModelError("The language model could not answer.")
