"""Checks on the image and document parts of a run's user messages (AG-UI 1.0 content parts).

A part's source is inline data (`{"type": "data", "value": <base64>, "mimeType": ...}`), a URL
(`{"type": "url", "value": "https://..." | "data:..."}`) or a provider's file id. Inline data must
be base64 and at most `AGENT_MAX_ATTACHMENT_BYTES` once decoded (a `data:` URL counts the same);
an image's inline data must say an `image/*` type. Otherwise 422 naming the part.
"""

from __future__ import annotations

import base64
import binascii

from ag_ui.core import RunAgentInput, UserMessage

from resolvers.errors import InvalidInput

_MAX_URL = 8192  # an http(s) URL is a reference, not content: a long one is a mistake


def check_parts(run_input: RunAgentInput, max_bytes: int) -> None:
    """422 when a user message's image or document part is malformed or too large."""
    for index, message in enumerate(run_input.messages):
        if not isinstance(message, UserMessage) or isinstance(message.content, str):
            continue
        for position, part in enumerate(message.content):
            if part.type == "text":
                continue
            loc = ["body", "messages", index, "content", position, "source"]
            problem = _problem(
                part.type, part.source.type, part.source.value, part.source.mime_type, max_bytes
            )
            if problem is not None:
                raise InvalidInput(
                    f"A {part.type} part of message {message.id!r} {problem}.",
                    [{"loc": loc, "msg": problem}],
                )


def _problem(
    kind: str, source: str, value: str, mime_type: str | None, max_bytes: int
) -> str | None:
    if source == "data":
        if kind == "image" and not (mime_type or "").startswith("image/"):
            return "has inline data whose mimeType is not image/*"
        return _data_problem(value, max_bytes)
    if source == "url":
        if value.startswith("data:"):
            header, comma, data = value.partition(",")
            if not comma or not header.endswith(";base64"):
                return "has a data: URL that is not base64"
            if kind == "image" and not header.removeprefix("data:").startswith("image/"):
                return "has a data: URL whose type is not image/*"
            return _data_problem(data, max_bytes)
        if not value.lower().startswith(("https://", "http://")) or len(value) > _MAX_URL:
            return f"needs an http(s) URL of at most {_MAX_URL} characters or a data: URL"
    return None  # a provider's file id: passed on as it is


def _data_problem(value: str, max_bytes: int) -> str | None:
    # Reject by length before decoding: 4 base64 characters are 3 bytes.
    if len(value) // 4 * 3 > max_bytes + 2:
        return f"is larger than {max_bytes} bytes"
    try:
        decoded = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return "has inline data that is not base64"
    if len(decoded) > max_bytes:
        return f"is larger than {max_bytes} bytes"
    return None
