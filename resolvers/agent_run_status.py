"""What a thread's runs are doing: their status records, newest first, a page at a time.

The cursor is opaque to clients: the base64 of the last listed run's key. Keys grow with every
accepted run, so "older than the cursor" is a stable page boundary however many runs are
accepted meanwhile.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from models import AgentRun
from resolvers.agent_threads import owned_thread
from resolvers.errors import InvalidInput, NotFound
from resolvers.viewer import Viewer

DEFAULT_LIMIT, MAX_LIMIT = 20, 100
RUN_NOT_FOUND = "No run with this id on this thread."


@dataclass(frozen=True, slots=True)
class RunStatus:
    thread_id: str
    run_id: str
    status: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None
    usage: Any  # AG-UI token usage, or None when the model reported none
    cancel_requested_at: datetime | None

    @classmethod
    def of(cls, row: AgentRun) -> RunStatus:
        return cls(
            thread_id=str(row.thread_id),
            run_id=row.run_id,
            status=row.status,
            created_at=row.created_at,
            started_at=row.started_at,
            finished_at=row.finished_at,
            error=row.error,
            usage=row.usage,
            cancel_requested_at=row.cancel_requested_at,
        )


@dataclass(frozen=True, slots=True)
class RunPage:
    runs: list[RunStatus]
    next_cursor: str | None  # pass it as `cursor` for the next (older) page; None at the end


def _encode(pk: int) -> str:
    return base64.urlsafe_b64encode(str(pk).encode()).decode().rstrip("=")


def _decode(cursor: str, loc: list[str]) -> int:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        return int(base64.urlsafe_b64decode(padded.encode()).decode())
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidInput(
            "cursor is not one this server gave out.", [{"loc": loc, "msg": "invalid cursor"}]
        ) from None


def check_limit(limit: int | None, loc: list[str]) -> int:
    if limit is None:
        return DEFAULT_LIMIT
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(
            f"limit must be 1 to {MAX_LIMIT}.", [{"loc": loc, "msg": "out of range"}]
        )
    return limit


async def list_runs(
    viewer: Viewer,
    thread_id: uuid.UUID,
    *,
    limit: int | None = None,
    cursor: str | None = None,
    locs: tuple[list[str], list[str]] = (["limit"], ["cursor"]),
) -> RunPage:
    """The thread's runs, newest first: 404 unknown thread, 403 another user's."""
    thread = await owned_thread(viewer, thread_id)
    size = check_limit(limit, locs[0])
    query = AgentRun.filter(thread_id=thread.id)
    if cursor is not None:
        query = query.filter(id__lt=_decode(cursor, locs[1]))
    rows = await query.order_by("-id").limit(size + 1)
    more = len(rows) > size
    rows = rows[:size]
    return RunPage(
        runs=[RunStatus.of(r) for r in rows],
        next_cursor=_encode(rows[-1].id) if more and rows else None,
    )


async def get_run(viewer: Viewer, thread_id: uuid.UUID, run_id: str) -> RunStatus:
    thread = await owned_thread(viewer, thread_id)
    row = await AgentRun.get_or_none(thread_id=thread.id, run_id=run_id)
    if row is None:
        raise NotFound(RUN_NOT_FOUND)
    return RunStatus.of(row)
