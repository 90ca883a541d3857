"""Keeps credentials that travel in URLs out of the server's log (and traces).

A browser's `EventSource` cannot send an Authorization header, so the agent SSE route also takes
the token as `?access_token=`; a calendar app polls a secret feed URL,
`/api/v1/calendar/feeds/<token>.ics`, whose path is the credential. uvicorn logs every request
line with its path and query string. This filter replaces the value of `access_token` in any
query string, and the token of any feed path, in uvicorn's records; `redacted_attributes`
does the same for trace spans.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote_plus

TOKEN_PARAMETER = "access_token"
REDACTED = "[redacted]"
_LOGGERS = ("uvicorn.access", "uvicorn.error")  # request lines; websocket handshake lines
FEED_SEGMENT = "/calendar/feeds/"
# The segment after /calendar/feeds/ that ends in .ics (percent-encoded dot included): a feed
# token. Feed ids (DELETE /calendar/feeds/{id}) carry no .ics and stay readable.
_FEED_TOKEN = re.compile(
    r"(/calendar/feeds/)[^/?#\s\"{}]+?((?:\.|%2[eE])[iI][cC][sS])(?=[?#\s\"]|$)"
)


def _redact_feed_paths(text: str) -> str:
    if FEED_SEGMENT not in text:
        return text
    return _FEED_TOKEN.sub(rf"\1{REDACTED}\2", text)


def redact_query(text: str) -> str:
    """`text` with the value of every `access_token` query parameter replaced, and the token
    of every calendar feed path."""
    text = _redact_feed_paths(text)
    path, sep, query = text.partition("?")
    if not sep:
        return text
    pairs = []
    for pair in query.split("&"):
        key, eq, _ = pair.partition("=")
        # Starlette decodes `access%5Ftoken` to the same parameter: compare decoded keys.
        pairs.append(f"{key}={REDACTED}" if eq and unquote_plus(key) == TOKEN_PARAMETER else pair)
    return f"{path}?{'&'.join(pairs)}"


def needs_redaction(text: str) -> bool:
    return "?" in text or FEED_SEGMENT in text


_QUERY_ONLY = ("url.query",)  # a trace's query attribute, without its "?"


def redacted_attributes(attributes: Mapping[str, Any]) -> dict[str, str]:
    """The attributes of a trace span that carry a credential (a URL, a path, a query), with
    it redacted; the others are left out (server/http_tracing.py sets these)."""
    changed: dict[str, str] = {}
    for key, value in attributes.items():
        if not isinstance(value, str):
            continue
        if key in _QUERY_ONLY:
            if TOKEN_PARAMETER in unquote_plus(value):
                changed[key] = redact_query(f"?{value}")[1:]
        elif needs_redaction(value) and (redacted := redact_query(value)) != value:
            changed[key] = redacted
    return changed


class RedactTokens(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                redact_query(arg) if isinstance(arg, str) and needs_redaction(arg) else arg
                for arg in record.args
            )
        elif isinstance(record.msg, str) and needs_redaction(record.msg):
            record.msg = redact_query(record.msg)
        return True


def install_log_redaction() -> None:
    """Idempotent: every app built in a process shares uvicorn's loggers."""
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(RedactTokens())
