"""Counts the SQL statements Tortoise sends, through its `tortoise.db_client` debug log."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

_LOGGER = logging.getLogger("tortoise.db_client")
_NOT_STATEMENTS = ("Created connection pool", "Closed connection pool")


class _Counter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.statements: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if not str(record.msg).startswith(_NOT_STATEMENTS):
            self.statements.append(record.getMessage())


@contextmanager
def count_statements() -> Iterator[list[str]]:
    handler = _Counter()
    previous = _LOGGER.level
    _LOGGER.setLevel(logging.DEBUG)
    _LOGGER.addHandler(handler)
    try:
        yield handler.statements
    finally:
        _LOGGER.removeHandler(handler)
        _LOGGER.setLevel(previous)
