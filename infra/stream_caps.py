"""How many long-lived streams (agent SSE streams, GraphQL subscriptions) a user holds open.

Counted per server process, in memory: what a stream costs — a connection, a task, a Redis or
in-process subscription, buffers — is spent in the process that serves it, so that is where
the cap protects. It needs no Redis round trip per stream, and a process that dies takes its
counts with it (a Redis-wide count would need leases renewed by every open stream, or a crashed
process would leave its users locked out). With `--workers N`, one user can therefore hold up
to N × `MAX_STREAMS_PER_USER` streams in total, at most `MAX_STREAMS_PER_USER` on each process.

`acquire` answers a `StreamSlot` or raises `RateLimitExceeded`; the slot must be released when
the stream ends. Releasing twice is harmless, and a slot that is dropped without being released
(a response that was never sent) releases itself when it is garbage collected.
"""

from __future__ import annotations

import uuid

from infra.rate_limits import RateLimitExceeded

# There is no window to wait for: a slot frees up when one of the user's streams ends. A few
# seconds keeps a reconnecting client from spinning.
RETRY_AFTER_S = 5


class StreamSlot:
    __slots__ = ("_caps", "_key", "released")

    def __init__(self, caps: StreamCaps, key: str) -> None:
        self._caps = caps
        self._key = key
        self.released = False

    def release(self) -> None:
        if not self.released:
            self.released = True
            self._caps._release(self._key)

    def __del__(self) -> None:
        self.release()

    def __enter__(self) -> StreamSlot:
        return self

    def __exit__(self, *_: object) -> None:
        self.release()


class StreamCaps:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._open: dict[str, int] = {}

    def open_streams(self, user_id: uuid.UUID | str) -> int:
        return self._open.get(str(user_id), 0)

    def acquire(self, user_id: uuid.UUID | str) -> StreamSlot:
        """One more open stream for the user, or `RateLimitExceeded` when they hold the cap."""
        key = str(user_id)
        count = self._open.get(key, 0)
        if count >= self.limit:
            raise RateLimitExceeded(RETRY_AFTER_S)
        self._open[key] = count + 1
        return StreamSlot(self, key)

    def _release(self, key: str) -> None:
        count = self._open.get(key, 0) - 1
        if count > 0:
            self._open[key] = count
        else:
            self._open.pop(key, None)
