"""Server-sent events framing (the WHATWG `text/event-stream` format), with LF line ends only."""

from __future__ import annotations

import re

# The SSE parser ends a line at CRLF, LF or CR; each data line needs its own `data:` field.
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_KEEPALIVE = b": keep-alive\n\n"


def format_sse(event_id: str, event_type: str, data_json: str) -> bytes:
    """One event: `id:`, `event:` and one `data:` line per line of `data_json`, then a blank line.
    The id and type must be single lines (a line break there would inject fields)."""
    for name, value in (("event_id", event_id), ("event_type", event_type)):
        if _LINE_BREAK.search(value) or "\0" in value:
            raise ValueError(f"{name} must be a single line without NUL")
    lines = [f"id: {event_id}", f"event: {event_type}"]
    lines.extend(f"data: {line}" for line in _LINE_BREAK.split(data_json))
    return ("\n".join(lines) + "\n\n").encode()


def keepalive() -> bytes:
    """A comment line: keeps proxies from closing an idle stream, ignored by clients."""
    return _KEEPALIVE
