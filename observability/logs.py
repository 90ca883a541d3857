"""How every process logs: `LOG_FORMAT=text` (the default: one human line per record) or `json`
(one JSON object per line, on stderr, for a log shipper).

A JSON line has `time` (UTC, ISO 8601), `level`, `logger` and `message`, then, when known,
`request_id` (the request's `X-Request-ID`), `trace_id` and `span_id` (when tracing is on), and
`exception` (the formatted traceback). One dictConfig covers the root logger and uvicorn's, and
`serve` hands the same one to uvicorn, which applies it in each of its worker processes.
Redaction (server/log_redaction.py) is a filter on uvicorn's loggers, so it runs before any
handler, whichever the format.
"""

from __future__ import annotations

import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Literal

import orjson

from observability.tracing import current_trace_ids

LogFormat = Literal["text", "json"]
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# Set by the server's request-id middleware for the time of a request.
request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)


class LogContext(logging.Filter):
    """Adds the request id and the trace ids of the code that logged to its record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:  # or the one the caller passed
            record.request_id = request_id_var.get()
        ids = current_trace_ids()
        record.trace_id, record.span_id = ids if ids is not None else (None, None)
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for field in ("request_id", "trace_id", "span_id"):
            value = getattr(record, field, None)
            if value is not None:
                entry[field] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return orjson.dumps(entry, default=str).decode()


def json_handler() -> logging.Handler:
    """stderr, and warnings through logging too, so that every line a process writes is JSON."""
    logging.captureWarnings(True)
    return logging.StreamHandler(sys.stderr)


def logging_config(level: str, log_format: LogFormat) -> dict[str, Any]:
    """The dictConfig of a process (and of uvicorn's, which is given the same)."""
    level = level.upper()
    if log_format == "json":
        handlers: dict[str, Any] = {
            name: {"()": json_handler, "formatter": "json", "filters": ["context"]}
            for name in ("root", "uvicorn", "access")
        }
    else:
        handlers = {
            "root": {"class": "logging.StreamHandler", "formatter": "text"},
            # uvicorn's own lines as uvicorn prints them (its LOGGING_CONFIG).
            "uvicorn": {
                "class": "logging.StreamHandler",
                "formatter": "uvicorn",
                "stream": "ext://sys.stderr",
            },
            "access": {
                "class": "logging.StreamHandler",
                "formatter": "access",
                "stream": "ext://sys.stdout",
            },
        }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": LogContext}},
        "formatters": {
            "json": {"()": JsonFormatter},
            "text": {"format": TEXT_FORMAT},
            "uvicorn": {
                "()": "uvicorn.logging.DefaultFormatter",
                "fmt": "%(levelprefix)s %(message)s",
                "use_colors": None,
            },
            "access": {
                "()": "uvicorn.logging.AccessFormatter",
                "fmt": '%(levelprefix)s %(client_addr)s - "%(request_line)s" %(status_code)s',
            },
        },
        "handlers": handlers,
        "root": {"level": level, "handlers": ["root"]},
        "loggers": {
            "uvicorn": {"handlers": ["uvicorn"], "level": "INFO", "propagate": False},
            "uvicorn.error": {"level": "INFO"},
            "uvicorn.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
        },
    }


def configure_logging(level: str, log_format: LogFormat) -> None:
    import logging.config

    logging.config.dictConfig(logging_config(level, log_format))
