"""Keeps access tokens out of the server's log.

A browser's `EventSource` cannot send an Authorization header, so the agent SSE route also takes
the token as `?access_token=` — and uvicorn logs every request line with its query string. This
filter replaces the value of `access_token` in any query string it finds in uvicorn's records.
"""

from __future__ import annotations

import logging
from urllib.parse import unquote_plus

TOKEN_PARAMETER = "access_token"
REDACTED = "[redacted]"
_LOGGERS = ("uvicorn.access", "uvicorn.error")  # request lines; websocket handshake lines


def redact_query(text: str) -> str:
    """`text` with the value of every `access_token` query parameter replaced."""
    path, sep, query = text.partition("?")
    if not sep:
        return text
    pairs = []
    for pair in query.split("&"):
        key, eq, _ = pair.partition("=")
        # Starlette decodes `access%5Ftoken` to the same parameter: compare decoded keys.
        pairs.append(f"{key}={REDACTED}" if eq and unquote_plus(key) == TOKEN_PARAMETER else pair)
    return f"{path}?{'&'.join(pairs)}"


class RedactTokens(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                redact_query(arg) if isinstance(arg, str) and "?" in arg else arg
                for arg in record.args
            )
        elif isinstance(record.msg, str) and "?" in record.msg:
            record.msg = redact_query(record.msg)
        return True


def install_log_redaction() -> None:
    """Idempotent: every app built in a process shares uvicorn's loggers."""
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(RedactTokens())
